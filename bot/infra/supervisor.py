"""Start, watch and stop Front Door's processes: Redis, Rasa, the action server,
the gateway and, for the demo, the platform sandboxes (docs/architecture.md#processes).
A process that exits is started again after a backoff, the others keep running
(`Stack.supervise`, `RestartPolicy`); each one's state is in a small JSON file
(bot/infra/children.py) the gateway reports at /healthz and /metrics.

The CLI (`frontdoor up`), the test session and the benchmarks all use this, so
the way the product runs is the way it is tested."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bot.infra.children import ChildState, ChildStatus, state_file, write_status
from bot.infra.processes import actions_argv, gateway_argv, rasa_argv, sandbox_argv
from bot.rasa_store.endpoints import rasa_python_path, rasa_redis_secrets, rasa_redis_stores
from core.settings import PROJECT_ROOT, Settings, environment, variables
from core.sizing import Machine, rasa_processes

log = logging.getLogger(__name__)

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
# Rasa reads the action server's token from its environment when it loads
# endpoints.yml (Rasa's ${VAR} interpolation), so no file holds it.
ACTIONS_TOKEN_VARIABLE = "FRONTDOOR_ACTIONS_TOKEN"


class LaunchError(Exception):
    """A process failed to start or died; the message carries its last log lines."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)  # only what this process needs
    health_url: str | None
    log_path: Path
    port: int
    timeout_s: float = 180.0
    proc: subprocess.Popen | None = field(default=None, repr=False)


