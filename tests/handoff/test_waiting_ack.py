"""A customer waiting in the queue hears that each message was added to their
request (with its reference, in their language), once per burst, not once per
message; nothing is said once an agent holds the conversation."""

import asyncio
import time

from bot.customers.language import CustomerLanguages
from core.models import OWNER_QUEUE, InboundMessage
from core.settings import HandoffSettings
from handoff.service import HandoffService, agent_owner
from handoff.waiting_ack import acknowledgement_text
from tests.handoff.test_queue_updates import Told, bridge_for


def message(text: str) -> InboundMessage:
    return InboundMessage(channel="web", channel_user_id="u1", external_id=text, text=text)


async def test_a_burst_of_messages_while_waiting_is_acknowledged_once_with_the_reference(redis):
    service = HandoffService(redis, HandoffSettings(waiting_ack_interval_s=30))
    ticket, _ = await service.escalate("c_1", "web", "asked_for_human")
    told = Told()
    bridge = bridge_for(redis, service, told, {"c_1": "web"})
    for text in ("hello?", "my order number is 1234", "it's urgent"):
        await bridge.person_owned("c_1", OWNER_QUEUE, message(text), None)
    assert len(told.messages) == 1
    assert told.messages[0][1].startswith(
        f"Got it, I've added this to your request {ticket.ref}.")


async def test_the_next_message_after_the_interval_is_acknowledged_again(redis):
    service = HandoffService(redis, HandoffSettings(waiting_ack_interval_s=0.2))
    await service.escalate("c_1", "web", "asked_for_human")
    told = Told()
    bridge = bridge_for(redis, service, told, {"c_1": "web"})
    await bridge.person_owned("c_1", OWNER_QUEUE, message("hello?"), None)
    deadline = time.monotonic() + 5
    while len(told.messages) < 2 and time.monotonic() < deadline:
        await bridge.person_owned("c_1", OWNER_QUEUE, message("still there?"), None)
        await asyncio.sleep(0.05)
    assert len(told.messages) == 2


async def test_a_german_customer_is_acknowledged_in_german(redis):
    service = HandoffService(redis, HandoffSettings())
    ticket, _ = await service.escalate("c_1", "web", "asked_for_human")
    await CustomerLanguages(redis).choose("c_1", "de", "customer")
    told = Told()
    bridge = bridge_for(redis, service, told, {"c_1": "web"})
    await bridge.person_owned("c_1", OWNER_QUEUE, message("hallo?"), None)
    assert told.messages[0][1].startswith(
        f"Verstanden, ich habe das zu Ihrer Anfrage {ticket.ref} hinzugefügt.")


async def test_nothing_is_acknowledged_once_an_agent_holds_the_conversation(redis):
    service = HandoffService(redis, HandoffSettings())
    await service.escalate("c_1", "web", "asked_for_human")
    told = Told()
    bridge = bridge_for(redis, service, told, {"c_1": "web"})
    await bridge.person_owned("c_1", agent_owner("ann"), message("hello?"), None)
    assert told.messages == []


def test_the_acknowledgement_fits_one_sms_segment():
    said = acknowledgement_text("FD-7K2Q", "en")
    assert said == "Got it, I've added this to your request FD-7K2Q."
    assert "—" not in acknowledgement_text("FD-7K2Q", "de")
