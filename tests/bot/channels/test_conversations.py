"""A whole conversation on each channel, end to end: the platform sandbox signs
and delivers the customer's messages to the gateway, the real router asks the
real Rasa server and action server, and the reply comes back through the real
channel library to the sandbox, where the customer reads it."""

import asyncio
import uuid

import httpx
import pytest

from core.settings import KnowledgeSettings
from knowledge.articles_io import load_folder

pytestmark = pytest.mark.stack

USERS = {"telegram": lambda: f"tg-{uuid.uuid4().hex[:8]}",
         "slack": lambda: f"sl-{uuid.uuid4().hex[:8]}",
         "sms": lambda: "+1555" + str(uuid.uuid4().int)[:7]}
PREFIX = {"telegram": "telegram", "slack": "slack", "sms": "twilio"}


class Customer:
    def __init__(self, stack, channel: str) -> None:
        self.base = f"http://127.0.0.1:{stack.sandbox_port}/{PREFIX[channel]}/_sandbox"
        self.channel = channel
        self.user = USERS[channel]()
        self.http = httpx.AsyncClient(timeout=30)

    async def transcript(self) -> list[dict]:
        response = await self.http.get(f"{self.base}/transcript", params={"user": self.user})
        response.raise_for_status()
        return response.json()

    async def bot_messages(self) -> list[dict]:
        return [m for m in await self.transcript() if m["from"] == "bot"]

    async def say(self, text: str) -> dict:
        before = len(await self.bot_messages())
        response = await self.http.post(f"{self.base}/send", json={"user": self.user, "text": text})
        assert response.json()["status"] in (200, 204), response.text
        return await self._next_bot_message(before)

    async def press(self, message: dict, index: int) -> dict:
        before = len(await self.bot_messages())
        response = await self.http.post(f"{self.base}/press", json={
            "user": self.user, "message_id": message["id"], "index": index})
        response.raise_for_status()
        return await self._next_bot_message(before)

    async def _next_bot_message(self, before: int, timeout: float = 30) -> dict:
        for _ in range(int(timeout / 0.1)):
            messages = await self.bot_messages()
            if len(messages) > before:
                await asyncio.sleep(0.3)  # a long answer may come in several parts
                return (await self.bot_messages())[before]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no reply on {self.channel} within {timeout}s")


@pytest.fixture(params=["telegram", "slack", "sms"])
async def customer(stack, request):
    c = Customer(stack, request.param)
    yield c
    await c.http.aclose()


async def test_greeting(customer):
    reply = await customer.say("hello")
    assert "Brightside" in reply["text"]


async def test_knowledge_answer(customer):
    reply = await customer.say("can I pay with PayPal?")
    assert "PayPal" in reply["text"]


async def test_clarification_answered_with_a_button_or_a_number(customer):
    reply = await customer.say("returns")
    if customer.channel == "sms":
        assert "Reply 1" in reply["text"]
        answer = await customer.say("1")
    else:
        assert len(reply["buttons"]) >= 2
        answer = await customer.press(reply, 0)
    assert "return" in answer["text"].lower()
    assert answer["text"] != reply["text"]


async def test_honest_fallback(customer):
    reply = await customer.say("who won the football match last night")
    assert "don't know" in reply["text"] or "don&#x27;t know" in reply["text"] or \
        "don’t know" in reply["text"]


async def test_sms_gets_the_articles_short_sms_variant(stack):
    sms = Customer(stack, "sms")
    try:
        reply = await sms.say("I forgot my password")
        article = next(a for a in load_folder(KnowledgeSettings().articles_dir)
                       if a.id == "reset-password")
        assert reply["text"] == article.channels["sms"]
        assert reply["segments"] == 1 and reply["encoding"] == "GSM-7"
    finally:
        await sms.http.aclose()
