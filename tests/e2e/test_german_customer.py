"""German customers end to end: the platform sandboxes deliver their messages,
the real Rasa server and action server answer from the one knowledge base, and
everything a German customer reads is German — a knowledge answer on Telegram
and on SMS, an escalation on web chat whose ticket says German, and a customer
who switches language mid-conversation and is followed both ways."""

import re
import uuid
from pathlib import Path

import pytest

from bot.channels.sms.render import encoding_of
from core.language import detect_language
from tests.bot.channels.test_conversations import Customer
from tests.bot.gateway.test_stack import Chat
from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.stack
REF = re.compile(r"FD-[A-Z0-9]+")


ARTICLES = Path(__file__).resolve().parents[2] / "knowledge" / "articles"


def opening(article_id: str, language: str) -> str:
    """The first line of an article's answer in one language, without Markdown."""
    name = f"{article_id}.md" if language == "en" else f"{article_id}.{language}.md"
    body = (ARTICLES / name).read_text(encoding="utf-8").split("---", 2)[2]
    return body.strip().splitlines()[0].replace("**", "")


@pytest.fixture
def redis(stack_redis):
    return stack_redis


async def agent_client(stack, redis):
    username = "agent" + uuid.uuid4().hex[:6]
    await make_staff(redis, username, "agent")
    return await signed_in_client(f"http://{stack.host}:{stack.port}", username)


async def bot_entries(stack, redis, channel: str, user: str) -> list[dict]:
    """The bot's transcript entries for one channel identity, as an agent sees them."""
    agent = await agent_client(stack, redis)
    try:
        found = await agent.get("/api/customers", params={"channel": channel,
                                                          "channel_user_id": user})
        customer = found.json()["customer_id"]
        entries = (await agent.get(f"/api/customers/{customer}/transcript")).json()["entries"]
    finally:
        await agent.aclose()
    return [e for e in entries if e["author"] == "bot"]


async def test_a_german_question_on_telegram_gets_the_german_answer_of_the_right_article(
        stack, redis):
    telegram = Customer(stack, "telegram")
    try:
        reply = await telegram.say("Wo ist meine Bestellung?")
        assert reply["text"].startswith(
            (opening("track-order", "de"), opening("order-not-arrived", "de"))), reply["text"]
    finally:
        await telegram.http.aclose()


async def test_a_german_sms_question_is_answered_in_german_within_the_sms_limits(stack, redis):
    sms = Customer(stack, "sms")
    try:
        reply = await sms.say("Kann ich mit PayPal zahlen?")
        assert "PayPal" in reply["text"]
        assert detect_language(reply["text"]) == "de", reply["text"]
        assert encoding_of(reply["text"]) == "GSM-7"  # ä ö ü ß stay in GSM-7
        [answer] = await bot_entries(stack, redis, "sms", sms.user)
        assert (answer["article"]["id"], answer["article"]["language"]) == (
            "payment-methods", "de")
    finally:
        await sms.http.aclose()


async def test_a_german_escalation_on_web_chat_tells_the_reference_and_queue_in_german(
        stack, redis):
    chat = await Chat.open(stack)
    try:
        await chat.say("Ich möchte mit einem Menschen sprechen")
        text = (await chat.bot_reply(timeout=60))["text"]
        assert "Ich verbinde Sie mit einer Person" in text, text
        ref = REF.search(text)
        assert ref, text
        assert "Vorgangsnummer" in text

        agent = await agent_client(stack, redis)
        try:
            detail = (await agent.get(f"/api/agent/tickets/{ref[0]}")).json()
        finally:
            await agent.aclose()
        assert detail["ticket"]["language"] == "de"
        said = [e for e in detail["transcript"] if e["author"] == "customer"]
        assert [(e["text"], e.get("language")) for e in said] == [
            ("Ich möchte mit einem Menschen sprechen", "de")]
    finally:
        await chat.close()


async def test_a_customer_who_switches_language_mid_conversation_is_answered_in_each(
        stack, redis):
    telegram = Customer(stack, "telegram")
    try:
        first = await telegram.say("can I pay with PayPal?")
        second = await telegram.say("Und wie lange dauert der Versand nach Österreich?")
        third = await telegram.say("thanks! how do I return something I don't like?")
        assert [detect_language(r["text"]) for r in (first, second, third)] == [
            "en", "de", "en"], [r["text"] for r in (first, second, third)]
        assert "PayPal" in first["text"]
    finally:
        await telegram.http.aclose()
