"""A gateway whose Redis is away starts anyway, says so in its health check and
keeps trying; once Redis answers, it works without a restart."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.app import create_app
from bot.infra.redis_procs import free_port, start_redis
from core.redis import text_client
from core.settings import Settings
from tests.conftest import serve


async def until_true(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.slow  # the client's retries make each step take seconds while Redis is away
async def test_a_gateway_started_without_redis_reports_it_and_recovers_when_it_comes(tmp_path):
    redis_port = free_port()
    settings = Settings(redis_url=f"redis://127.0.0.1:{redis_port}/0", port=free_port(),
                        rasa_port=free_port(), actions_port=free_port())
    async with serve(create_app(settings), settings.port), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.port}", timeout=30) as http:
        health = await http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["redis"] is False and health.json()["status"] == "down"

        server = start_redis(redis_port, tmp_path / "redis")
        redis = text_client(settings.effective_redis_url)
        try:
            async def redis_healthy() -> bool:
                answer = (await http.get("/healthz")).json()
                return bool(answer["redis"]) and answer["status"] == "degraded"  # no Rasa

            await until_true(redis_healthy, 15, "the health check to see Redis")

            async def router_group_made() -> bool:
                if not await redis.exists("fd:inbound"):
                    return False
                return "router" in {g["name"] for g in await redis.xinfo_groups("fd:inbound")}

            # the inbound worker kept trying and made its consumer group
            await until_true(router_group_made, 15, "the router's consumer group")
        finally:
            await redis.aclose()
            server.stop()