def tail(path: Path, lines: int = 25) -> str:
    try:
        with path.open(errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except FileNotFoundError:
        return "(no log)"


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def session_secret(settings: Settings) -> str:
    """FRONTDOOR_SESSION_SECRET, or one generated once and kept under var/ so web
    chat sessions survive restarts of the local demo."""
    if "session_secret" in settings.model_fields_set:
        return settings.session_secret.get_secret_value()
    path = settings.var_dir / "session_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def write_rasa_endpoints(settings: Settings) -> Path:
    """endpoints.yml for this run: our action server (its token sent by Rasa as the
    `token` query parameter, read from the environment), our Redis for the tracker
    and lock store (bot/rasa_store/endpoints.py; its password stays in Rasa's
    environment)."""
    config = {
        "action_endpoint": {"url": f"{settings.actions_url}/webhook",
                            "token": f"${{{ACTIONS_TOKEN_VARIABLE}}}",
                            # our actions never read the domain: Rasa need not
                            # send all of it with every action call
                            "enable_selective_domain": True},
        **rasa_redis_stores(settings.effective_rasa_redis_url),
    }
    path = settings.var_dir / "run" / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def training_fingerprint() -> str:
    """What the model is trained from: config, domain, training data and the
    pinned Rasa environment. The model file is named after it, so an unchanged
    project is never retrained (Rasa 3.6 itself writes a new model every time)."""
    digest = hashlib.sha256()
    files = [PROJECT_ROOT / "config.yml", PROJECT_ROOT / "domain.yml",
             PROJECT_ROOT / "requirements-rasa.lock",
             *sorted((PROJECT_ROOT / "data").rglob("*.yml"))]
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(settings: Settings) -> Path:
    return settings.models_dir / f"frontdoor-{training_fingerprint()}.tar.gz"


def current_model(settings: Settings) -> Path:
    path = model_path(settings)
    if not path.exists():
        raise LaunchError(f"no model trained from the current project ({path.name}): "
                          "run `frontdoor train` first")
    return path


def base_env() -> dict[str, str]:
    """What every child inherits: the launcher's environment without any
    FRONTDOOR_* variable (each child gets its own selection of those, below),
    plus quiet defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


# Each process gets the settings it reads and no one else's secrets
# (docs/security.md): the gateway all of them; Rasa its API token and the action
# server's token (its Redis is in endpoints.yml); the action server its token,
# Redis, handoff and knowledge;
# the sandbox, which plays the platforms, the channel credentials and where
# the gateway is.
SANDBOX_SETTINGS = ("FRONTDOOR_HOST", "FRONTDOOR_PORT", "FRONTDOOR_PUBLIC_URL",
                    "FRONTDOOR_SANDBOX_PORT", "FRONTDOOR_SANDBOXES")
# The action server escalates (which only enqueues ticket events when webhook
# URLs are set); the gateway signs and sends them, so only it has the secret.
ACTIONS_WITHOUT = ("FRONTDOOR_HANDOFF_WEBHOOK_SECRET",)


def gateway_env(settings: Settings) -> dict[str, str]:
    """Every setting, so the gateway builds the same Settings the launcher has."""
    return {**base_env(), **environment(settings),
            "FRONTDOOR_REDIS_URL": settings.effective_redis_url,
            "FRONTDOOR_SESSION_SECRET": session_secret(settings),
            # where the supervisor reports its children (/healthz, /metrics)
            "FRONTDOOR_SUPERVISOR_STATE": str(state_file(settings))}


def rasa_env(settings: Settings) -> dict[str, str]:
    """The API token, read by rasa_run.py (never on the command line), and the
    action server's token and the Redis passwords endpoints.yml names as
    ${VARIABLE}; PYTHONPATH finds our Sentinel stores."""
    env = base_env()
    return {**env, "FRONTDOOR_RASA_TOKEN": settings.rasa_token.get_secret_value(),
            ACTIONS_TOKEN_VARIABLE: settings.actions_token.get_secret_value(),
            **rasa_redis_secrets(settings.effective_rasa_redis_url),
            "PYTHONPATH": rasa_python_path(env),
            # Rasa's per-conversation lock (RedisLockStore) lasts this long (Rasa's
            # default: 60 s): a lock left by a crash holds its conversation no longer
            # than the gateway waits for a turn. Not shorter: a waiting ticket that
            # expires within a second of the one ahead of it is never served.
            "TICKET_LOCK_LIFETIME": str(max(1, math.ceil(settings.rasa_timeout_s)))}


def actions_env(settings: Settings) -> dict[str, str]:
    handoff = {k: v for k, v in variables(settings.handoff).items() if k not in ACTIONS_WITHOUT}
    # not used by the actions, but their settings refuse a Cluster URL without it
    rasa_redis = ({"FRONTDOOR_RASA_REDIS_URL": settings.rasa_redis_url}
                  if settings.rasa_redis_url else {})
    return {**base_env(), "FRONTDOOR_REDIS_URL": settings.effective_redis_url, **rasa_redis,
            ACTIONS_TOKEN_VARIABLE: settings.actions_token.get_secret_value(),
            **handoff, **variables(settings.knowledge)}


def sandbox_env(settings: Settings) -> dict[str, str]:
    """The channel credentials the sandbox checks and signs with, and the
    gateway's address it delivers to."""
    top = {k: v for k, v in variables(settings).items() if k in SANDBOX_SETTINGS}
    return {**base_env(), **top, **variables(settings.channels)}


def plan(settings: Settings) -> list[list[Child]]:
    """Waves of children: each wave starts together once the previous one is healthy.
    Redis, Rasa and the action server run elsewhere when their URLs are set
    (FRONTDOOR_REDIS_URL, FRONTDOOR_RASA_URLS, FRONTDOOR_ACTION_SERVER_URL)."""
    logs = settings.var_dir / "log"
    waves: list[list[Child]] = []
    if settings.redis_url is None:
        redis_dir = settings.var_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        waves.append([Child(
            "redis",
            [shutil.which("redis-server") or "redis-server", "--port", str(settings.redis_port),
             "--bind", "127.0.0.1", "--dir", str(redis_dir), "--appendonly", "yes",
             "--save", "", "--protected-mode", "yes"],
            base_env(), None, logs / "redis.log", settings.redis_port, timeout_s=20)])
    local = "127.0.0.1"
    servers: list[Child] = []
    if not settings.rasa_urls:
        # Several Rasa processes share the tracker and lock store; the gateway
        # keeps each customer on one (settings.rasa_replicas, rasa_client.py).
        endpoints = write_rasa_endpoints(settings)
        for i, url in enumerate(settings.rasa_replicas):
            port, name = settings.rasa_port + i, "rasa" if i == 0 else f"rasa-{i + 1}"
            servers.append(Child(
                name, rasa_argv(current_model(settings), endpoints, local, port),
                rasa_env(settings), f"{url}/", logs / f"{name}.log", port, timeout_s=300))
    if settings.action_server_url is None:
        servers.append(Child(
            "actions", actions_argv(local, settings.actions_port),
            actions_env(settings), settings.actions_url + "/health", logs / "actions.log",
            settings.actions_port, timeout_s=180))
    servers.append(Child(
        "gateway", gateway_argv(settings, settings.host, settings.port),
        gateway_env(settings), f"http://{settings.host}:{settings.port}/healthz",
        logs / "gateway.log", settings.port, timeout_s=60))
    waves.append(servers)
    if settings.sandboxes:
        waves[-1].append(Child(
            "sandbox", sandbox_argv("127.0.0.1", settings.sandbox_port),
            sandbox_env(settings), f"http://127.0.0.1:{settings.sandbox_port}/healthz",
            logs / "sandbox.log", settings.sandbox_port, timeout_s=60))
    return waves


def sized(settings: Settings, echo: Callable[[str], object] = print) -> Settings:
    """The settings with the number of Rasa processes fixed (chosen once for the
    machine unless set, core/sizing.py), so the launcher and the gateway agree;
    says what was chosen."""
    if settings.rasa_urls:
        return settings
    if settings.rasa_processes:
        echo(f"Rasa: {settings.rasa_processes} process(es) (FRONTDOOR_RASA_PROCESSES)")
        return settings
    machine = Machine.this()
    count = rasa_processes(machine)
    echo(f"Rasa: {count} process(es), chosen for {machine.cores} cores and "
         f"{machine.available_bytes / 1024 ** 3:.1f} GB available "
         "(FRONTDOOR_RASA_PROCESSES sets it)")
    return settings.model_copy(update={"rasa_processes": count})


@dataclass(frozen=True)
class RestartPolicy:
    """When to start a process that exited again: after backoff_s, doubling with
    each further crash up to backoff_max_s; the doubling starts over once the
    process has stayed up stable_s. A process restarted max_per_minute times in
    the last minute is given up: one that cannot stay up is reported, not
    restarted forever."""

    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_per_minute: int = 5
    stable_s: float = 60.0
    window_s: float = 60.0  # "per minute"

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        return cls(backoff_s=settings.supervisor_backoff_s,
                   backoff_max_s=settings.supervisor_backoff_max_s,
                   max_per_minute=settings.supervisor_max_restarts_per_minute,
                   stable_s=settings.supervisor_stable_s)

    def recent(self, restart_times: Sequence[float], now: float) -> int:
        return sum(1 for t in restart_times if now - t < self.window_s)

    def next_delay(self, streak: int, restart_times: Sequence[float], now: float
                   ) -> float | None:
        """Seconds to wait before the next restart, or None: give up. `streak`:
        restarts since the process last stayed up stable_s; `restart_times`: when
        it was restarted (time.monotonic)."""
        if self.recent(restart_times, now) >= self.max_per_minute:
            return None
        return min(self.backoff_s * 2 ** min(streak, 32), self.backoff_max_s)


@dataclass
class _Run:
    """What the supervisor knows about one child (times from time.monotonic,
    except `since`, which is reported)."""

    state: ChildState = "starting"
    since: float = field(default_factory=time.time)
    restarts: int = 0
    last_exit_code: int | None = None
    restart_times: list[float] = field(default_factory=list)
    streak: int = 0  # restarts since it last stayed up stable_s
    up_at: float = 0.0  # became healthy
    due: float | None = None  # waiting in backoff until then
    deadline: float = 0.0  # a restarted process must be healthy by then


class Stack:
    """The processes of one `frontdoor up` (or test session, or benchmark).
    `planner` makes the waves of children (tests give cheap ones)."""

    def __init__(self, settings: Settings, echo: Callable[[str], object] = print,
                 alert: Callable[[str], object] | None = None,
                 planner: Callable[[Settings], list[list[Child]]] = plan) -> None:
        self.settings = settings = sized(settings, echo)
        self.children: list[Child] = []
        self.policy = RestartPolicy.from_settings(settings)
        self.state_path = state_file(settings)
        self._echo = echo
        self._alert = alert or echo  # a child given up on: said loudly
        self._plan = planner
        self._runs: dict[str, _Run] = {}
        # supervise() and stop() may run in different threads: stop() waits for
        # the current pass, and no child is started again after it.
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        try:
            for wave in self._plan(self.settings):
                for child in wave:
                    self._spawn(child)
                for child in wave:
                    self._wait_healthy(child)
                    self._set(child, "running")
                    self._echo(f"  {child.name:<8} ready")
        except BaseException:
            self.stop()
            raise

    def _spawn(self, child: Child) -> None:
        if port_in_use(child.port):
            raise LaunchError(f"port {child.port} for {child.name} is already in use; stop what "
                              f"runs there or choose another port (FRONTDOOR_*_PORT)")
        self._launch(child)
        self.children.append(child)
        self._runs[child.name] = _Run()
        self._write_state()

    def _launch(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as log:  # the child keeps its own copy
            child.proc = subprocess.Popen(child.argv, cwd=PROJECT_ROOT, env=child.env,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait_healthy(self, child: Child) -> None:
        deadline = time.monotonic() + child.timeout_s
        assert child.proc is not None  # started by _spawn
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise LaunchError(f"{child.name} exited with code {child.proc.returncode}; "
                                  f"last lines of {child.log_path}:\n{tail(child.log_path)}")
            if self._healthy(child):
                return
            time.sleep(0.3)
        raise LaunchError(f"{child.name} not healthy after {child.timeout_s:.0f}s; "
                          f"last lines of {child.log_path}:\n{tail(child.log_path)}")

    def _healthy(self, child: Child) -> bool:
        if child.health_url is None:  # redis
            import redis

            try:
                return bool(redis.Redis(port=self.settings.redis_port,
                                        socket_connect_timeout=1).ping())
            except redis.RedisError:
                return False
        try:
            return httpx.get(child.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # Supervision: one loop, one pass over the children every poll_s, so a child
    # waiting in backoff or starting again never holds up the others' watch.

    def supervise(self, stop: threading.Event | None = None, poll_s: float = 0.5) -> None:
        """Watch the children until `stop` is set or stop() is called (or every
        child has been given up on): a child that exits is started again after
        the policy's backoff; the others keep running untouched."""
        stop = stop or threading.Event()
        while not (stop.is_set() or self._stopping.is_set()):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self.children:
                    self._check(child)
                if self.children and all(self._runs[c.name].state == "failed"
                                         for c in self.children):
                    return
            stop.wait(poll_s)

    def kill(self, name: str) -> Child:
        """SIGKILL one child and what it started (a crash on purpose: tests)."""
        child = next(c for c in self.children if c.name == name)
        self._kill_group(child)
        return child

    def start_again(self, name: str) -> None:
        """Start a killed child again, as a restart, and wait until it is healthy
        (for a stack that is not supervised: tests)."""
        with self._lock:
            child = next(c for c in self.children if c.name == name)
            self._runs[name].restarts += 1
            self._launch(child)
            self._wait_healthy(child)
            self._set(child, "running")

    def status(self) -> dict[str, ChildStatus]:
        return {child.name: self._status(child) for child in self.children}

    def _check(self, child: Child) -> None:
        run = self._runs[child.name]
        assert child.proc is not None  # every child in self.children was started
        now = time.monotonic()
        if run.state == "running":
            code = child.proc.poll()
            if code is not None:
                self._crashed(child, code, f"{child.name} exited with code {code}")
        elif run.state == "restarting":
            if run.due is not None:  # in backoff
                if now >= run.due:
                    self._restart(child)
                return
            code = child.proc.poll()
            if code is not None:
                self._crashed(child, code,
                              f"{child.name} exited with code {code} while starting again")
            elif self._healthy(child):
                self._set(child, "running")
                self._echo(f"  {child.name:<8} is back (restart {run.restarts})")
            elif now >= run.deadline:
                self._kill_group(child)
                self._crashed(child, child.proc.returncode,
                              f"{child.name} not healthy {child.timeout_s:.0f}s after its restart")

    def _crashed(self, child: Child, code: int | None, what: str) -> None:
        run = self._runs[child.name]
        run.last_exit_code = code
        self._kill_group(child)  # what it started dies with it, and its port is free
        now = time.monotonic()
        if run.state == "running" and now - run.up_at >= self.policy.stable_s:
            run.streak = 0  # it had stayed up: wait backoff_s again, not the doubled delay
        delay = self.policy.next_delay(run.streak, run.restart_times, now)
        last_lines = f"last lines of {child.log_path}:\n{tail(child.log_path, 15)}"
        if delay is None:
            run.due = None
            self._set(child, "failed")
            recent = self.policy.recent(run.restart_times, now)
            self._alert(f"!! {what}. FAILED: restarted {recent} times in the last minute, "
                        f"{child.name} is given up on and stays down; "
                        f"the other processes keep running. Fix it, then restart "
                        f"`frontdoor up`. {last_lines}")
            return
        run.due = now + delay
        run.streak += 1
        self._set(child, "restarting")
        self._echo(f"{what}; restarting it in {delay:g}s (restart {run.restarts + 1}). "
                   f"{last_lines}")

    def _restart(self, child: Child) -> None:
        run = self._runs[child.name]
        now = time.monotonic()
        run.due = None
        run.restarts += 1
        run.restart_times = [t for t in run.restart_times if now - t < self.policy.window_s]
        run.restart_times.append(now)
        run.deadline = now + child.timeout_s
        try:
            self._launch(child)
        except OSError as exc:  # e.g. its program is gone
            self._crashed(child, None, f"{child.name} could not be started again: {exc}")
            return
        self._write_state()  # its new pid

    def _kill_group(self, child: Child) -> None:
        if child.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait()

    def _set(self, child: Child, state: ChildState) -> None:
        run = self._runs[child.name]
        run.state, run.since = state, time.time()
        if state == "running":
            run.up_at = time.monotonic()
        self._write_state()

    def _status(self, child: Child) -> ChildStatus:
        run = self._runs[child.name]
        return ChildStatus(name=child.name, state=run.state,
                           pid=child.proc.pid if child.proc else None, restarts=run.restarts,
                           last_exit_code=run.last_exit_code, since=run.since)

    def _write_state(self) -> None:
        try:
            write_status(self.state_path, (self._status(c) for c in self.children))
        except OSError as exc:  # a report we cannot write must not stop supervision
            log.warning("cannot write %s: %s", self.state_path, exc)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to every child's process group, SIGKILL to any still running
        after timeout_s. A child waiting in backoff is not started again."""
        self._stopping.set()
        with self._lock:
            if not self.children:
                return  # stopped already (the state file says so)
            for child in reversed(self.children):
                if child.proc and child.proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for child in reversed(self.children):
                if not child.proc:
                    continue
                try:
                    child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._kill_group(child)
                run = self._runs[child.name]
                run.state, run.since = "stopped", time.time()
            self._write_state()
            self.children.clear()


def train(settings: Settings, force: bool = False, echo=print) -> int:
    """Train the Rasa model unless one from the current project already exists.
    Rasa's own cache (.rasa/) makes a retrain after a small change quick."""
    if not RASA_BIN.exists():
        raise LaunchError(f"{RASA_BIN} is missing: run `make setup` first")
    target = model_path(settings)
    if target.exists() and not force:
        echo(f"Model is up to date: {target.relative_to(PROJECT_ROOT)}")
        return 0
    argv = [str(RASA_BIN), "train", "--config", "config.yml", "--domain", "domain.yml",
            "--data", "data", "--out", str(settings.models_dir),
            "--fixed-model-name", target.name.removesuffix(".tar.gz")]
    env = base_env()  # training needs no setting and no secret
    echo("Training the Rasa model (about 2 minutes on 2 cores)…")
    code = subprocess.call(argv, cwd=PROJECT_ROOT, env=env)
    if code == 0:
        for old in settings.models_dir.glob("*.tar.gz"):
            if old != target:
                old.unlink()  # keep only the model of the current project
    return code
