"""The real action server process for the action tests, started as `frontdoor up`
starts it (its argv and its environment only)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from bot.infra.processes import actions_argv
from bot.infra.supervisor import actions_env
from core.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port


@contextlib.contextmanager
def action_server(redis_url: str, token: str) -> Iterator[str]:
    """The action server on a free port until it is healthy: its base URL. Its
    output goes to a file (a pipe nobody reads could fill and stall it) and is
    shown if it stops before it is healthy."""
    port = free_port()
    settings = Settings(redis_url=redis_url, actions_port=port, actions_token=SecretStr(token))
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(actions_argv("127.0.0.1", port), env=actions_env(settings),
                                cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    output.seek(0)
                    pytest.fail("the action server stopped: "
                                + output.read().decode(errors="replace")[-3000:])
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                time.sleep(0.2)
            else:
                pytest.fail("the action server did not become healthy")
            yield base
        finally:
            proc.terminate()
            proc.wait(20)
