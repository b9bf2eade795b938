"""action_answer_from_knowledge: answer, clarify or fall back from the knowledge base."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_service import knowledge_service, load_embedder
from knowledge import ArticleNotFound
from knowledge.replies import FALLBACK_TEXT, Reply, article_reply, decision_reply
from knowledge.settings import KnowledgeSettings


class ActionAnswerFromKnowledge(Action):
    def __init__(self) -> None:
        load_embedder(KnowledgeSettings())

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        service = await knowledge_service()
        message = tracker.latest_message or {}
        channel = (message.get("metadata") or {}).get("channel", "web")
        chosen = next(tracker.get_latest_entity_values("article_id"), None)

        if chosen:  # the customer pressed one of the clarification buttons
            # so that clarification was not left unanswered (editors' view)
            await service.store.clarification_picked(tracker.sender_id, chosen)
            try:
                reply = article_reply(await service.article(chosen), channel)
            except ArticleNotFound:
                reply = Reply(text=FALLBACK_TEXT, note={"decision": "fallback"})
        else:
            decision = await service.decide(message.get("text") or "", channel,
                                            customer_id=tracker.sender_id)
            reply = decision_reply(decision, channel)

        dispatcher.utter_message(
            text=reply.text, buttons=reply.buttons, json_message={"frontdoor": reply.note}
        )
        return [SlotSet("article_id", None)] if chosen else []
