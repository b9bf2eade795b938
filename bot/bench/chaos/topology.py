"""The chaos bench's private topology: every process real, on free loopback
ports, under one temporary var dir, each one killable (SIGKILL) and restartable
on the same port with the same data.

    Redis master + replica (+ three Sentinels, once FRONTDOOR_REDIS_URL takes
    redis+sentinel:// URLs), Rasa (one replica by default), two action servers,
    two gateways, the platform sandbox, and a webhook receiver.

Two small in-process TCP balancers stand where a load balancer stands in a
deployment: one in front of the gateways (what the platforms and the agent
reach: FRONTDOOR_PUBLIC_URL) and one in front of the action servers (Rasa's
action endpoint, which takes a single URL). Web chat customers connect to a
gateway directly, as a sticky WebSocket behind a balancer would, and move to
the other one themselves when theirs dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as redis_sync
from pydantic import SecretStr

from bot.bench.chaos.receiver import SECRET_ENV
from bot.infra.processes import actions_argv, gateway_argv, rasa_argv, sandbox_argv
from bot.infra.redis_cluster_procs import LocalCluster, start_local_cluster
from bot.infra.redis_procs import RedisProcess, free_port, start_redis, start_sentinels
from bot.infra.supervisor import (
    LaunchError,
    actions_env,
    base_env,
    current_model,
    gateway_env,
    rasa_env,
    sandbox_env,
    tail,
    write_rasa_endpoints,
)
from core.redis import text_client
from core.redis_cluster import cluster_text_client
from core.settings import PROJECT_ROOT, HandoffSettings, Settings, with_sandboxes

log = logging.getLogger(__name__)
SENTINEL_MASTER = "mymaster"
WEBHOOK_SECRET = "chaos-bench-webhook-secret-0123456789"


def redis_ping(port: int) -> bool:
    try:
        return bool(redis_sync.Redis(port=port, socket_connect_timeout=1,
                                     socket_timeout=1).ping())
    except redis_sync.RedisError:
        return False


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    return check


@dataclass
class Proc:
    """One child process: started, killed and restarted with the same argv, port
    and data directory, so a restart is the same server coming back."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    healthy: Callable[[], bool] = field(repr=False)
    log_path: Path
    port: int
    timeout_s: float = 180.0
    proc: subprocess.Popen | None = field(default=None, repr=False)
    restarts: int = 0

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(self.argv, cwd=PROJECT_ROOT, env=self.env,
                                         stdout=log_file, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def check(self) -> bool:
        """Healthy now? LaunchError with the log's tail if it has exited."""
        assert self.proc is not None  # spawned
        if self.proc.poll() is not None:
            raise LaunchError(f"{self.name} exited with code {self.proc.returncode}; "
                              f"last lines of {self.log_path}:\n{tail(self.log_path)}")
        return self.healthy()

    def wait_healthy(self) -> float:
        """Seconds until healthy; LaunchError if it dies or times out."""
        return wait_all([self])[self.name]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive and self.proc else None

    def kill(self) -> None:
        """SIGKILL the whole process group (Rasa's python may have children) and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> float:
        """Start again on the same port; seconds until healthy."""
        self.restarts += 1
        self.spawn()
        return self.wait_healthy()

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self.alive:
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_all(procs: list[Proc]) -> dict[str, float]:
    """Seconds until each of `procs` (started together) is healthy."""
    started = time.monotonic()
    waiting, ready = list(procs), {}
    while waiting:
        for proc in list(waiting):
            if proc.check():
                ready[proc.name] = time.monotonic() - started
                waiting.remove(proc)
            elif time.monotonic() - started > proc.timeout_s:
                raise LaunchError(f"{proc.name} not healthy after {proc.timeout_s:.0f}s; "
                                  f"last lines of {proc.log_path}:\n{tail(proc.log_path)}")
        time.sleep(0.1)
    return ready


# -- Redis: real servers from bot/infra/redis_procs.py -------------------------

class RedisNode:
    """A redis-server or Sentinel (bot/infra/redis_procs.RedisProcess) with the
    same handles as Proc, so faults and the soak treat it like any process."""

    def __init__(self, name: str, port: int, first_start: Callable[[], RedisProcess]) -> None:
        self.name, self.port = name, port
        self._first_start = first_start
        self.server: RedisProcess | None = None
        self.restarts = 0

    @classmethod
    def running(cls, name: str, server: RedisProcess) -> RedisNode:
        """A node for a server already started (the Sentinels start together)."""
        node = cls(name, server.port, lambda: server)
        node.server = server
        return node

    def spawn(self) -> None:
        self.server = self._first_start() if self.server is None else self.server.start()

    def check(self) -> bool:
        return self.alive and redis_ping(self.port)

    @property
    def alive(self) -> bool:
        return self.server is not None and self.server.alive

    @property
    def pid(self) -> int | None:
        return self.server.proc.pid if self.alive and self.server and self.server.proc else None

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()

    def restart(self, replica_of: int | None = None) -> float:
        """Start again on the same port and data; as a master, or as a replica of
        127.0.0.1:replica_of. Its first start's role is not kept: after a failover
        a replica may have become the master (under Sentinel a server's role is
        Sentinel's to set, never a stale command line's)."""
        started = time.monotonic()
        self.restarts += 1
        if self.server is not None:
            argv = self.server.argv
            if "--replicaof" in argv:
                at = argv.index("--replicaof")
                del argv[at:at + 3]
            if replica_of is not None:
                argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.spawn()
        return time.monotonic() - started

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.server is not None:
            self.server.stop(timeout_s)


# -- balancers -------------------------------------------------------------------

class Balancer:
    """A TCP balancer in a thread of its own: each connection goes to the next
    backend in turn, skipping one that refuses the connection (as a load
    balancer's health check would take a dead replica out)."""

    def __init__(self, name: str, backends: list[int]) -> None:
        self.name, self.backends = name, backends
        self.port = free_port()
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"balancer-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            # the connections still open end here, not as "destroyed but pending"
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


# -- the topology ------------------------------------------------------------------

@dataclass
class Options:
    gateways: int = 2
    action_servers: int = 2
    rasa_replicas: int = 1
    sentinels: bool = False  # three Sentinels, and the processes on a redis+sentinel URL


class Topology:
    """With `cluster` (a running LocalCluster, `--cluster`): the gateways and
    action servers keep their data in the cluster, and the master + replica
    hold only Rasa's tracker and lock store (FRONTDOOR_RASA_REDIS_URL)."""

    def __init__(self, var_dir: Path, options: Options,
                 echo: Callable[[str], None] = print,
                 cluster: LocalCluster | None = None) -> None:
        self.var, self.options, self._echo = var_dir, options, echo
        self.cluster = cluster
        logs = var_dir / "log"
        redis_dir = var_dir / "redis"
        self.redis_master = RedisNode("redis-master", free_port(), lambda: start_redis(
            self.redis_master.port, redis_dir / "master", appendonly=True))
        self.redis_replica = RedisNode("redis-replica", free_port(), lambda: start_redis(
            self.redis_replica.port, redis_dir / "replica", self.redis_master.port,
            appendonly=True))
        self._sentinel_ports = [free_port() for _ in range(3)] if options.sentinels else []
        self.sentinels: list[RedisNode] = []
        # Rasa 3.6's tracker store takes one plain server: with Sentinels it gets
        # a Redis of its own (which the failover fault leaves alone)
        self.redis_rasa = (RedisNode("redis-rasa", free_port(), lambda: start_redis(
            self.redis_rasa.port, redis_dir / "rasa", appendonly=True))
            if options.sentinels else self.redis_master)
        self.receiver = Proc("webhook-receiver", [], {}, lambda: False, logs / "receiver.log",
                             free_port(), timeout_s=30)
        self.deliveries_path = var_dir / "webhook-deliveries.jsonl"
        gateway_ports = [free_port() for _ in range(options.gateways)]
        action_ports = [free_port() for _ in range(options.action_servers)]
        rasa_ports = [free_port() for _ in range(options.rasa_replicas)]
        self.gateway_balancer = Balancer("gateways", gateway_ports)
        self.actions_balancer = Balancer("actions", action_ports)
        if options.sentinels:
            hosts = ",".join(f"127.0.0.1:{port}" for port in self._sentinel_ports)
            redis_url = f"redis+sentinel://{hosts}/{SENTINEL_MASTER}/0"
        else:
            redis_url = f"redis://127.0.0.1:{self.redis_master.port}/0"
        rasa_redis = f"redis://127.0.0.1:{self.redis_rasa.port}/0"
        where: dict[str, Any] = {"redis_url": redis_url}
        if cluster is not None:
            nodes = ",".join(f"{host}:{port}" for host, port in cluster.nodes)
            where = {"redis_url": f"redis+cluster://{nodes}"}
        if cluster is not None or options.sentinels:
            where["rasa_redis_url"] = rasa_redis
        handoff = HandoffSettings(
            webhook_urls=[f"http://127.0.0.1:{self.receiver.port}/hook"],
            webhook_secret=SecretStr(WEBHOOK_SECRET))
        self.settings = with_sandboxes(Settings(
            **where, var_dir=var_dir, port=gateway_ports[0],
            public_url=self.gateway_balancer.url, sandbox_port=free_port(),
            rasa_port=rasa_ports[0], rasa_urls=[f"http://127.0.0.1:{p}" for p in rasa_ports],
            action_server_url=self.actions_balancer.url, handoff=handoff,
            # the bench's customers all come from 127.0.0.1 and are no flood
            rate_limit_per_10s=1_000_000, webchat_sessions_per_address=1_000_000,
            webchat_connects_per_address=1_000_000, webchat_messages_per_address=1_000_000))
        python = sys.executable
        s = self.settings
        local = "127.0.0.1"
        self.receiver.argv = [python, "-m", "bot.bench.chaos.receiver", "--port",
                              str(self.receiver.port), "--out", str(self.deliveries_path)]
        self.receiver.env = {**base_env(), SECRET_ENV: WEBHOOK_SECRET}
        self.receiver.healthy = http_ok(f"http://127.0.0.1:{self.receiver.port}/healthz")
        rasa_endpoints = write_rasa_endpoints(s)  # Rasa's own Redis when set apart
        self.rasa = [Proc(f"rasa-{i}", rasa_argv(current_model(s), rasa_endpoints, local, port),
                          rasa_env(s), http_ok(f"http://{local}:{port}/"),
                          logs / f"rasa-{i}.log", port, timeout_s=300)
                     for i, port in enumerate(rasa_ports)]
        self.actions = [Proc(f"actions-{i}", actions_argv(local, port),
                             actions_env(s), http_ok(f"http://{local}:{port}/health"),
                             logs / f"actions-{i}.log", port, timeout_s=240)
                        for i, port in enumerate(action_ports)]
        # Each gateway its own FRONTDOOR_PORT: its stream consumer name is host and
        # port, so two gateways given one port would read each other's pending work.
        self.gateways = [Proc(f"gateway-{i}", gateway_argv(s, local, port),
                              gateway_env(s.model_copy(update={"port": port})),
                              http_ok(f"http://{local}:{port}/healthz"),
                              logs / f"gateway-{i}.log", port, timeout_s=120)
                         for i, port in enumerate(gateway_ports)]
        self.sandbox = Proc("sandbox", sandbox_argv(local, s.sandbox_port),
                            sandbox_env(s), http_ok(f"http://{local}:{s.sandbox_port}/healthz"),
                            logs / "sandbox.log", s.sandbox_port, timeout_s=60)
        self.startup_s: dict[str, float] = {}

    @property
    def redis_nodes(self) -> list[RedisNode]:
        extra = [self.redis_rasa] if self.redis_rasa is not self.redis_master else []
        return [self.redis_master, self.redis_replica, *extra, *self.sentinels]

    @property
    def waves(self) -> list[list[Proc]]:
        """The processes after Redis, started wave by wave."""
        return [[self.receiver], [*self.rasa, *self.actions, *self.gateways, self.sandbox]]

    @property
    def procs(self) -> list[Proc | RedisNode]:
        return [*self.redis_nodes, *(p for wave in self.waves for p in wave)]

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{g.port}" for g in self.gateways]

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.sandbox_port}"

    @property
    def redis_url(self) -> str:
        """The master's plain URL (Rasa's only, with a cluster)."""
        return f"redis://127.0.0.1:{self.redis_master.port}/0"

    def data_client(self) -> Any:
        """An asyncio text client of where the gateways keep their data, for the
        bench's own reads and writes (staff, webhook stream, key counts)."""
        if self.cluster is not None:
            return cluster_text_client(self.cluster.nodes)
        return text_client(self.redis_url)

    def start(self) -> None:
        self.gateway_balancer.start()
        self.actions_balancer.start()
        try:
            started = time.monotonic()
            self.redis_master.spawn()
            self.redis_replica.spawn()  # returns once in sync with the master
            if self.redis_rasa is not self.redis_master:
                self.redis_rasa.spawn()
            if self._sentinel_ports:
                servers = start_sentinels(self._sentinel_ports, self.var / "sentinels",
                                          master_port=self.redis_master.port,
                                          service=SENTINEL_MASTER, replicas=1)
                for i, server in enumerate(servers):
                    self.sentinels.append(RedisNode.running(f"sentinel-{i}", server))
            self.startup_s["redis"] = round(time.monotonic() - started, 1)
            self._echo(f"  {'redis':<16} ready after {self.startup_s['redis']:.1f}s "
                       f"({len(self.redis_nodes)} servers)")
            for wave in self.waves:
                for proc in wave:
                    proc.spawn()
                for name, seconds in wait_all(wave).items():
                    self.startup_s[name] = round(seconds, 1)
                    self._echo(f"  {name:<16} ready after {seconds:.1f}s")
            self.wait_replica_synced()
        except BaseException:
            self.stop()
            raise

    def wait_replica_synced(self, timeout_s: float = 30) -> None:
        client = redis_sync.Redis(port=self.redis_replica.port, decode_responses=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(redis_sync.RedisError):
                if client.info("replication").get("master_link_status") == "up":
                    return
            time.sleep(0.2)
        raise LaunchError("the Redis replica did not sync with its master")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if self.cluster is not None:
            self.cluster.stop()
        self.gateway_balancer.stop()
        self.actions_balancer.stop()

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory of each live process and its children, from /proc."""
        out = {}
        for proc in self.procs:
            if proc.pid is not None:
                out[proc.name] = _tree_rss(proc.pid)
        if self.cluster is not None:
            for port, node in self.cluster.processes.items():
                if node.poll() is None:
                    out[f"cluster-{port}"] = _tree_rss(node.pid)
        return out


@contextlib.contextmanager
def running_topology(what: str, options: Options, *, cluster: bool = False,
                     echo: Callable[[str], None] = print,
                     keep_logs: Path | None = None) -> Iterator[Topology]:
    """A private topology in a temporary directory, started, and stopped however
    the block ends; with `cluster`, its data on a local six-node Redis Cluster.
    `keep_logs`: where the processes' logs are copied once they have stopped."""
    with tempfile.TemporaryDirectory(prefix=f"frontdoor-{what}-") as tmp:
        topo = Topology(Path(tmp), options, echo=echo,
                        cluster=start_local_cluster(Path(tmp) / "cluster", 3, 1)
                        if cluster else None)
        echo(f"Starting the {what} topology (logs in {tmp}/log)…")
        started = time.monotonic()
        topo.start()
        echo(f"Up after {time.monotonic() - started:.0f}s")
        try:
            yield topo
        finally:
            with contextlib.suppress(Exception):
                topo.stop()
            if keep_logs is not None:  # to look into what was lost, after the run
                shutil.copytree(Path(tmp) / "log", keep_logs, dirs_exist_ok=True)


def _tree_rss(pid: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError, ValueError):
            continue
        pids.extend(int(c) for c in children)
    return total
