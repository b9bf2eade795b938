"""Offer before handing over (issue 16 item 2), through the real Rasa model,
action server and gateway: a miss after a miss offers a person instead of
opening a ticket; a ticket is opened when the customer accepts, asks for a
person in words, or raises a human-only topic; a waiting customer's message is
acknowledged with the ticket reference and reaches the agent."""

from __future__ import annotations

import pytest

from tests.bot.gateway.test_stack import Chat
from tests.handoff.test_escalation_stack import REF_RE, agent, next_entry  # noqa: F401
from tests.test_assistant_german import Rasa, customer

pytestmark = pytest.mark.stack
NONSENSE = "purple elephants dance on the keyboard at midnight"


async def ticket_of(agent, reply: dict) -> dict:  # noqa: F811
    ref = REF_RE.search(reply["text"])[0]
    return (await agent.get(f"/api/agent/tickets/{ref}")).json()


async def test_nonsense_twice_gets_the_offer_of_a_person_and_no_ticket(stack):
    chat = await Chat.open(stack)
    try:
        await chat.say(NONSENSE)
        first = await next_entry(chat, "bot")
        assert first["decision"] == "fallback"
        await chat.say(NONSENSE)
        offer = await next_entry(chat, "bot")
        assert offer["text"] == ("I couldn't find that. Shall I pass you to a person, or would "
                                 "you like to rephrase?")
        assert [b["title"] for b in offer["buttons"]] == ["Talk to a person", "I'll rephrase"]
        # A third miss still gets the bot (no queue), and a different wording.
        await chat.say(NONSENSE)
        third = await next_entry(chat, "bot")
        assert third["text"].startswith("I still couldn't find an answer to that.")
        assert not any(REF_RE.search(e["text"]) for e in (first, offer, third))

        await chat.press(third["buttons"][1])  # "I'll rephrase"
        assert "Ask me in other words" in (await next_entry(chat, "bot"))["text"]
        await chat.say("how much does delivery cost?")  # the rephrasing is answered
        assert (await next_entry(chat, "bot"))["article"]["id"] == "delivery-costs"
    finally:
        await chat.close()


async def test_saying_yes_to_the_offer_creates_a_ticket(stack, agent):  # noqa: F811
    chat = await Chat.open(stack)
    try:
        for text in ("what is the airspeed velocity of an unladen swallow", NONSENSE):
            await chat.say(text)
            reply = await next_entry(chat, "bot")
        assert reply["buttons"][0]["title"] == "Talk to a person"
        await chat.say("yes please")
        told = await next_entry(chat, "bot")
        assert "passing you to a person" in told["text"]
        detail = await ticket_of(agent, told)
        assert detail["ticket"]["reason"] == "repeated_fallback"
        await agent.post(f"/api/agent/tickets/{detail['ticket']['ref']}/resolve",
                         json={"csat": False})
    finally:
        await chat.close()


async def test_asking_for_a_person_escalates_at_once(stack, agent):  # noqa: F811
    chat = await Chat.open(stack)
    try:
        await chat.say("can I talk to a human please")
        told = await next_entry(chat, "bot")
        detail = await ticket_of(agent, told)
        assert detail["ticket"]["reason"] == "asked_for_human"
        await agent.post(f"/api/agent/tickets/{detail['ticket']['ref']}/resolve",
                         json={"csat": False})
    finally:
        await chat.close()


async def test_a_human_only_topic_after_a_greeting_escalates_at_once(stack, agent):  # noqa: F811
    chat = await Chat.open(stack)
    try:
        await chat.say("Hello, I want to make a complaint about your service")
        told = await next_entry(chat, "bot")
        detail = await ticket_of(agent, told)
        assert detail["ticket"]["reason"] == "topic:complaint"
        await agent.post(f"/api/agent/tickets/{detail['ticket']['ref']}/resolve",
                         json={"csat": False})
    finally:
        await chat.close()


async def test_a_waiting_customers_message_is_acknowledged_and_reaches_the_agent(
        stack, agent):  # noqa: F811
    chat = await Chat.open(stack)
    try:
        await chat.say("I want to talk to a real person please")
        told = await next_entry(chat, "bot")
        ref = REF_RE.search(told["text"])[0]
        await chat.say("my order number is 77123")
        ack = await next_entry(chat, "system", "bot")
        assert ack["author"] == "system"
        assert ack["text"].startswith(f"Got it, I've added this to your request {ref}.")
        transcript = (await agent.get(f"/api/agent/tickets/{ref}")).json()["transcript"]
        assert any(e["text"] == "my order number is 77123" for e in transcript)
        await agent.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    finally:
        await chat.close()


async def test_a_german_customer_is_offered_a_person_in_german(stack):
    rasa, german = Rasa(stack), customer()
    await rasa.set_language(german, "de")
    await rasa.say(german, "lila Elefanten tanzen um Mitternacht auf der Tastatur")
    offer = await rasa.say(german, "lila Elefanten tanzen um Mitternacht auf der Tastatur")
    assert offer == ["Dazu habe ich nichts gefunden. Soll ich Sie mit einem Menschen aus "
                     "unserem Team verbinden, oder möchten Sie die Frage anders formulieren?"]
    assert await rasa.say(german, "nein") == [
        "Gern. Fragen Sie einfach mit anderen Worten, dann suche ich noch einmal."]
