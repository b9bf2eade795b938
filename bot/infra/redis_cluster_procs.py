"""A local Redis Cluster made of plain `redis-server` processes on free loopback
ports: for the cluster tests (3 primaries) and the chaos benchmark (3 primaries
+ 3 replicas, where single nodes are killed and restarted).

    with running_cluster(tmp_dir, n_primaries=3, replicas=1) as cluster:
        client = cluster_text_client(cluster.nodes)
        cluster.kill(cluster.primaries()[0])   # a replica takes over

`start_cluster(base_dir)` returns `(nodes, stop)` for callers that want no
object. Every node keeps its files in `base_dir/<port>/`; nothing is persisted
across a stop (no RDB, no AOF), but a killed node restarted with `restart`
rejoins with its `nodes.conf`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_sync

log = logging.getLogger(__name__)

# Redis Cluster's bus listens on the client port + 10000.
BUS_OFFSET = 10000
SLOTS = 16384


class ClusterStartError(Exception):
    """The cluster did not form (the message names the node and its log tail)."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_ports(count: int, taken: set[int] | None = None) -> list[int]:
    """`count` free ports whose bus port (+10000) is free as well."""
    ports: list[int] = []
    taken = set(taken or ())
    for _ in range(count * 200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if (port + BUS_OFFSET > 65535 or port in taken or port in ports
                or not _port_free(port + BUS_OFFSET)):
            continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise ClusterStartError(f"could not find {count} free port pairs for a cluster")


@dataclass
class LocalCluster:
    """Running cluster nodes; `nodes` are (host, port) of every node, primaries first
    as created (replicas may be promoted later: ask `primaries()`)."""

    base_dir: Path
    ports: list[int]
    node_timeout_ms: int = 2000
    redis_server: str = field(default_factory=lambda: shutil.which("redis-server")
                              or "redis-server")
    processes: dict[int, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.ports]

    def log_path(self, port: int) -> Path:
        return self.base_dir / str(port) / "redis.log"

    def start_node(self, port: int) -> None:
        workdir = self.base_dir / str(port)
        workdir.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [self.redis_server, "--port", str(port), "--bind", "127.0.0.1",
             "--dir", str(workdir), "--save", "", "--appendonly", "no",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms),
             "--logfile", str(self.log_path(port))],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def client(self, port: int) -> redis_sync.Redis:
        """A plain (non-cluster) client of one node, for checks and CLUSTER commands."""
        return redis_sync.Redis(port=port, decode_responses=True, socket_timeout=2,
                                socket_connect_timeout=1)

    def wait_ping(self, port: int, deadline_s: float = 10) -> None:
        end = time.monotonic() + deadline_s
        with self.client(port) as node:
            while True:
                proc = self.processes.get(port)
                if proc is not None and proc.poll() is not None:
                    raise ClusterStartError(f"redis-server on {port} exited:\n"
                                            f"{self._tail(port)}")
                with contextlib.suppress(redis_sync.ConnectionError):
                    if node.ping():
                        return
                if time.monotonic() > end:
                    raise ClusterStartError(f"redis-server on {port} did not answer")
                time.sleep(0.05)

    def wait_ok(self, deadline_s: float = 30, ports: list[int] | None = None) -> None:
        """Until every live node (or `ports`) says cluster_state:ok, knows every node
        and sees all slots assigned."""
        end = time.monotonic() + deadline_s
        ports = ports or [p for p in self.ports if self.alive(p)]
        while True:
            pending = [p for p in ports if not self._ok(p)]
            if not pending:
                return
            if time.monotonic() > end:
                raise ClusterStartError(f"cluster not ok on {pending} within {deadline_s}s")
            time.sleep(0.1)

    def _ok(self, port: int) -> bool:
        try:
            with self.client(port) as node:
                info = node.cluster("INFO")
        except redis_sync.RedisError:
            return False
        if isinstance(info, str):  # older clients hand back the raw text
            info = dict(line.split(":", 1) for line in info.split() if ":" in line)
        return (info.get("cluster_state") == "ok"
                and int(info.get("cluster_known_nodes", 0)) == len(self.ports)
                and int(info.get("cluster_slots_assigned", 0)) == SLOTS)

    def primaries(self) -> list[int]:
        """Ports of the nodes that are primaries now (asked of a live node)."""
        for port in self.ports:
            if not self.alive(port):
                continue
            try:
                with self.client(port) as node:
                    text = node.execute_command("CLUSTER NODES")
            except redis_sync.RedisError:
                continue
            if isinstance(text, dict):  # parsed by redis-py: "host:port" -> flags
                return sorted(int(addr.rsplit(":", 1)[1].split("@")[0])
                              for addr, n in text.items()
                              if "master" in n["flags"] and "fail" not in n["flags"])
            found = []
            for line in str(text).splitlines():
                parts = line.split()
                if "master" in parts[2] and "fail" not in parts[2]:
                    found.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
            return sorted(found)
        raise ClusterStartError("no live node to ask")

    def alive(self, port: int) -> bool:
        proc = self.processes.get(port)
        return proc is not None and proc.poll() is None

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crash: no shutdown, no save)."""
        proc = self.processes[port]
        proc.kill()
        proc.wait(10)

    def restart(self, port: int) -> None:
        """Start a killed node again; it rejoins with its nodes.conf."""
        self.start_node(port)
        self.wait_ping(port)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for port, proc in self.processes.items():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                log.warning("redis-server on %s did not stop; killing it", port)
                proc.kill()
                proc.wait(10)

    def _tail(self, port: int, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path(port).read_text(errors="replace")
                             .splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def start_local_cluster(base_dir: Path, n_primaries: int = 3, replicas: int = 0,
                        node_timeout_ms: int = 2000, deadline_s: float = 30) -> LocalCluster:
    """Start n_primaries * (1 + replicas) nodes, create the cluster and wait until
    every node says it is ok. On failure everything started is stopped."""
    if n_primaries < 3:
        raise ValueError("redis-cli --cluster create needs at least 3 primaries")
    count = n_primaries * (1 + replicas)
    cluster = LocalCluster(Path(base_dir), cluster_ports(count), node_timeout_ms)
    try:
        for port in cluster.ports:
            cluster.start_node(port)
        for port in cluster.ports:
            cluster.wait_ping(port)
        cli = shutil.which("redis-cli") or "redis-cli"
        create = subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in cluster.ports],
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=deadline_s)
        if create.returncode != 0:
            raise ClusterStartError(f"redis-cli --cluster create failed:\n{create.stdout}"
                                    f"\n{create.stderr}")
        cluster.wait_ok(deadline_s)
        if replicas:
            _wait_replicas_synced(cluster, deadline_s)
    except BaseException:
        cluster.stop()
        raise
    log.info("redis cluster up on %s", cluster.ports)
    return cluster


def _wait_replicas_synced(cluster: LocalCluster, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    for port in cluster.ports:
        with cluster.client(port) as node:
            while True:
                info = node.info("replication")
                if info.get("role") == "master" or info.get("master_link_status") == "up":
                    break
                if time.monotonic() > end:
                    raise ClusterStartError(f"replica {port} did not sync")
                time.sleep(0.1)


def start_cluster(base_dir: Path, n_primaries: int = 3, replicas: int = 0
                  ) -> tuple[list[tuple[str, int]], Callable[[], None]]:
    """The cluster's nodes and the function that stops it."""
    cluster = start_local_cluster(base_dir, n_primaries, replicas)
    return cluster.nodes, cluster.stop


@contextlib.contextmanager
def running_cluster(base_dir: Path, n_primaries: int = 3, replicas: int = 0,
                    node_timeout_ms: int = 2000) -> Iterator[LocalCluster]:
    cluster = start_local_cluster(base_dir, n_primaries, replicas, node_timeout_ms)
    try:
        yield cluster
    finally:
        cluster.stop()
