"""action_escalate_to_human: open a ticket with what the assistant understood,
hand the conversation to the queue, and tell the customer where they stand."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_service import handoff_service
from actions.handover_offer import offered_for, person_was_offered
from actions.knowledge_service import knowledge_service
from bot.customers.merge import Customers
from core.staff import StaffStore
from handoff.messages import escalation_text
from handoff.models import Summary

ESCALATION_REASON_SLOT = "escalation_reason"
ESCALATION_TOPIC_SLOT = "escalation_topic"
# Rasa's and our own bookkeeping slots: nothing an agent needs to read.
INTERNAL_SLOTS = {ESCALATION_REASON_SLOT, ESCALATION_TOPIC_SLOT, "session_started_metadata",
                  "requested_slot", "article_id"}


def summary_of(tracker: Tracker) -> Summary:
    """Intents, slots and knowledge articles tried, from the tracker's events."""
    intents, articles, last_text = [], [], ""
    for event in tracker.events:
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if intent:
                intents.append(intent)
            last_text = event.get("text") or last_text
        elif event.get("event") == "bot":
            note = ((event.get("data") or {}).get("custom") or {}).get("frontdoor") or {}
            if note.get("article"):
                articles.append({**note["article"], "decision": note.get("decision")})
            for option in note.get("options", []):
                articles.append({"id": option, "decision": "clarify"})
    slots = {k: v for k, v in tracker.current_slot_values().items()
             if v is not None and k not in INTERNAL_SLOTS}
    return Summary(intents=intents[-20:], slots=slots, articles_tried=articles[-10:],
                   last_customer_text=last_text[:500])


async def escalate(tracker: Tracker, reason: str, topic: str | None = None) -> str:
    """Open (or find) the customer's ticket; the text that tells them about it."""
    service = handoff_service()
    customer_id = tracker.sender_id
    channel = ((tracker.latest_message or {}).get("metadata") or {}).get("channel", "web")
    # The channel's name for them, else the name they told the assistant.
    name = await Customers(service.redis).display_name(customer_id)
    display_name = name or tracker.get_slot("customer_name") or ""
    ticket, standing = await service.escalate(
        customer_id, channel, reason, summary=summary_of(tracker), topic=topic,
        display_name=str(display_name)[:80], language=tracker.get_slot("language"))
    agent_name = None
    if ticket.status == "claimed" and ticket.agent:
        agent_name = await _display_name(service, ticket.agent)
    # The gateway sets the slot from the customer's language before each turn.
    return escalation_text(ticket, standing, service.teams.team(ticket.team), agent_name,
                           tracker.get_slot("language"))


async def _display_name(service, username: str) -> str:
    return await StaffStore(service.redis).display_name(username)


async def record_accepted_offer(tracker: Tracker) -> None:
    """The customer accepted the offer of a person: the question the offer
    followed was handed over, and the editors' unanswered questions say so
    (once: the escalated entry takes the place of its fallback entry)."""
    query = offered_for(tracker)
    if query is None:
        return
    channel = ((tracker.latest_message or {}).get("metadata") or {}).get("channel", "web")
    service = await knowledge_service()
    await service.store.record_unanswered(query, "escalated", channel,
                                          customer_id=tracker.sender_id)


class ActionEscalateToHuman(Action):
    def name(self) -> str:
        return "action_escalate_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        # Accepting the offer of a person after repeated misses is not understood
        # rather than asked: reports keep counting what the assistant could not answer.
        reason = tracker.get_slot(ESCALATION_REASON_SLOT) or \
            ("repeated_fallback" if person_was_offered(tracker) else "asked_for_human")
        topic = tracker.get_slot(ESCALATION_TOPIC_SLOT)
        if person_was_offered(tracker):
            await record_accepted_offer(tracker)
        text = await escalate(tracker, reason, topic)
        dispatcher.utter_message(text=text, json_message={"frontdoor": {"decision": "escalate"}})
        return [SlotSet(ESCALATION_REASON_SLOT, None), SlotSet(ESCALATION_TOPIC_SLOT, None)]
