"""action_answer_from_knowledge: answer, clarify or fall back from the knowledge
base; after repeated misses offer a person (docs/handoff.md, "When the
assistant hands over"); hand over at once on a topic configured as human-only."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_actions import escalate
from actions.handoff_service import handoff_service
from actions.handover_offer import offer_reply
from actions.knowledge_service import knowledge_service, load_embedder
from actions.question_in_message import best_decision
from core.i18n import supported
from core.settings import get_settings
from handoff.sentiment import is_negative
from knowledge import ArticleNotFound
from knowledge.answers.replies import Reply, article_reply, decision_reply, fallback_reply
from knowledge.answers.service import KnowledgeService
from knowledge.models import Article, Decision

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
            # the question, also without a greeting or "no," around it
            decision = (await best_decision(service, query, channel, tracker.sender_id)).decision
            article = decision.article
            reply = await reply_for(service, decision, channel, language)

        events = await say(dispatcher, tracker, query, reply, article, chosen=bool(chosen))
        return events + ([SlotSet("article_id", None)] if chosen and not events else [])


async def reply_for(service: KnowledgeService, decision: Decision, channel: str,
                    language: str) -> Reply:
    """The reply to a decision, clarification buttons titled in the customer's language."""
    options = {}
    for match in decision.options:
        with contextlib.suppress(ArticleNotFound):
            options[match.article_id] = await service.store.get(match.article_id)
    return decision_reply(decision, channel, language, options)


async def say(dispatcher: CollectingDispatcher, tracker: Tracker, query: str, reply: Reply,
              article: Article | None, *, chosen: bool = False,
              opening: str | None = None) -> list[dict[str, Any]]:
    """Say a knowledge reply, or hand over instead when the topic is human-only
    (or the customer is upset, if that is switched on); a miss after a miss
    becomes the offer of a person. `opening` ("Hi!") goes before an answer."""
    handoff = handoff_service().settings
    language = supported(tracker.get_slot("language"))
    if handoff.sentiment_escalation and not chosen and \
            is_negative(query, handoff.sentiment_threshold):
        return _escalated(dispatcher, await escalate(tracker, "negative_sentiment"))
    topic = human_only_topic(article.tags, handoff.human_only_topics) if article else None
    if topic is not None:
        return _escalated(dispatcher, await escalate(tracker, f"topic:{topic}", topic))
    if reply.note.get("decision") == "fallback":
        # Not understood again: offer a person instead of handing over unasked.
        misses = unanswered_streak(tracker) + 1
        if misses >= handoff.misses_before_offer:
            reply = offer_reply(misses - handoff.misses_before_offer, language)
    said = f"{opening}\n\n{reply.text}" if opening and reply.note.get("decision") == "answer" \
        else reply.text
    dispatcher.utter_message(text=said, buttons=reply.buttons,
                             json_message={"frontdoor": reply.note})
    return []


def _escalated(dispatcher: CollectingDispatcher, text: str) -> list[dict[str, Any]]:
    dispatcher.utter_message(text=text, json_message={"frontdoor": {"decision": "escalate"}})
    return [SlotSet("article_id", None)]
