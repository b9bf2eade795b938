"""`frontdoor up` keeps the stack running: a process that dies is started again
after a backoff while the others run on untouched, one that cannot stay up is
given up on and reported `failed`, and stopping stops everything, a process
waiting to be restarted included. Real processes (cheap HTTP servers, the real
Redis child), no Rasa; small backoffs so each test takes a second or two."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import redis as redis_sync

from bot.infra.children import ChildStatus, read_status, state_file
from bot.infra.supervisor import Child, RestartPolicy, Stack, base_env, model_path, plan
from core.settings import Settings
from tests.conftest import free_port

CHEAP_CHILD = Path(__file__).with_name("cheap_child.py")


def settings_for(tmp_path: Path, **overrides) -> Settings:
    values = dict(var_dir=tmp_path / "var", supervisor_backoff_s=0.05,
                  supervisor_backoff_max_s=0.2, supervisor_max_restarts_per_minute=3)
    return Settings(**{**values, **overrides})


def cheap_child(name: str, tmp_path: Path, *options: str) -> Child:
    port = free_port()
    return Child(name, [sys.executable, str(CHEAP_CHILD), str(port), *options], base_env(),
                 f"http://127.0.0.1:{port}/", tmp_path / "log" / f"{name}.log", port,
                 timeout_s=10)


class Said:
    """What the supervisor printed: the terminal of `frontdoor up`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.alerts: list[str] = []


@contextlib.contextmanager
def supervised(settings: Settings, waves: list[list[Child]],
               said: Said | None = None) -> Iterator[Stack]:
    """Start the stack, supervise it in a thread (as `frontdoor up` does in its
    main thread), stop it at the end."""
    said = said or Said()
    stack = Stack(settings, echo=said.lines.append, alert=said.alerts.append,
                  planner=lambda _settings: waves)
    stack.start()
    watching = threading.Thread(target=stack.supervise, kwargs={"poll_s": 0.05}, daemon=True)
    watching.start()
    try:
        yield stack
    finally:
        stack.stop(timeout_s=5)
        watching.join(10)
        assert not watching.is_alive()


def children(settings: Settings) -> dict[str, ChildStatus]:
    return {c.name: c for c in read_status(state_file(settings)) or ()}


