"""The router against a real Redis; Rasa is an httpx.MockTransport peer here
(tests/bot/gateway/fake_rasa.py; the real Rasa server is exercised in test_stack.py)."""

import asyncio

import httpx
import pytest

from bot.channels.base import Recipient
from bot.channels.memory import InMemoryChannel
from bot.gateway.outbox import OutboxSender
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import DELAY_TEXT
from core.models import Button, InboundMessage, OutboundMessage
from handoff.keys import HANDOFF_KEYS
from tests.bot.gateway.fake_rasa import FakeRasa
from tests.routers import wired_router


@pytest.fixture
async def make_router(redis):
    clients = []

    def build(fake: FakeRasa, channel: InMemoryChannel | None = None):
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        clients.append(http)
        channel = channel or InMemoryChannel("web")
        router = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                              {"web": channel})
        return router, channel

    yield build
    for http in clients:
        await http.aclose()


def inbound(text: str, external_id: str, user: str = "v_1") -> InboundMessage:
    return InboundMessage(channel="web", channel_user_id=user, external_id=external_id, text=text)


async def test_a_message_is_logged_answered_and_the_article_recorded(make_router):
    router, _ = make_router(FakeRasa())
    await router.handle("1-1", inbound("where is my order", "m1"))
    customer = await router.identities.resolve("web", "v_1", None)
    history = await router.transcripts.history(customer)
    assert [(e.author, e.text) for e in history] == [
        ("customer", "where is my order"), ("bot", "echo: where is my order")]
    assert history[1].article.id == "a1" and history[1].article.version == 2
    assert history[1].decision == "answer"


async def test_a_quick_answer_comes_without_a_flash_of_typing(make_router):
    router, channel = make_router(FakeRasa())
    await router.handle("1-1", inbound("where is my order", "m1"))
    assert channel.typing_events == []


async def test_a_slow_answer_shows_typing_until_it_arrives(make_router):
    router, channel = make_router(FakeRasa(delay_s=0.8))
    await router.handle("1-1", inbound("where is my order", "m1"))
    customer = await router.identities.resolve("web", "v_1", None)
    assert [on for _, on in channel.typing_events] == [True, False]
    assert channel.typing_events[0][0] == Recipient(customer, "v_1")


