"""Through the real Rasa server, action server and handoff: after a customer's
second unanswered question they accept the offer of a person, and the editors'
unanswered questions count each of the two messages once (the escalated one
was recorded twice: as a fallback by the knowledge service, then as escalated)."""

import uuid

import pytest

from knowledge.unanswered import UnansweredQuestions
from tests.bot.gateway.test_stack import Chat
from tests.handoff.test_escalation_stack import REF_RE, agent, next_entry  # noqa: F401

pytestmark = pytest.mark.stack


async def test_an_escalated_message_is_counted_once(stack, agent, stack_redis):  # noqa: F811
    marker = uuid.uuid4().hex[:6]  # the shared stack's stream holds other tests' questions
    first = f"what is the airspeed velocity of an unladen swallow {marker}"
    second = f"explain quantum chromodynamics to my cat {marker}"
    chat = await Chat.open(stack)
    try:
        await chat.say(first)
        assert (await next_entry(chat, "bot"))["decision"] == "fallback"
        await chat.say(second)
        offer = await next_entry(chat, "bot")
        assert REF_RE.search(offer["text"]) is None  # offered, not handed over yet
        await chat.press(offer["buttons"][0])  # "Talk to a person"
        handed_over = await next_entry(chat, "bot")
        ref = REF_RE.search(handed_over["text"])[0]
        await agent.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    finally:
        await chat.close()

    entries = [e for e in await UnansweredQuestions(stack_redis).open_entries()
               if marker in e.query]
    assert sorted((e.query, e.outcome) for e in entries) == sorted([
        (first, "fallback"), (second, "escalated")])
