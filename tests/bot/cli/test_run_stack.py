"""README's "Deploying at scale", run as written: Redis, `frontdoor run rasa`,
`frontdoor run actions` and `frontdoor run gateway` as separate processes on
free ports, each given only its documented environment (no supervisor), and a
web chat customer answered from the knowledge base through all of them. Then,
with that gateway stopped, a second gateway whose FRONTDOOR_RASA_URLS holds a
dead replica that comes first for this customer still answers them. Every
process starts at once and one Rasa process serves every check (a Rasa start
is ~30 s on 2 cores)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.gateway.rasa_client import replica_order
from core.settings import PROJECT_ROOT
from tests.bot.gateway.test_stack import Chat
from tests.conftest import empty_database, free_port

pytestmark = pytest.mark.stack

DB = 4  # this test's own Redis database (the session stack lives in db 0, unit tests in 1)
RASA_TOKEN = "run-stack-rasa-token-0123456789"
ACTIONS_TOKEN = "run-stack-actions-token-0123456789"
SESSION_SECRET = "run-stack-session-secret-0123456789abcdef"
STAFF_SECRET = "run-stack-staff-secret-0123456789abcdefgh"


class Process:
    """`frontdoor run <name>` with exactly the given environment (plus PATH and HOME)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], health_url: str,
                 log_dir: Path) -> None:
        self.name, self.health_url = name, health_url
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli.main", "run", *args], cwd=PROJECT_ROOT,
                env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.proc.returncode}):\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.health_url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"{self.name} not healthy in time:\n{self.log()}")

    def command_line(self) -> str:
        """What `ps` shows of the process."""
        return Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def terminate(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped(time.monotonic() + 20)


@pytest.fixture
async def redis(redis_server):
    """This test's database, emptied before and after (after the processes stop)."""
    async with empty_database(redis_server, DB) as client:
        yield client


@pytest.fixture
def run(redis, tmp_path):
    started: list[Process] = []

    def start(name: str, args: list[str], env: dict[str, str], health_url: str) -> Process:
        process = Process(name, args, env, health_url, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:  # all at once: each may wait for its open connections
        process.terminate()
    deadline = time.monotonic() + 20
    for process in started:
        process.wait_stopped(deadline)


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


async def ask(gateway_port: int, token: str, text: str, client_id: str) -> dict:
    """A web chat customer's question and the bot's reply. The client id is the
    message's id (the router drops a repeated one)."""
    chat = await Chat.open(SimpleNamespace(host="127.0.0.1", port=gateway_port), token)
    try:
        await chat.socket.send(json.dumps({"type": "message", "text": text,
                                           "client_id": client_id}))
        return await chat.bot_reply(timeout=60)
    finally:
        await chat.close()


async def test_every_process_on_its_own_answers_a_customer_and_survives_a_dead_rasa_replica(
        redis_server, redis, run, tmp_path):
    redis_url = f"{redis_server}/{DB}"
    rasa_port, actions_port, gateway_port = free_port(), free_port(), free_port()
    # A web chat visitor whose customer exists already (as after a first message),
    # so a dead Rasa replica that comes first in their order can be chosen now.
    token = SessionSigner(SESSION_SECRET, 3600).new_token()
    visitor = SessionSigner(SESSION_SECRET, 3600).visitor(token)
    customer = await IdentityStore(redis).resolve("web", visitor, None)
    dead = url(free_port())  # nothing listens there
    while replica_order(customer, [dead, url(rasa_port)])[0] != dead:
        dead = url(free_port())
    # The environments README's "Deploying at scale" lists, and nothing else.
    actions = run("actions", ["actions", "--port", str(actions_port)], {
        "FRONTDOOR_REDIS_URL": redis_url, "FRONTDOOR_ACTIONS_TOKEN": ACTIONS_TOKEN,
    }, f"{url(actions_port)}/health")
    rasa = run("rasa", ["rasa", "--port", str(rasa_port)], {
        "FRONTDOOR_REDIS_URL": redis_url, "FRONTDOOR_RASA_TOKEN": RASA_TOKEN,
        "FRONTDOOR_ACTIONS_TOKEN": ACTIONS_TOKEN,
        "FRONTDOOR_ACTION_SERVER_URL": url(actions_port),
        "FRONTDOOR_VAR_DIR": str(tmp_path / "rasa-var"),
    }, f"{url(rasa_port)}/")

    def gateway_env(rasa_urls: list[str]) -> dict[str, str]:
        return {
            "FRONTDOOR_REDIS_URL": redis_url, "FRONTDOOR_RASA_TOKEN": RASA_TOKEN,
            "FRONTDOOR_RASA_URLS": json.dumps(rasa_urls),
            "FRONTDOOR_ACTION_SERVER_URL": url(actions_port),
            "FRONTDOOR_SESSION_SECRET": SESSION_SECRET, "FRONTDOOR_STAFF_SECRET": STAFF_SECRET,
            "FRONTDOOR_VAR_DIR": str(tmp_path / "gateway-var"),
        }

    gateway = run("gateway", ["gateway", "--port", str(gateway_port)],
                  gateway_env([url(rasa_port)]), f"{url(gateway_port)}/healthz")
    failover_port = free_port()
    failover = run("gateway-failover", ["gateway", "--port", str(failover_port)],
                   gateway_env([dead, url(rasa_port)]), f"{url(failover_port)}/healthz")
    deadline = time.monotonic() + 180
    for process in (actions, gateway, failover, rasa):
        process.wait_healthy(deadline)
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{url(gateway_port)}/healthz")).json()
        assert health == {"status": "ok", "redis": True, "rasa": True, "actions": True}

        # Only Rasa may call the action server: it sends the token from endpoints.yml.
        webhook = f"{url(actions_port)}/webhook"
        assert (await http.post(webhook, json={})).status_code == 401
        assert (await http.post(webhook, params={"token": "x" * 30}, json={})).status_code == 401
        listed = await http.get(f"{url(actions_port)}/actions", params={"token": ACTIONS_TOKEN})
        assert listed.status_code == 200 and "action_answer_from_knowledge" in listed.text
    assert ACTIONS_TOKEN not in (tmp_path / "rasa-var" / "run" / "endpoints.yml").read_text()
    assert "rasa_run.py run" in rasa.command_line()  # `frontdoor run` became the process
    for process in (rasa, actions, gateway):
        command_line = process.command_line()
        assert RASA_TOKEN not in command_line and ACTIONS_TOKEN not in command_line

    # gateway -> Rasa -> action server (knowledge, from Redis) -> gateway (either
    # gateway's router may take the turn: they share the consumer group)
    reply = await ask(gateway_port, token, "can I pay with PayPal?", "m1")
    assert reply["article"]["id"] == "payment-methods" and "PayPal" in reply["text"]

    # Now only the gateway that tries the dead Rasa replica first for this customer.
    gateway.stop()
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{url(failover_port)}/healthz")).json()["rasa"] is True
    reply = await ask(failover_port, token, "can I pay with PayPal?", "m2")
    assert reply["article"]["id"] == "payment-methods" and "PayPal" in reply["text"]
