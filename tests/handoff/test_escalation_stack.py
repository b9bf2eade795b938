"""Escalation through the real assistant: the customer asks for a person, or
accepts the person offered after two misses, or raises a human-only topic; the bot then stays
silent while a person owns the conversation; the agent's reply reaches the
customer; resolve hands back to the bot and asks for a rating."""

import re
from datetime import UTC, datetime

import pytest

from core.settings import HandoffSettings
from handoff.service import HandoffService
from handoff.teams import is_open
from tests.bot.gateway.test_stack import Chat
from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.stack
REF_RE = re.compile(r"FD-[A-Z0-9]{4}")


async def next_entry(chat: Chat, *authors: str, timeout: float = 30) -> dict:
    while True:
        frame = await chat.next_frame("entry", timeout)
        if frame["entry"]["author"] in authors:
            return frame["entry"]


async def silent(chat: Chat, seconds: float = 2.5) -> list[dict]:
    """Entries from anyone but the customer within `seconds` (should be none)."""
    said = []
    try:
        while True:
            said.append(await next_entry(chat, "bot", "agent", "system", timeout=seconds))
    except TimeoutError:
        return said


@pytest.fixture
async def agent(stack, stack_redis):
    username = f"agent{datetime.now().strftime('%H%M%S%f')}"
    await make_staff(stack_redis, username, "agent")
    client = await signed_in_client(stack.base_url, username)
    await client.put("/api/agent/presence", json={"status": "online"})
    yield client
    await client.put("/api/agent/presence", json={"status": "offline"})
    await client.aclose()


async def test_asking_for_a_person_hands_over_and_the_bot_goes_quiet_until_resolve(
        stack, agent):
    chat = await Chat.open(stack)
    try:
        await chat.say("where is my order?")
        await chat.bot_reply()
        await chat.say("I want to talk to a real person please")
        told = await next_entry(chat, "bot")
        ref = REF_RE.search(told["text"])[0]
        assert "passing you to a person" in told["text"]

        detail = (await agent.get(f"/api/agent/tickets/{ref}")).json()
        assert detail["ticket"]["status"] == "queued"
        assert detail["ticket"]["reason"] == "asked_for_human"
        assert detail["ticket"]["summary"]["intents"][-2:] == ["ask_question", "request_human"]
        assert any(e["text"] == "where is my order?" for e in detail["transcript"])

        # While the ticket waits, the bot does not answer.
        await chat.say("hello? where is my order?")
        assert all(e["author"] == "system" for e in await silent(chat))

        assert (await agent.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
        joined = await next_entry(chat, "system")
        assert "joined the conversation" in joined["text"]
        reply = await agent.post(f"/api/agent/tickets/{ref}/reply",
                                 json={"text": "Hi, I'm looking at your order **now**."})
        assert reply.status_code == 200
        from_agent = await next_entry(chat, "agent")
        assert "looking at your order" in from_agent["text"]
        assert "<strong>now</strong>" in from_agent["html"]

        await chat.say("thanks, and what are your opening hours?")
        assert await silent(chat) == []  # the agent owns it: no bot answer

        resolved = await agent.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": True})
        assert resolved.json()["status"] == "resolved"
        handed_back = await next_entry(chat, "system")
        assert "handed you back to the assistant" in handed_back["text"]
        rating = await next_entry(chat, "system")
        assert len(rating["buttons"]) == 5
        await chat.press(rating["buttons"][0])  # five stars
        thanks = await next_entry(chat, "system")
        assert "Thank you for your rating" in thanks["text"]
        assert (await agent.get(f"/api/agent/tickets/{ref}")).json()["ticket"]["csat"] == 5

        # Back with the bot (the agent went offline, so no sticky return).
        await agent.put("/api/agent/presence", json={"status": "offline"})
        await chat.say("how much does delivery cost?")
        answer = await next_entry(chat, "bot")
        assert answer["article"]["id"] == "delivery-costs"
    finally:
        await chat.close()


async def test_two_unanswered_questions_in_a_row_offer_a_person_and_accepting_escalates(
        stack, agent):
    chat = await Chat.open(stack)
    try:
        await chat.say("what is the airspeed velocity of an unladen swallow")
        first = await next_entry(chat, "bot")
        assert first["decision"] == "fallback"
        assert [b["title"] for b in first["buttons"]] == ["Talk to a person"]
        await chat.say("explain quantum chromodynamics to my cat")
        second = await next_entry(chat, "bot")
        assert "Shall I pass you to a person" in second["text"]
        assert REF_RE.search(second["text"]) is None  # offered, not handed over
        await chat.press(second["buttons"][0])  # "Talk to a person"
        told = await next_entry(chat, "bot")
        ref = REF_RE.search(told["text"])[0]
        ticket = (await agent.get(f"/api/agent/tickets/{ref}")).json()["ticket"]
        assert ticket["reason"] == "repeated_fallback"
        await agent.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    finally:
        await chat.close()


async def test_human_only_topics_go_to_their_team(stack, agent, stack_redis):
    service = HandoffService(stack_redis, HandoffSettings())
    chat = await Chat.open(stack)
    try:
        await chat.say("I want to cancel my Brightside Plus membership")
        told = await next_entry(chat, "bot")
        ref = REF_RE.search(told["text"])[0]
        ticket = (await agent.get(f"/api/agent/tickets/{ref}")).json()["ticket"]
        assert ticket["team"] == "billing" and ticket["reason"] == "topic:cancellation"
        if is_open(service.teams.team("billing"), datetime.now(UTC)):
            assert "in the queue" in told["text"] or "next in line" in told["text"]
        else:
            assert "closed right now" in told["text"] and "New York time" in told["text"]
        await agent.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    finally:
        await chat.close()
