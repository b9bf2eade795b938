"""A question reaches the knowledge base whatever else the message carries
(issue 16 item 5): greeting, thanks, "ok", "no, I meant ..." in front of a
question, in English and German, through the real Rasa model, action server
and gateway. Pure social messages keep their social reply."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack

MESSAGES = yaml.safe_load((Path(__file__).with_name("mixed_messages.yml")).read_text())[
    "messages"]
# Measured with this set through the real model: 0.30 before (issue 16), 0.88
# after (docs/knowledge.md, "Questions inside small talk"); a little margin for
# a retrained model.
MIN_RIGHT_ANSWERS = 0.80


async def first_reply(stack, text: str) -> dict:
    """The assistant's first reply to `text` from a new customer."""
    chat = await Chat.open(stack)
    try:
        await chat.say(text)
        return await chat.bot_reply()
    finally:
        await chat.close()


async def replies_to(stack, texts: list[str]) -> list[dict]:
    gate = asyncio.Semaphore(4)

    async def one(text: str) -> dict:
        async with gate:
            return await first_reply(stack, text)
    return await asyncio.gather(*(one(t) for t in texts))


def right(expected: str | list[str]) -> list[str]:
    return expected if isinstance(expected, list) else [expected]


def article_of(reply: dict) -> str | None:
    return (reply.get("article") or {}).get("id") if reply.get("decision") == "answer" else None


def test_the_mixed_message_set_is_realistic_and_big_enough():
    questions = [m for m in MESSAGES if m["article"]]
    assert len(questions) >= 40 and len(MESSAGES) - len(questions) >= 10
    assert len({m["text"] for m in MESSAGES}) == len(MESSAGES)


async def test_questions_inside_small_talk_get_the_right_knowledge_answer(stack):
    questions = [m for m in MESSAGES if m["article"]]
    replies = await replies_to(stack, [m["text"] for m in questions])
    wrong = [(m["text"], m["article"], article_of(r), r.get("decision"), r["text"][:60])
             for m, r in zip(questions, replies, strict=True)
             if article_of(r) not in right(m["article"])]
    share = 1 - len(wrong) / len(questions)
    print(f"\nright knowledge answers: {len(questions) - len(wrong)}/{len(questions)} "
          f"= {share:.2f}")
    for miss in wrong:
        print("  missed:", miss)
    assert share >= MIN_RIGHT_ANSWERS, wrong


async def test_pure_small_talk_gets_no_knowledge_answer(stack):
    social = [m for m in MESSAGES if not m["article"]]
    replies = await replies_to(stack, [m["text"] for m in social])
    answered = [(m["text"], r["text"][:60]) for m, r in zip(social, replies, strict=True)
                if r.get("decision") in ("answer", "clarify")]
    assert answered == []
