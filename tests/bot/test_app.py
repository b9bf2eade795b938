"""The app factory builds the gateway whole, and a failed start stops what it
had already started."""

from __future__ import annotations

import pytest

from bot import app as app_module
from bot.channels.memory import InMemoryChannel
from bot.infra.streams import StreamWorker
from core.settings import Settings
from tests.conftest import free_port


class ClosingChannel(InMemoryChannel):
    closed = 0

    async def close(self) -> None:
        ClosingChannel.closed += 1


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_a_part_that_fails_to_start_stops_everything_started_before_it(
        redis_server, monkeypatch):
    stopped: list[str] = []
    original_stop = StreamWorker.stop

    async def recording_stop(worker: StreamWorker) -> None:
        stopped.append(worker._group)
        await original_stop(worker)

    async def broken_start(self) -> None:
        raise RuntimeError("the handoff bridge cannot start")

    monkeypatch.setattr(StreamWorker, "stop", recording_stop)
    monkeypatch.setattr(app_module.HandoffBridge, "start", broken_start)
    monkeypatch.setattr(app_module, "build_channels",
                        lambda settings, hub, redis: {"web": ClosingChannel("web")})
    settings = Settings(redis_url=f"{redis_server}/3", port=free_port(),
                        rasa_port=free_port(), actions_port=free_port())
    with pytest.raises(RuntimeError, match="cannot start"):
        async with app_module.gateway_services(settings):
            pytest.fail("the gateway must not come up without its handoff bridge")
    assert sorted(stopped) == ["router", "senders"]  # both workers started, both stopped
    assert ClosingChannel.closed == 1


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_the_built_gateway_shares_one_transcript_store_between_router_and_api(
        redis_server):
    settings = Settings(redis_url=f"{redis_server}/3", port=free_port(),
                        rasa_port=free_port(), actions_port=free_port())
    async with app_module.gateway_services(settings) as services:
        assert services.router._transcripts is services.transcripts
        assert services.gateway._transcripts is services.transcripts
        assert set(services.channels) == {"web"}  # no credentials: web chat only
