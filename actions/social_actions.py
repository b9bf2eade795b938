"""action_reply_social: the reply to a greeting, thanks, a yes or a no, or a
request for help, that still answers a question carried in the same message
(issue 16 item 5): "Hi! where is my order?", "thanks, and how do I return
something?", "no, I meant the delivery cost", "Hallo, wo bleibt mein Paket?".

The intent model files such messages under the social intent; this action asks
the knowledge base about the message (also without its greeting or "no,"
around it, actions/question_in_message.py) and answers from it when the
decision is an answer, or a clarification of what is left once a greeting is
cut off. Otherwise it gives the intent's usual reply (utter_greet, ...), and a
"yes" or "no" to the offer of a person accepts or declines it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_actions import escalate, record_accepted_offer
from actions.handover_offer import person_was_offered
from actions.knowledge_actions import reply_for, say
from actions.knowledge_service import knowledge_service
from actions.question_in_message import Found, best_decision
from core.i18n import supported, text

# The usual reply of each social intent (domain.yml responses).
SOCIAL_REPLIES = {
    "greet": "utter_greet",
    "thanks": "utter_you_are_welcome",
    "affirm": "utter_anything_else",
    "deny": "utter_no_problem",
    "help": "utter_help",
}


def opening(intent: str, language: str) -> str | None:
    """What naturally comes before an answer to a message that opened with a
    greeting or thanks."""
    if intent == "greet":
        return text("actions", language, "Hi!")
    if intent == "thanks":
        return text("actions", language, "You're welcome!")
    return None


def carries_question(found: Found) -> bool:
    """An answer is confident enough on its own; a clarification only when a
    greeting or "no," was cut off and a question of its own is left (a bare
    "thanks so much" must not get article buttons)."""
    if found.decision.kind == "answer":
        return True
    return found.decision.kind == "clarify" and found.candidate.stripped and \
        len(found.candidate.text.split()) >= 2


class ActionReplySocial(Action):
    def name(self) -> str:
        return "action_reply_social"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name") or ""
        query = (message.get("text") or "").strip()
        channel = (message.get("metadata") or {}).get("channel", "web")
        language = supported(tracker.get_slot("language"))

        if query and not query.startswith("/"):  # typed, not a button's payload
            service = await knowledge_service()
            found = await best_decision(service, query, channel, tracker.sender_id,
                                        record=False)
            if carries_question(found):
                if found.decision.kind != "answer":  # unanswered, as the knowledge action records
                    await service.store.record_unanswered(
                        query, found.decision.kind, channel, customer_id=tracker.sender_id)
                reply = await reply_for(service, found.decision, channel, language)
                return await say(dispatcher, tracker, query, reply, found.decision.article,
                                 opening=opening(intent, language))

        if intent in ("affirm", "deny") and person_was_offered(tracker):
            if intent == "deny":
                dispatcher.utter_message(response="utter_rephrase")
                return []
            # "yes" to "Shall I pass you to a person?": the customer accepted.
            await record_accepted_offer(tracker)
            told = await escalate(tracker, "repeated_fallback")
            dispatcher.utter_message(text=told,
                                     json_message={"frontdoor": {"decision": "escalate"}})
            return [SlotSet("article_id", None)]

        dispatcher.utter_message(response=SOCIAL_REPLIES.get(intent, "utter_default"))
        return []
