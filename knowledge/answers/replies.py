"""Turn a policy decision into the assistant's messages (channel-neutral: text
with Markdown, buttons, and a machine-readable note of what was shown)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from knowledge.models import Article, Decision

FALLBACK_TEXT = (
    "Sorry, I don't know the answer to that yet. I can help with orders, delivery, "
    "returns, refunds, payments and your account. Could you put it another way?"
)
CLARIFY_TEXT = "I found a few things that might help. Which one do you mean?"
# Offered with every fallback so any channel has a one-tap way to a person.
TALK_TO_PERSON = {"title": "Talk to a person", "payload": "/request_human"}


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    # Rides along as Rasa "custom" JSON so the gateway can record which article
    # and version the customer saw, and what the policy decided.
    note: dict = field(default_factory=dict)


def choose_article_payload(article_id: str) -> str:
    return "/choose_article" + json.dumps({"article_id": article_id}, separators=(",", ":"))


def article_reply(article: Article, channel: str) -> Reply:
    return Reply(
        text=article.answer_for(channel),
        note={"decision": "answer", "article": article.ref().model_dump()},
    )


def decision_reply(decision: Decision, channel: str) -> Reply:
    if decision.kind == "answer" and decision.article is not None:
        return article_reply(decision.article, channel)
    if decision.kind == "clarify":
        return Reply(
            text=CLARIFY_TEXT,
            buttons=[
                {"title": m.title, "payload": choose_article_payload(m.article_id)}
                for m in decision.options
            ],
            note={"decision": "clarify", "options": [m.article_id for m in decision.options]},
        )
    return Reply(text=FALLBACK_TEXT, buttons=[TALK_TO_PERSON], note={"decision": "fallback"})
