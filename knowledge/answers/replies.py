"""Turn a policy decision into the assistant's messages (channel-neutral: text
with Markdown, buttons, and a machine-readable note of what was shown), in the
customer's language.

An article answers in the customer's language when it has a version in it;
otherwise in its main language, with a one-line note in the customer's language
saying so. The fixed texts come from the `knowledge` message catalogue
(locale/<lang>/LC_MESSAGES/knowledge.po)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.i18n import N_, supported, translator
from knowledge.models import Article, Decision

FALLBACK_TEXT = N_(
    "Sorry, I don't know the answer to that yet. I can help with orders, delivery, "
    "returns, refunds, payments and your account. Could you put it another way?"
)
CLARIFY_TEXT = N_("I found a few things that might help. Which one do you mean?")
TALK_TO_PERSON_TITLE = N_("Talk to a person")
# Offered with every fallback so any channel has a one-tap way to a person.
TALK_TO_PERSON = {"title": TALK_TO_PERSON_TITLE, "payload": "/request_human"}
# "Only in <the language shown>": one sentence per language an answer can be in.
ONLY_IN = {
    "en": N_("This answer is only available in English so far."),
    "de": N_("This answer is only available in German so far."),
}


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    # Rides along as Rasa "custom" JSON so the gateway can record which article
    # and version the customer saw, in which language, and what the policy decided.
    note: dict = field(default_factory=dict)


def _t(language: str, message: str) -> str:
    return translator("knowledge", language).gettext(message)


def choose_article_payload(article_id: str) -> str:
    return "/choose_article" + json.dumps({"article_id": article_id}, separators=(",", ":"))


def article_reply(article: Article, channel: str, language: str = "en") -> Reply:
    """The article in the customer's `language` if it has it, else in its main
    language with a note (in the customer's language) that says so."""
    language = supported(language)
    shown = language if article.has(language) else article.language
    text = article.text(shown).answer_for(channel)
    if shown != language:
        only_in = ONLY_IN.get(shown)
        if only_in is not None:
            text = f"_{_t(language, only_in)}_\n\n{text}"
    return Reply(
        text=text,
        note={"decision": "answer", "article": article.ref(shown).model_dump()},
    )


def fallback_reply(language: str = "en") -> Reply:
    return Reply(text=_t(language, FALLBACK_TEXT),
                 buttons=[{**TALK_TO_PERSON, "title": _t(language, TALK_TO_PERSON_TITLE)}],
                 note={"decision": "fallback"})


def decision_reply(decision: Decision, channel: str, language: str = "en",
                   articles: Mapping[str, Article] | None = None) -> Reply:
    """`articles` (by id) give the clarification buttons their title in the
    customer's language; without it, or for an article not in it, the
    match's (main-language) title."""
    language = supported(language)
    if decision.kind == "answer" and decision.article is not None:
        return article_reply(decision.article, channel, language)
    if decision.kind == "clarify":
        articles = articles or {}
        titles = {m.article_id: (articles[m.article_id].text(language).title
                                 if m.article_id in articles else m.title)
                  for m in decision.options}
        return Reply(
            text=_t(language, CLARIFY_TEXT),
            buttons=[
                {"title": titles[m.article_id], "payload": choose_article_payload(m.article_id)}
                for m in decision.options
            ],
            note={"decision": "clarify", "options": [m.article_id for m in decision.options]},
        )
    return fallback_reply(language)
