"""action_answer_from_knowledge: answer, clarify or fall back from the knowledge
base, and escalate to a person when that is what the customer needs: a second
unanswered question in a row, or a topic configured as human-only."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_actions import escalate
from actions.handoff_service import handoff_service
from actions.knowledge_service import knowledge_service, load_embedder
from core.i18n import supported
from core.settings import get_settings
from handoff.sentiment import is_negative
from knowledge import ArticleNotFound
from knowledge.answers.replies import article_reply, decision_reply, fallback_reply

UNANSWERED = ("fallback", "clarify")


def unanswered_streak(tracker: Tracker) -> int:
    """How many of the assistant's latest knowledge replies in a row left the
    customer without an answer (a fallback, or buttons nobody picked)."""
    streak = 0
    for event in reversed(tracker.events):
        if event.get("event") != "bot":
            continue
        note = ((event.get("data") or {}).get("custom") or {}).get("frontdoor") or {}
        decision = note.get("decision")
        if decision is None:
            continue
        if decision not in UNANSWERED:
            break
        streak += 1
    return streak


def human_only_topic(tags: tuple[str, ...] | list[str], topics: list[str]) -> str | None:
    return next((tag for tag in tags if tag in topics), None)


class ActionAnswerFromKnowledge(Action):
    def __init__(self) -> None:
        load_embedder(get_settings().knowledge)

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        service = await knowledge_service()
        handoff = handoff_service().settings
        message = tracker.latest_message or {}
        channel = (message.get("metadata") or {}).get("channel", "web")
        chosen = next(tracker.get_latest_entity_values("article_id"), None)
        query = message.get("text") or ""
        language = supported(tracker.get_slot("language"))  # the gateway sets it; en if unset

        if chosen:  # the customer pressed one of the clarification buttons
            # so that clarification was not left unanswered (editors' view)
            await service.store.clarification_picked(tracker.sender_id, chosen)
            try:
                article = await service.article(chosen)
                reply = article_reply(article, channel, language)
            except ArticleNotFound:
                article, reply = None, fallback_reply(language)
                reply = replace(reply, buttons=[])
        else:
            decision = await service.decide(query, channel, customer_id=tracker.sender_id)
            article = decision.article
            # clarification buttons titled in the customer's language
            options = {}
            for match in decision.options:
                with contextlib.suppress(ArticleNotFound):
                    options[match.article_id] = await service.store.get(match.article_id)
            reply = decision_reply(decision, channel, language, options)

        if handoff.sentiment_escalation and not chosen and \
                is_negative(query, handoff.sentiment_threshold):
            return self._escalated(dispatcher, await escalate(tracker, "negative_sentiment"))
        topic = human_only_topic(article.tags, handoff.human_only_topics) if article else None
        if topic is not None:
            return self._escalated(dispatcher, await escalate(tracker, f"topic:{topic}", topic))
        if reply.note.get("decision") == "fallback" and \
                unanswered_streak(tracker) + 1 >= handoff.fallbacks_before_escalation:
            await service.store.record_unanswered(query, "escalated", channel,
                                                  customer_id=tracker.sender_id)
            return self._escalated(dispatcher, await escalate(tracker, "repeated_fallback"))

        dispatcher.utter_message(
            text=reply.text, buttons=reply.buttons, json_message={"frontdoor": reply.note}
        )
        return [SlotSet("article_id", None)] if chosen else []

    @staticmethod
    def _escalated(dispatcher: CollectingDispatcher, text: str) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=text, json_message={"frontdoor": {"decision": "escalate"}})
        return [SlotSet("article_id", None)]
