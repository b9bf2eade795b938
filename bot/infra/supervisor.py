"""Start, watch and stop Front Door's processes: Redis, Rasa, the action server,
the gateway and, for the demo, the platform sandboxes (docs/architecture.md#processes).

The CLI (`frontdoor up`), the test session and the benchmarks all use this, so
the way the product runs is the way it is tested."""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from core.settings import PROJECT_ROOT, Settings, environment, variables

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
# Starts `rasa run` with the API token from FRONTDOOR_RASA_TOKEN, not from argv.
RASA_RUN = Path(__file__).with_name("rasa_run.py")


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
    """endpoints.yml for this run: our action server, our Redis for the tracker and lock store."""
    url = urlsplit(settings.effective_redis_url)
    db = int((url.path or "/0").lstrip("/") or 0)
    redis = {"type": "redis", "url": url.hostname or "localhost", "port": url.port or 6379,
             "db": db, "key_prefix": "rasa"}
    if url.password:
        redis["password"] = url.password
    config = {
        "action_endpoint": {"url": f"{settings.actions_url}/webhook"},
        "tracker_store": redis,
        "lock_store": dict(redis),
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
# (docs/security.md): the gateway all of them; Rasa only its API token (its
# Redis is in endpoints.yml); the action server Redis, handoff and knowledge;
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
            "FRONTDOOR_SESSION_SECRET": session_secret(settings)}


def rasa_env(settings: Settings) -> dict[str, str]:
    """Only the API token, read by rasa_run.py (never on the command line)."""
    return {**base_env(), "FRONTDOOR_RASA_TOKEN": settings.rasa_token.get_secret_value(),
            # Rasa's per-conversation lock (RedisLockStore) lasts this long (Rasa's
            # default: 60 s): a lock left by a crash holds its conversation no longer
            # than the gateway waits for a turn. Not shorter: a waiting ticket that
            # expires within a second of the one ahead of it is never served.
            "TICKET_LOCK_LIFETIME": str(max(1, math.ceil(settings.rasa_timeout_s)))}


def actions_env(settings: Settings) -> dict[str, str]:
    handoff = {k: v for k, v in variables(settings.handoff).items() if k not in ACTIONS_WITHOUT}
    return {**base_env(), "FRONTDOOR_REDIS_URL": settings.effective_redis_url,
            **handoff, **variables(settings.knowledge)}


def sandbox_env(settings: Settings) -> dict[str, str]:
    """The channel credentials the sandbox checks and signs with, and the
    gateway's address it delivers to."""
    top = {k: v for k, v in variables(settings).items() if k in SANDBOX_SETTINGS}
    return {**base_env(), **top, **variables(settings.channels)}


def plan(settings: Settings) -> list[list[Child]]:
    """Waves of children: each wave starts together once the previous one is healthy."""
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
    python = sys.executable
    waves.append([
        Child("rasa",
              [str(RASA_PYTHON), str(RASA_RUN), "run", "--model", str(current_model(settings)),
               "--endpoints", str(write_rasa_endpoints(settings)),
               "--credentials", str(PROJECT_ROOT / "credentials.yml"),
               "--interface", "127.0.0.1", "--port", str(settings.rasa_port),
               "--enable-api"],  # the token: from the environment, see rasa_run.py
              rasa_env(settings), settings.rasa_url + "/", logs / "rasa.log", settings.rasa_port,
              timeout_s=300),
        Child("actions",
              [python, "-m", "actions.server", "--port", str(settings.actions_port)],
              actions_env(settings), settings.actions_url + "/health", logs / "actions.log",
              settings.actions_port, timeout_s=180),
        Child("gateway",
              [python, "-m", "uvicorn", "bot.app:create_app", "--factory",
               "--host", settings.host, "--port", str(settings.port),
               "--ws-max-size", str(settings.max_frame_bytes * 4), "--no-access-log",
               # the client address is ours to work out (core/addresses.py): uvicorn
               # would otherwise believe X-Forwarded-For from 127.0.0.1 by default
               "--no-proxy-headers",
               "--timeout-graceful-shutdown", "10"],
              gateway_env(settings), f"http://{settings.host}:{settings.port}/healthz",
              logs / "gateway.log", settings.port, timeout_s=60),
    ])
    if settings.sandboxes:
        waves[-1].append(Child(
            "sandbox",
            [python, "-m", "uvicorn", "sandbox.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(settings.sandbox_port), "--no-access-log",
             "--timeout-graceful-shutdown", "10"],
            sandbox_env(settings), f"http://127.0.0.1:{settings.sandbox_port}/healthz",
            logs / "sandbox.log", settings.sandbox_port, timeout_s=60))
    return waves


class Stack:
    def __init__(self, settings: Settings, echo=print) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self._echo = echo

    def start(self) -> None:
        try:
            for wave in plan(self.settings):
                for child in wave:
                    self._spawn(child)
                for child in wave:
                    self._wait_healthy(child)
                    self._echo(f"  {child.name:<8} ready")
        except BaseException:
            self.stop()
            raise

    def _spawn(self, child: Child) -> None:
        if port_in_use(child.port):
            raise LaunchError(f"port {child.port} for {child.name} is already in use; stop what "
                              f"runs there or choose another port (FRONTDOOR_*_PORT)")
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = child.log_path.open("ab")
        child.proc = subprocess.Popen(child.argv, cwd=PROJECT_ROOT, env=child.env, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        self.children.append(child)

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

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.proc and c.proc.poll() is not None), None)

    def stop(self, timeout_s: float = 15.0) -> None:
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self.children):
            if not child.proc:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
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
