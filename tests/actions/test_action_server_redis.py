"""The action server's Redis client (made once per process, on first use) works
again after Redis is killed and restarted, and its /healthz says when Redis is away."""

from __future__ import annotations

import json

import pytest
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from actions import handoff_service as handoff_module
from actions.server import add_redis_health
from bot.infra.redis_procs import free_port, start_redis
from core.settings import get_settings


@pytest.fixture
def action_server_redis(tmp_path, monkeypatch):
    server = start_redis(free_port(), tmp_path / "redis")
    monkeypatch.setenv("FRONTDOOR_REDIS_URL", f"{server.url}/0")
    get_settings.cache_clear()
    monkeypatch.setattr(handoff_module, "_service", None)
    yield server
    server.stop()
    get_settings.cache_clear()


def health_handler():
    Sanic.test_mode = True  # rasa-sdk names every app alike
    app = create_app(ActionExecutor(), cors_origins=None)
    add_redis_health(app)
    return next(r.handler for r in app.router.routes if r.path == "healthz")


@pytest.mark.slow  # the last step waits out the client's retries (about 4 s)
async def test_the_action_servers_client_survives_a_redis_restart_and_health_says_so(
        action_server_redis):
    service = handoff_module.handoff_service()
    healthz = health_handler()
    try:
        await service.redis.set("fd:test:actions", "before")
        action_server_redis.restart()  # kill -9, same port, empty
        assert await service.redis.set("fd:test:actions", "after")  # same client, no error
        answer = await healthz(None)
        assert answer.status == 200 and json.loads(answer.body) == {"status": "ok",
                                                                    "redis": True}
        action_server_redis.kill()
        answer = await healthz(None)
        assert answer.status == 503 and json.loads(answer.body)["redis"] is False
        action_server_redis.start()
        assert (await healthz(None)).status == 200
        assert handoff_module.handoff_service() is service  # never rebuilt
    finally:
        await service.redis.aclose()