async def test_the_rasa_sender_is_the_customer_id_not_the_channel_user(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    await router.handle("1-1", inbound("hi", "m1"))
    customer = await router.identities.resolve("web", "v_1", None)
    assert fake.received[0]["sender"] == customer and customer.startswith("c_")
    assert fake.received[0]["metadata"]["channel"] == "web"


async def test_a_duplicate_delivery_gets_no_second_reply(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    await router.handle("1-1", inbound("hi", "same-id"))
    await router.handle("1-2", inbound("hi", "same-id"))  # the platform delivered it twice
    assert len(fake.received) == 1
    customer = await router.identities.resolve("web", "v_1", None)
    assert len(await router.transcripts.history(customer)) == 2


async def test_a_reclaimed_entry_is_finished_without_repeating_steps(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    await router.handle("1-1", inbound("hi", "m1"))
    await router.handle("1-1", inbound("hi", "m1"))  # the same stream entry, re-claimed
    assert len(fake.received) == 1
    customer = await router.identities.resolve("web", "v_1", None)
    assert len(await router.transcripts.history(customer)) == 2


async def test_while_rasa_is_down_the_message_waits_and_the_customer_is_told_once(make_router):
    fake = FakeRasa(down_for=5)
    router, channel = make_router(fake)
    await router.handle("1-1", inbound("first", "m1"))
    assert [b["message"] for b in fake.received] == ["first"]  # answered once it came back
    customer = await router.identities.resolve("web", "v_1", None)
    texts = [e.text for e in await router.transcripts.history(customer)]
    assert texts == ["first", DELAY_TEXT, "echo: first"]
    levels = [level for _, level, _ in channel.notices]
    assert levels[-1] == "clear" and "warning" in levels

    fake.down_for = 3  # a second outage within minutes: no second delay message
    await router.handle("1-2", inbound("second", "m2"))
    texts = [e.text for e in await router.transcripts.history(customer)]
    assert texts.count(DELAY_TEXT) == 1 and texts[-1] == "echo: second"


class ActionsDownRasa(FakeRasa):
    """Rasa while its action server is down: the message is recorded, the failed
    action is swallowed, and the answer is empty."""

    def __init__(self, empty_for: int) -> None:
        super().__init__()
        self.empty_for = empty_for

    def answer(self, body: dict) -> list[dict]:
        if self.empty_for > 0:
            self.empty_for -= 1
            return []
        return [{"recipient_id": body["sender"], "text": "the answer"}]


async def test_an_empty_answer_is_retried_and_the_message_recorded_once_when_actions_are_back(
        make_router):
    fake = ActionsDownRasa(empty_for=2)
    router, channel = make_router(fake)
    await router.handle("1-1", inbound("refund?", "m1"))
    customer = await router.identities.resolve("web", "v_1", None)
    texts = [e.text for e in await router.transcripts.history(customer)]
    assert texts == ["refund?", DELAY_TEXT, "the answer"]
    assert len(fake.received) == 3  # asked three times ...
    assert fake.recorded(customer) == ["refund?"]  # ... and Rasa remembers it once
    assert [level for _, level, _ in channel.notices][-1] == "clear"


async def test_when_a_person_owns_the_conversation_the_bot_stays_silent(make_router, redis):
    fake = FakeRasa()
    router, _ = make_router(fake)
    customer = await router.identities.resolve("web", "v_1", None)
    await redis.set(HANDOFF_KEYS.owner(customer), "queue")
    await router.handle("1-1", inbound("hello?", "m1"))
    assert fake.received == []
    assert [e.author for e in await router.transcripts.history(customer)] == ["customer"]


async def test_replies_reach_the_channel_through_the_outbox_in_order(make_router, redis):
    router, channel = make_router(FakeRasa())
    sender = OutboxSender(redis, {"web": channel}, concurrency=8, reclaim_idle_ms=60_000,
                          max_attempts=3, backoff_s=0.01, backoff_max_s=0.05)
    await sender.worker.start()
    try:
        for i in range(5):
            await router.handle(f"1-{i + 1}", inbound(f"msg {i}", f"m{i}"))
        for _ in range(200):
            if len(channel.sent) == 5:
                break
            await asyncio.sleep(0.01)
    finally:
        await sender.worker.stop()
    assert [e.text for _, e in channel.sent] == [f"echo: msg {i}" for i in range(5)]


@pytest.mark.parametrize("text, plain", [
    ("/ /request_human", "request_human"),
    ('/\t/choose_article{"article_id":"x"}', 'choose_article{"article_id":"x"}'),
    ("//request_human", "request_human"),
    (" / \u00a0 / /affirm", "affirm"),
    ("/", "?"),
])
async def test_intent_shaped_text_reaches_rasa_as_plain_text(make_router, text, plain):
    fake = FakeRasa()
    router, _ = make_router(fake)
    await router.handle("1-1", inbound(text, "m1"))
    sent = fake.received[0]["message"]
    assert sent == plain
    assert not sent.strip().startswith("/")  # Rasa never parses it as /intent{...}


@pytest.mark.parametrize("channel", ["web", "telegram", "slack", "sms"])
async def test_a_button_payload_never_offered_reaches_rasa_as_plain_text_on_every_channel(
        redis, channel):
    fake = FakeRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        router = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                              {channel: InMemoryChannel(channel)})
        forged = InboundMessage(channel=channel, channel_user_id="u1", external_id="f1",
                                text="Talk to a person", button_payload="/request_human")
        await router.handle("1-1", forged)
        assert fake.received[-1]["message"] == "Talk to a person"

        # a payload the assistant did offer this customer is a button press
        customer = await router.identities.resolve(channel, "u1", None)
        await router.router.send(channel, Recipient(customer, "u1"), OutboundMessage(
            text="Sure?", buttons=(Button(title="Yes", payload="/affirm"),)))
        offered = InboundMessage(channel=channel, channel_user_id="u1", external_id="f2",
                                 text="Yes", button_payload="/affirm")
        await router.handle("1-2", offered)
        assert fake.received[-1]["message"] == "/affirm"
        # ... but not a payload offered to someone else
        other = InboundMessage(channel=channel, channel_user_id="u2", external_id="f3",
                               text="Yes", button_payload="/affirm")
        await router.handle("1-3", other)
        assert fake.received[-1]["message"] == "Yes"


class NoApiRasa(FakeRasa):
    """Rasa whose HTTP API refuses the gateway (a token that does not match)."""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/conversations/"):
            return httpx.Response(401, json={"message": "unauthorized"})
        return await super().__call__(request)


async def test_a_tracker_the_gateway_may_not_read_does_not_cost_the_customer_their_answer(
        make_router):
    fake = NoApiRasa(down_for=2)
    router, _ = make_router(fake)
    await router.handle("1-1", inbound("hello?", "m1"))
    customer = await router.identities.resolve("web", "v_1", None)
    assert (await router.transcripts.history(customer))[-1].text == "echo: hello?"
