"""Real redis-server and Sentinel processes on loopback ports, for the tests and
the chaos benchmark: a master, its replicas and the Sentinels that watch them,
each killed (SIGKILL) and restarted on the same port as a fault would.

    master = start_redis(free_port(), tmp / "m")
    replica = start_redis(free_port(), tmp / "r", replica_of=master.port)
    sentinels = start_sentinels([free_port() for _ in range(3)], tmp / "s",
                                master_port=master.port, service="mymaster")
    url = sentinel_url(sentinels, "mymaster")      # redis+sentinel://...
    master.kill(); wait_for_master(sentinels, "mymaster", replica.port)
    ...
    stop_all([*sentinels, replica, master])

Everything blocks (subprocess, the sync redis client) and waits on conditions
with a deadline, never on a fixed sleep."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisProcessError(Exception):
    """A redis-server or Sentinel did not start, or a condition was not met in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               every_s: float = 0.05) -> None:
    """Poll `condition` until it holds; raise RedisProcessError naming `what` after
    `timeout_s`. Errors of the condition count as 'not yet'."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RedisProcessError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)


@dataclass
class RedisProcess:
    """One redis-server (a plain server, a replica or a Sentinel) on 127.0.0.1:port.
    `argv` starts it again on the same port and directory after a kill."""

    port: int
    workdir: Path
    argv: list[str]
    sentinel: bool = False
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self, **kwargs) -> redis.Redis:
        """A plain blocking client of this process (short timeouts: for checks)."""
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2,
                           decode_responses=True, **kwargs)

    def start(self, timeout_s: float = 10) -> RedisProcess:
        if self.alive:
            return self
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        with self.client() as client:
            try:
                wait_until(lambda: bool(client.ping()), timeout_s,
                           f"redis-server on port {self.port} to answer")
            except RedisProcessError:
                self.stop()
                raise RedisProcessError(
                    f"redis-server on port {self.port} did not start; "
                    f"see {self.workdir / 'server.log'}") from None
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown save, clients see the connection drop."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout_s: float = 10) -> RedisProcess:
        """Kill (if running) and start again on the same port and directory."""
        self.kill()
        return self.start(timeout_s)

    def stop(self, timeout_s: float = 10) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        self.proc = None

    def role(self) -> str:
        """'master', 'slave' or 'sentinel' (ROLE's first field)."""
        with self.client() as client:
            return str(client.execute_command("ROLE")[0])


def start_redis(port: int, workdir: Path, replica_of: int | None = None,
                *extra: str, appendonly: bool = False, password: str | None = None,
                timeout_s: float = 10) -> RedisProcess:
    """A redis-server on 127.0.0.1:port keeping its files in `workdir`; with
    `replica_of`, a replica of the master on 127.0.0.1:replica_of, returned once
    its replication link is up. `extra`: more `--option value` arguments."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "yes" if appendonly else "no",
            "--protected-mode", "no",
            # a replica syncs at once instead of after the default 5 s batching delay
            "--repl-diskless-sync-delay", "0"]
    if password:
        argv += ["--requirepass", password, "--masterauth", password]
    if replica_of is not None:
        argv += ["--replicaof", "127.0.0.1", str(replica_of)]
    process = RedisProcess(port, workdir, [*argv, *extra]).start(timeout_s)
    if replica_of is not None:
        auth = {"password": password} if password else {}
        with process.client(**auth) as client:
            wait_until(lambda: client.info("replication").get("master_link_status") == "up",
                       timeout_s, f"replica {port} to sync with {replica_of}")
    return process


def start_sentinels(ports: Iterable[int], workdir: Path, *, master_port: int,
                    service: str = "mymaster", quorum: int | None = None,
                    down_after_ms: int = 1000, failover_timeout_ms: int = 3000,
                    master_password: str | None = None, replicas: int = 0,
                    timeout_s: float = 15) -> list[RedisProcess]:
    """Sentinels (`redis-server <conf> --sentinel`) watching the master on
    127.0.0.1:master_port as `service`, returned once each one knows the master,
    the other Sentinels and `replicas` replicas, so that a failover can start at
    once. Quorum: a majority unless given."""
    ports = list(ports)
    quorum = quorum or len(ports) // 2 + 1
    sentinels = []
    for port in ports:
        home = workdir / f"sentinel-{port}"
        home.mkdir(parents=True, exist_ok=True)
        conf = home / "sentinel.conf"  # Sentinel rewrites its own config file
        lines = [f"port {port}", "bind 127.0.0.1", "protected-mode no", f"dir {home}",
                 f"sentinel monitor {service} 127.0.0.1 {master_port} {quorum}",
                 f"sentinel down-after-milliseconds {service} {down_after_ms}",
                 f"sentinel failover-timeout {service} {failover_timeout_ms}",
                 f"sentinel parallel-syncs {service} 1"]
        if master_password:
            lines.append(f"sentinel auth-pass {service} {master_password}")
        conf.write_text("\n".join(lines) + "\n")
        sentinels.append(RedisProcess(port, home, [REDIS_SERVER, str(conf), "--sentinel"],
                                      sentinel=True))
    try:
        for sentinel in sentinels:
            sentinel.start(timeout_s)
        for sentinel in sentinels:
            with sentinel.client() as client:
                def ready(client: redis.Redis = client) -> bool:
                    state = client.sentinel_master(service)
                    return (int(state["num-other-sentinels"]) >= len(ports) - 1
                            and int(state["num-slaves"]) >= replicas)
                wait_until(ready, timeout_s, f"sentinel {sentinel.port} to see "
                           f"{len(ports) - 1} other sentinels and {replicas} replicas")
    except BaseException:
        stop_all(sentinels)
        raise
    return sentinels


def master_address(sentinels: Iterable[RedisProcess], service: str) -> tuple[str, int] | None:
    """The master the first answering Sentinel names (None: none answers)."""
    for sentinel in sentinels:
        if not sentinel.alive:
            continue
        with contextlib.suppress(redis.RedisError), sentinel.client() as client:
            host, port = client.sentinel_get_master_addr_by_name(service)
            return str(host), int(port)
    return None


def wait_for_master(sentinels: list[RedisProcess], service: str, port: int,
                    timeout_s: float = 15) -> None:
    """Wait until every live Sentinel names 127.0.0.1:port as the master and that
    server says it is one (after a failover: the promoted replica)."""
    def promoted() -> bool:
        for sentinel in sentinels:
            if sentinel.alive:
                with sentinel.client() as client:
                    _, named = client.sentinel_get_master_addr_by_name(service)
                    if int(named) != port:
                        return False
        with redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=2) as server:
            return server.execute_command("ROLE")[0] in (b"master", "master")
    wait_until(promoted, timeout_s, f"the sentinels to promote port {port}", every_s=0.1)


def sentinel_url(sentinels: Iterable[RedisProcess], service: str, db: int = 0,
                 password: str | None = None) -> str:
    """The FRONTDOOR_REDIS_URL of these Sentinels (docs/architecture.md#redis)."""
    hosts = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
    auth = f":{password}@" if password else ""
    return f"redis+sentinel://{auth}{hosts}/{service}/{db}"


def stop_all(processes: Iterable[RedisProcess]) -> None:
    for process in processes:
        process.stop()
