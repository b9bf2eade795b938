"""How each Front Door process is started: one command line per process.

`frontdoor up` (bot/infra/supervisor.py) starts them all on this host and
`frontdoor run <process>` (bot/cli/run.py) starts one in the foreground, for a
process on its own host or one replica of many: both build the command here, so
a process runs the same way alone as under the supervisor. What each process
may read from the environment is the supervisor's `*_env` functions; no
command line holds a secret (`ps` shows every user's argv)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.settings import PROJECT_ROOT, Settings

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
# Starts `rasa run` with the API token from FRONTDOOR_RASA_TOKEN, not from argv.
RASA_RUN = Path(__file__).with_name("rasa_run.py")


def rasa_argv(model: Path, endpoints: Path, host: str, port: int) -> list[str]:
    """Rasa's REST channel and HTTP API; the API token comes from the
    environment (rasa_run.py), the action server's token from endpoints.yml's
    ${FRONTDOOR_ACTIONS_TOKEN}."""
    return [str(RASA_PYTHON), str(RASA_RUN), "run", "--model", str(model),
            "--endpoints", str(endpoints),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--interface", host, "--port", str(port), "--enable-api"]


def actions_argv(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "actions.server", "--host", host, "--port", str(port)]


def gateway_argv(settings: Settings, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory",
            "--host", host, "--port", str(port),
            "--ws-max-size", str(settings.max_frame_bytes * 4), "--no-access-log",
            # chat frames are a few hundred bytes: deflate saves little on them and
            # costs CPU per frame and a compression context per open widget
            "--ws-per-message-deflate", "false",
            # the client address is ours to work out (core/addresses.py): uvicorn
            # would otherwise believe X-Forwarded-For from 127.0.0.1 by default
            "--no-proxy-headers",
            "--timeout-graceful-shutdown", "10"]


def sandbox_argv(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "sandbox.app:create_app", "--factory",
            "--host", host, "--port", str(port), "--no-access-log",
            "--timeout-graceful-shutdown", "10"]
