"""Delivery through faults: two gateways (router + stream worker each) on one
inbound stream in a real Redis; Rasa is the fake of fake_rasa.py, because these
tests are about Rasa being slow or a gateway dying mid-turn. Each message gets
one answer, Rasa records it once, and one customer's replies keep their order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from bot.channels.memory import InMemoryChannel
from bot.gateway.inbound import InboundStream
from bot.gateway.keys import GATEWAY_KEYS
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import DELAY_TEXT
from bot.infra.streams import KeepAlive, StreamWorker, ensure_group
from core.models import InboundMessage
from tests.bot.gateway.fake_rasa import FakeRasa
from tests.routers import WiredRouter, wired_router

RECLAIM_MS = 400


class Gateway:
    """One gateway replica's inbound side: a router and its stream worker."""

    def __init__(self, redis: Redis, fake: FakeRasa, name: str) -> None:
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        self.wired: WiredRouter = wired_router(
            redis, RasaClient(self.http, "http://rasa", "http://actions"),
            {"web": InMemoryChannel("web")}, lease_ms=RECLAIM_MS)

        async def route(entry_id: str, fields: dict, keep_alive: KeepAlive) -> None:
            await self.wired.router.handle(
                entry_id, InboundMessage.model_validate_json(fields["m"]), keep_alive)

        self.worker = StreamWorker(redis, GATEWAY_KEYS.inbound_stream, "router", route,
                                   key_of=lambda f: (f["channel"], f["channel_user_id"]),
                                   concurrency=8, reclaim_idle_ms=RECLAIM_MS,
                                   dead_letter=GATEWAY_KEYS.inbound_dead, consumer=name,
                                   ordered=True)

    async def stop(self) -> None:
        await self.worker.stop()
        await self.http.aclose()


@pytest.fixture
async def gateways(redis) -> AsyncIterator:
    made: list[Gateway] = []

    def make(fake: FakeRasa, name: str) -> Gateway:
        made.append(Gateway(redis, fake, name))
        return made[-1]

    yield make
    for gateway in made:
        with contextlib.suppress(Exception):
            await gateway.stop()


def message(text: str, external_id: str, user: str = "v_1") -> InboundMessage:
    return InboundMessage(channel="web", channel_user_id=user, external_id=external_id,
                          text=text)


async def settled(redis: Redis, timeout_s: float = 15) -> None:
    """Every inbound entry read and acknowledged."""
    stream = GATEWAY_KEYS.inbound_stream
    deadline = time.monotonic() + timeout_s
    while True:
        last = (await redis.xinfo_stream(stream))["last-generated-id"]
        group = next(g for g in await redis.xinfo_groups(stream) if g["name"] == "router")
        if group["pending"] == 0 and group["last-delivered-id"] == last:
            return
        assert time.monotonic() < deadline, "inbound entries not all handled"
        await asyncio.sleep(0.02)


async def history(gateway: Gateway, user: str = "v_1") -> list[tuple[str, str]]:
    customer = await gateway.wired.identities.resolve("web", user, None)
    return [(e.author, e.text) for e in await gateway.wired.transcripts.history(customer)]


async def test_a_gateway_dying_mid_turn_leaves_the_message_answered_once_by_the_other(
        redis, gateways):
    fake = FakeRasa(delay_s=1.0, redis=redis)  # Rasa finishes the turn whatever happens
    first, second = gateways(fake, "gw-a"), gateways(fake, "gw-b")
    await first.worker.start()
    await InboundStream(redis).append(message("where is my order", "m1"))
    await asyncio.wait_for(fake.turn_started.wait(), 10)
    await first.worker.stop()  # the first gateway dies while Rasa works on the message
    await second.worker.start()
    await settled(redis)
    await fake.finish()

    assert len(fake.received) == 1  # Rasa ran the turn once ...
    customer = await second.wired.identities.resolve("web", "v_1", None)
    assert fake.recorded(customer) == ["where is my order"]
    # ... and the replica that took over answered with what Rasa recorded, once,
    # after telling the customer their message was delayed
    assert await history(second) == [("customer", "where is my order"), ("system", DELAY_TEXT),
                                      ("bot", "echo: where is my order")]


async def test_a_turn_slower_than_the_takeover_time_is_answered_once(redis, gateways):
    fake = FakeRasa(delay_s=RECLAIM_MS * 4 / 1000, redis=redis)
    first, second = gateways(fake, "gw-a"), gateways(fake, "gw-b")
    await first.worker.start()
    await second.worker.start()
    await InboundStream(redis).append(message("refund please", "m1"))
    await settled(redis)
    await fake.finish()
    assert len(fake.received) == 1
    assert await history(first) == [("customer", "refund please"),
                                    ("bot", "echo: refund please")]


async def test_an_older_message_left_by_a_dead_gateway_is_answered_before_a_newer_one(
        redis, gateways):
    fake = FakeRasa(redis=redis)
    inbound = InboundStream(redis)
    await ensure_group(redis, GATEWAY_KEYS.inbound_stream, "router")
    # A gateway read the customer's first message and died before handling it.
    await inbound.append(message("first", "m1"))
    taken = await redis.xreadgroup("router", "gw-dead", {GATEWAY_KEYS.inbound_stream: ">"},
                                   count=1)
    assert taken
    await inbound.append(message("second", "m2"))
    survivor = gateways(fake, "gw-b")
    await survivor.worker.start()  # reads "second" at once; "first" is older, pending elsewhere
    await settled(redis)
    assert await history(survivor) == [("customer", "first"), ("bot", "echo: first"),
                                       ("customer", "second"), ("bot", "echo: second")]
    assert [b["message"] for b in fake.received] == ["first", "second"]


class TimingOut(httpx.AsyncBaseTransport):
    """The gateway's Rasa timeout, over the fake (MockTransport has none)."""

    def __init__(self, fake: FakeRasa, timeout_s: float) -> None:
        self._inner = httpx.MockTransport(fake)
        self._timeout_s = timeout_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self._inner.handle_async_request(request),
                                          self._timeout_s)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None


async def test_a_turn_the_gateway_gave_up_on_is_not_run_again_its_replies_are_used(redis):
    fake = FakeRasa(delay_s=0.8, redis=redis)  # slower than the gateway waits
    async with httpx.AsyncClient(transport=TimingOut(fake, 0.3)) as http:
        wired = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                             {"web": InMemoryChannel("web")})
        await wired.handle("1-1", message("cancel my order", "m1"))
    await fake.finish()
    customer = await wired.identities.resolve("web", "v_1", None)
    assert len(fake.received) == 1  # the retry waited for Rasa's lock, then read the tracker
    assert fake.recorded(customer) == ["cancel my order"]
    texts = [e.text for e in await wired.transcripts.history(customer)]
    assert texts == ["cancel my order", DELAY_TEXT, "echo: cancel my order"]
