"""Signed outbound webhooks: a real gateway delivers ticket events to a local
receiver that fails twice first; the signature verifies, retries keep the
delivery id, and the event arrives exactly once accepted."""

import asyncio
import json
import time

import pytest
from fastapi import FastAPI, Request, Response

from bot.app import create_app
from core.redis import text_client
from core.settings import HandoffSettings, Settings
from handoff.service import HandoffService
from handoff.webhooks import sign, verify_signature
from tests.conftest import free_port, serve

SECRET = "whsec-test-secret"


def test_the_signature_covers_body_and_time():
    body = b'{"type":"ticket.created"}'
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert verify_signature(SECRET, body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature("other-secret", body, header)
    assert not verify_signature(SECRET, body, sign(SECRET, body, now - 600))  # replayed late
    assert not verify_signature(SECRET, body, "garbage")


@pytest.fixture
async def receiver():
    app = FastAPI()
    app.state.calls = []

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        app.state.calls.append((dict(request.headers), body))
        # The receiver's helpdesk is down for the first two attempts.
        return Response(status_code=500 if len(app.state.calls) <= 2 else 204)

    port = free_port()
    async with serve(app, port):
        yield f"http://127.0.0.1:{port}/hook", app.state.calls


async def test_ticket_events_reach_the_receiver_signed_with_retries(
        redis_server, receiver, monkeypatch):
    url, calls = receiver
    monkeypatch.setenv("FRONTDOOR_HANDOFF_WEBHOOK_URLS", json.dumps([url]))
    monkeypatch.setenv("FRONTDOOR_HANDOFF_WEBHOOK_SECRET", SECRET)
    settings = Settings(redis_url=f"{redis_server}/5", port=free_port(), rasa_port=free_port(),
                        actions_port=free_port(), retry_backoff_s=0.05,
                        retry_backoff_max_s=0.1)
    redis = text_client(settings.effective_redis_url)
    await redis.flushdb()
    try:
        async with serve(create_app(settings), settings.port):
            service = HandoffService(redis, HandoffSettings())
            ticket, _ = await service.escalate("c_hook", "sms", "asked_for_human")
            for _ in range(100):
                if len(calls) >= 3:
                    break
                await asyncio.sleep(0.05)
    finally:
        await redis.flushdb()
        await redis.aclose()
    assert len(calls) == 3
    deliveries = {headers["x-frontdoor-delivery"] for headers, _ in calls}
    assert len(deliveries) == 1  # a retry is the same delivery, so receivers can dedupe
    headers, body = calls[-1]
    assert headers["x-frontdoor-event"] == "ticket.created"
    assert verify_signature(SECRET, body, headers["x-frontdoor-signature"])
    event = json.loads(body)
    assert event["ticket"]["ref"] == ticket.ref and event["ticket"]["channel"] == "sms"