def wait_for(condition: Callable[[], object], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def answers(child: Child) -> bool:
    assert child.health_url is not None
    try:
        return httpx.get(child.health_url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_child_comes_back_healthy_and_the_others_are_untouched(tmp_path):
    settings = settings_for(tmp_path)
    web, other = cheap_child("web", tmp_path), cheap_child("other", tmp_path)
    said = Said()
    with supervised(settings, [[web], [other]], said):
        before = children(settings)
        assert {c.state for c in before.values()} == {"running"}

        os.kill(before["web"].pid, signal.SIGKILL)  # type: ignore[arg-type]

        wait_for(lambda: children(settings)["web"].state == "running"
                 and children(settings)["web"].restarts == 1)
        after = children(settings)
        assert after["web"].pid != before["web"].pid and after["web"].last_exit_code == -9
        assert answers(web)
        assert after["other"] == before["other"]  # same pid, never restarted
        assert alive(before["other"].pid) and answers(other)  # type: ignore[arg-type]
        assert any("web exited with code -9; restarting it in 0.05s" in line
                   for line in said.lines)
        assert not said.alerts


def test_the_local_redis_comes_back_with_its_data(tmp_path):
    """Redis restarts on the same data directory: what was written before the
    crash is still there (the append-only file)."""
    settings = settings_for(tmp_path, redis_port=free_port(), models_dir=tmp_path / "models")
    model_path(settings).parent.mkdir()
    model_path(settings).touch()  # plan() names the model; Rasa is not started here

    def redis_only(s: Settings) -> list[list[Child]]:
        return [[child for wave in plan(s) for child in wave if child.name == "redis"]]

    with supervised(settings, redis_only(settings)):
        client = redis_sync.Redis(port=settings.redis_port)
        client.set("survives", "yes")
        # written to the append-only file (not only in Redis' buffer) before the kill
        wait_for(lambda: client.info("persistence")["aof_buffer_length"] == 0)
        os.kill(children(settings)["redis"].pid, signal.SIGKILL)  # type: ignore[arg-type]

        wait_for(lambda: children(settings)["redis"].restarts == 1
                 and children(settings)["redis"].state == "running")
        assert client.get("survives") == b"yes"
        client.close()


def test_a_child_that_keeps_dying_is_given_up_and_the_rest_keeps_running(tmp_path):
    settings = settings_for(tmp_path)  # at most 3 restarts a minute
    flaky = cheap_child("flaky", tmp_path, "--only-once", str(tmp_path / "started-once"))
    steady = cheap_child("steady", tmp_path)
    said = Said()
    with supervised(settings, [[flaky, steady]], said) as stack:
        steady_before = children(settings)["steady"]
        os.kill(children(settings)["flaky"].pid, signal.SIGKILL)  # type: ignore[arg-type]

        wait_for(lambda: children(settings)["flaky"].state == "failed" and said.alerts)
        failed = children(settings)["flaky"]
        assert failed.restarts == 3 and failed.last_exit_code == 3
        assert not alive(failed.pid)  # type: ignore[arg-type]
        assert len(said.alerts) == 1
        assert "FAILED" in said.alerts[0] and "flaky is given up on" in said.alerts[0]
        assert "refusing to start again" in said.alerts[0]  # its last log lines
        # Given up for good: later passes of the supervisor leave it down.
        passes_later = time.monotonic() + 0.5
        wait_for(lambda: time.monotonic() > passes_later)
        assert children(settings)["flaky"].restarts == 3
        assert stack.status()["flaky"].state == "failed"
        assert children(settings)["steady"] == steady_before and answers(steady)


def test_a_restarted_child_that_never_becomes_healthy_is_killed_and_counted(tmp_path):
    settings = settings_for(tmp_path, supervisor_max_restarts_per_minute=2)
    hung = cheap_child("hung", tmp_path, "--only-once", str(tmp_path / "started-once"),
                       "--then", "hang")
    hung.timeout_s = 0.5  # its start timeout, after each restart too
    with supervised(settings, [[hung]]):
        os.kill(children(settings)["hung"].pid, signal.SIGKILL)  # type: ignore[arg-type]
        wait_for(lambda: children(settings)["hung"].restarts == 1)
        restarted = children(settings)["hung"].pid
        assert children(settings)["hung"].state == "restarting"

        wait_for(lambda: children(settings)["hung"].state == "failed")
        # killed at its start timeout each time (SIGKILL), not waited for forever
        assert children(settings)["hung"].restarts == 2
        assert children(settings)["hung"].last_exit_code == -9
        assert not alive(restarted)  # type: ignore[arg-type]


def test_stop_stops_everything_including_a_child_waiting_to_restart(tmp_path):
    settings = settings_for(tmp_path, supervisor_backoff_s=30, supervisor_backoff_max_s=30)
    web, other = cheap_child("web", tmp_path), cheap_child("other", tmp_path)
    with supervised(settings, [[web, other]]) as stack:
        pids = {name: c.pid for name, c in children(settings).items()}
        os.kill(pids["web"], signal.SIGKILL)  # type: ignore[arg-type]
        wait_for(lambda: children(settings)["web"].state == "restarting")

        started = time.monotonic()
        stack.stop(timeout_s=5)
        assert time.monotonic() - started < 5  # no wait for the 30 s backoff

    assert {c.state for c in children(settings).values()} == {"stopped"}
    assert not any(alive(pid) for pid in pids.values())  # type: ignore[arg-type]
    assert not answers(web) and not answers(other)  # nothing started again after the stop


def test_the_restart_delay_doubles_up_to_its_maximum():
    policy = RestartPolicy(backoff_s=1, backoff_max_s=30, max_per_minute=100)
    assert [policy.next_delay(streak, [], now=0) for streak in range(7)] == [
        1, 2, 4, 8, 16, 30, 30]
    assert policy.next_delay(10_000, [], now=0) == 30  # no overflow after days of crashes


def test_past_the_restarts_a_minute_a_child_is_given_up():
    policy = RestartPolicy(backoff_s=1, backoff_max_s=30, max_per_minute=5)
    assert policy.next_delay(4, [100, 101, 103, 107], now=115) == 16
    assert policy.next_delay(5, [100, 101, 103, 107, 115], now=131) is None
    # restarts older than a minute do not count
    assert policy.next_delay(5, [50, 101, 103, 107, 115], now=131) == 30


def test_a_child_up_long_enough_starts_its_backoff_over(tmp_path):
    """After stable_s up, the next crash waits backoff_s again, not the doubled delay."""
    settings = settings_for(tmp_path, supervisor_backoff_s=0.05, supervisor_backoff_max_s=5,
                            supervisor_max_restarts_per_minute=10, supervisor_stable_s=0.3)
    web = cheap_child("web", tmp_path)
    said = Said()
    with supervised(settings, [[web]], said):
        for restarts in (1, 2):
            os.kill(children(settings)["web"].pid, signal.SIGKILL)  # type: ignore[arg-type]
            wait_for(lambda n=restarts: children(settings)["web"].restarts == n  # type: ignore[misc]
                     and children(settings)["web"].state == "running")
            up_since = children(settings)["web"].since
            wait_for(lambda s=up_since: time.time() - s > 0.4)  # up past stable_s (0.3 s)
    delays = [line.split("restarting it in ")[1].split("s ")[0] for line in said.lines
              if "restarting it in" in line]
    assert delays == ["0.05", "0.05"]
