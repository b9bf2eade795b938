"""Reports and /metrics: containment, escalation reasons, first reply,
handling time and CSAT, per channel."""

import time

import pytest
from redis.asyncio import Redis

from bot.app import create_app
from core.redis import text_client
from core.settings import HandoffSettings, Settings
from handoff.reports import report
from handoff.service import HandoffService, day_key
from tests.conftest import free_port, serve
from tests.staff import make_staff, signed_in_client


async def four_web_conversations_one_escalated(redis: Redis) -> None:
    await redis.hincrby(f"fd:stats:{day_key(time.time())}", "conversations:web", 4)
    await redis.hincrby(f"fd:stats:{day_key(time.time())}", "conversations:sms", 1)
    service = HandoffService(redis, HandoffSettings())
    ticket, _ = await service.escalate("c_r", "web", "asked_for_human")
    await service.claim(ticket.ref, "ann")
    await service.agent_replied(ticket.ref)
    await service.resolve(ticket.ref, "ann")
    await redis.set("fd:{c_r}:csat-pending", ticket.ref)
    await service.record_csat("c_r", 4)


async def test_the_report_counts_per_channel(redis):
    await four_web_conversations_one_escalated(redis)
    figures = await report(redis, days=7)
    web = figures["per_channel"]["web"]
    assert web["conversations"] == 4 and web["escalations"] == 1
    assert web["containment_rate"] == 0.75 and web["escalation_rate"] == 0.25
    assert web["csat_avg"] == 4 and web["csat_n"] == 1
    assert web["first_reply_avg_s"] is not None and web["handling_avg_s"] is not None
    assert figures["per_channel"]["sms"]["containment_rate"] == 1.0
    assert figures["reasons"] == {"asked_for_human": 1}
    assert figures["containment_rate"] == pytest.approx(4 / 5)


async def test_metrics_expose_the_same_figures(redis_server):
    settings = Settings(redis_url=f"{redis_server}/6", port=free_port(), rasa_port=free_port(),
                        actions_port=free_port())
    redis = text_client(settings.effective_redis_url)
    await redis.flushdb()
    try:
        await four_web_conversations_one_escalated(redis)
        await make_staff(redis, "root", "admin")
        async with serve(create_app(settings), settings.port):
            client = await signed_in_client(settings.base_url, "root")  # admins only
            try:
                text = (await client.get("/metrics")).text
            finally:
                await client.aclose()
    finally:
        await redis.flushdb()
        await redis.aclose()
    assert 'frontdoor_containment_rate_7d{channel="web"} 0.75' in text
    assert 'frontdoor_escalation_reasons_7d{reason="asked_for_human"} 1.0' in text
    assert 'frontdoor_csat_avg_7d{channel="web"} 4.0' in text
    assert 'frontdoor_queue_waiting{team="support"} 0.0' in text


async def test_a_rating_counts_under_the_channel_it_came_in_on(redis):
    service = HandoffService(redis, HandoffSettings())
    ticket, _ = await service.escalate("c_moved", "sms", "asked_for_human")
    await service.resolve(ticket.ref, "ann")
    await service.expect_csat("c_moved", ticket.ref)
    await service.record_csat("c_moved", 5, channel="telegram")  # asked and answered there
    rows = (await report(redis, days=1))["per_channel"]
    assert rows["telegram"]["csat_n"] == 1 and rows["telegram"]["csat_avg"] == 5
    assert rows["sms"]["csat_n"] == 0
