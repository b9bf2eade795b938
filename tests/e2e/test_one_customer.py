"""One customer across channels, end to end: the platform sandboxes
deliver the customer's messages, the real Rasa server answers, and what the
assistant remembers follows the customer from Telegram to SMS to web chat."""

import asyncio
import json
import re
import uuid

import pytest

from bot.customers.identity import IdentityStore
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.verified import VerifiedAttributes
from bot.gateway.router import EMAIL_LINKED_TEXT, PHONE_LINKED_TEXT
from core.models import VerifiedAttribute
from sandbox.slack import user_ids
from tests.bot.channels.test_conversations import Customer
from tests.bot.gateway.test_stack import Chat
from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.stack
CODE = re.compile(r"Your code is ([A-Z0-9]{6})\.")


def code_in(reply: dict) -> str:
    match = CODE.search(reply["text"])
    assert match, reply["text"]
    return match[1]


async def web_text(chat: Chat, needle: str, timeout: float = 30) -> str:
    """The next entry said on web chat containing `needle`, live or in a replayed
    history (the socket replays it when it follows the visitor to another customer)."""
    async def read():
        while True:
            frame = await chat.next_frame_any()
            entries = ([frame["entry"]] if frame["type"] == "entry" else
                       frame["entries"] if frame["type"] == "history" else [])
            for entry in entries:
                if entry["channel"] == "web" and needle in entry["text"]:
                    return entry["text"]
    return await asyncio.wait_for(read(), timeout)


async def said_to(customer: Customer, needle: str, timeout: float = 30) -> dict:
    """The first bot message to `customer` containing `needle` (it may come
    after the reply to their own last message: sent from another channel's turn)."""
    for _ in range(int(timeout / 0.1)):
        for message in await customer.bot_messages():
            if needle in message["text"]:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing with {needle!r} on {customer.channel} within {timeout}s")


class WebChat(Chat):
    async def next_frame_any(self) -> dict:
        frame = json.loads(await self.socket.recv())
        self.frames.append(frame)
        return frame


@pytest.fixture
def redis(stack_redis):
    return stack_redis  # these tests look at the stack's own Redis


async def test_a_conversation_moves_from_telegram_to_sms_to_web_chat_remembering_the_name(
        stack, redis):
    telegram, sms = Customer(stack, "telegram"), Customer(stack, "sms")
    web = await WebChat.open(stack)
    try:
        assert "Ada" in (await telegram.say("my name is Ada"))["text"]
        first_code = code_in(await telegram.say("link"))
        assert "Waiting for confirmation on Telegram" in (await sms.say(first_code))["text"]
        await said_to(telegram, "wants to join")  # the issuing side is asked...
        await telegram.say("YES")  # ...and allows it
        assert "from Telegram" in (await said_to(sms, "Linked"))["text"]
        assert (await sms.say("what's my name?"))["text"].startswith("You're Ada")

        code = code_in(await sms.say("link"))
        await web.say(code)
        await web_text(web, "Waiting for confirmation on SMS")
        await said_to(sms, "wants to join")
        await sms.say("YES")
        assert "from SMS" in await web_text(web, "Linked")  # the open socket follows
        await web.say("do you remember me?")
        assert (await web_text(web, "You're")).startswith("You're Ada")

        username = "agent" + uuid.uuid4().hex[:6]
        await make_staff(redis, username, "agent")
        agent = await signed_in_client(f"http://{stack.host}:{stack.port}", username)
        try:
            found = await agent.get("/api/customers", params={"channel": "sms",
                                                              "channel_user_id": sms.user})
            customer = found.json()["customer_id"]
            entries = (await agent.get(f"/api/customers/{customer}/transcript")).json()[
                "entries"]
        finally:
            await agent.aclose()
        said = [(e["channel"], e["text"]) for e in entries if e["author"] == "customer"]
        assert said == [("telegram", "my name is Ada"), ("telegram", "link"),
                        ("sms", first_code), ("telegram", "YES"), ("sms", "what's my name?"),
                        ("sms", "link"), ("web", code), ("sms", "YES"),
                        ("web", "do you remember me?")]
        assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)
        remembered = [e["channel"] for e in entries if e["text"].startswith("You're Ada")]
        assert remembered == ["sms", "web"]
    finally:
        await web.close()
        await telegram.http.aclose()
        await sms.http.aclose()


async def test_sharing_ones_own_telegram_number_links_to_the_sms_conversation(stack):
    sms, telegram = Customer(stack, "sms"), Customer(stack, "telegram")
    try:
        assert "Grace" in (await sms.say("my name is Grace"))["text"]
        offer = await telegram.say("/share_phone")
        assert offer["keyboard"] == [{"text": "Share my phone number", "request_contact": True}]

        other = await telegram_sends(telegram, "contact_other", sms.user)
        assert "someone else's contact" in other["text"]
        assert (await telegram.say("what's my name?"))["text"].startswith("I don't know")

        linked = await telegram_sends(telegram, "contact", sms.user)
        assert linked["text"] == PHONE_LINKED_TEXT
        assert (await telegram.say("what's my name?"))["text"].startswith("You're Grace")
    finally:
        await sms.http.aclose()
        await telegram.http.aclose()


async def telegram_sends(customer: Customer, kind: str, phone: str) -> dict:
    before = len(await customer.bot_messages())
    response = await customer.http.post(f"{customer.base}/send", json={
        "user": customer.user, "kind": kind, "phone": phone})
    assert response.json()["status"] == 200, response.text
    return await customer._next_bot_message(before)


async def test_a_slack_user_with_a_verified_email_joins_that_customer(stack, redis):
    slack = Customer(stack, "slack")
    try:
        owner = await IdentityStore(redis).resolve("web", "v-" + slack.user, None)
        email = f"{slack.user}@example.com"  # what the sandbox's users.info says
        await VerifiedAttributes(redis).record(owner, VerifiedAttribute(kind="email",
                                                                        value=email), "test")
        first = await slack.say("hello")
        assert first["text"] == EMAIL_LINKED_TEXT
        greeting = await slack._next_bot_message(1)  # then the assistant answers as usual
        assert "Brightside" in greeting["text"]
        assert await redis.get(CUSTOMER_KEYS.identity("slack", user_ids(slack.user)[0])) == owner
    finally:
        await slack.http.aclose()

