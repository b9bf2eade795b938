"""A question reaches the knowledge base whatever else the message carries
(issue 16 item 5): greeting, thanks, "ok", "no, I meant ..." in front of a
question, in English and German, through the real Rasa model, action server
and gateway. Pure social messages keep their social reply."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack

MESSAGES = yaml.safe_load((Path(__file__).with_name("mixed_messages.yml")).read_text())[
    "messages"]
# Measured with this set through the real model, the knowledge head in use
# (docs/knowledge.md, "Questions inside small talk"): right answers 26/42 = 0.62
# before issue 16 (0.95 answered or the right article among the buttons), 35/42
# = 0.83 after (1.00); a little margin for a retrained model.
MIN_RIGHT_ANSWERS = 0.78
MIN_RESOLVED = 0.95  # answered, or the right article among the clarification buttons


async def head_in_use(stack, stack_redis, deadline_s: float = 300) -> None:
    """Measure with the answer policy customers get: the action server answers
    with plain cosine scores until its knowledge head is fitted (in a worker
    thread, then cached in Redis by content and swapped in at once,
    docs/knowledge.md), so a first question starts the fit and we wait for it."""
    await first_reply(stack, "where is my order?")
    deadline = time.monotonic() + deadline_s
    while not [k async for k in stack_redis.scan_iter("fd:{kb}:head:*")]:
        assert time.monotonic() < deadline, "the knowledge head was never fitted"
        await asyncio.sleep(0.2)


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


def offered(reply: dict) -> list[str]:
    """The articles of a clarification's buttons."""
    return [json.loads(b["payload"].removeprefix("/choose_article"))["article_id"]
            for b in reply.get("buttons") or [] if b["payload"].startswith("/choose_article")]


def article_of(reply: dict) -> str | None:
    return (reply.get("article") or {}).get("id") if reply.get("decision") == "answer" else None


def test_the_mixed_message_set_is_realistic_and_big_enough():
    questions = [m for m in MESSAGES if m["article"]]
    assert len(questions) >= 40 and len(MESSAGES) - len(questions) >= 10
    assert len({m["text"] for m in MESSAGES}) == len(MESSAGES)


async def test_questions_inside_small_talk_get_the_right_knowledge_answer(stack, stack_redis):
    await head_in_use(stack, stack_redis)
    questions = [m for m in MESSAGES if m["article"]]
    replies = await replies_to(stack, [m["text"] for m in questions])
    wrong = [(m["text"], m["article"], article_of(r), r.get("decision"), r["text"][:60])
             for m, r in zip(questions, replies, strict=True)
             if article_of(r) not in right(m["article"])]
    clarified = [m["text"] for m, r in zip(questions, replies, strict=True)
                 if set(offered(r)) & set(right(m["article"]))]
    share = 1 - len(wrong) / len(questions)
    resolved = share + len(clarified) / len(questions)
    print(f"\nright knowledge answers: {len(questions) - len(wrong)}/{len(questions)} "
          f"= {share:.2f}; with the right article among clarification buttons: "
          f"{resolved:.2f}")
    for miss in wrong:
        print("  missed:", miss)
    assert share >= MIN_RIGHT_ANSWERS, wrong
    assert resolved >= MIN_RESOLVED, wrong


async def test_pure_small_talk_gets_no_knowledge_answer(stack, stack_redis):
    await head_in_use(stack, stack_redis)
    social = [m for m in MESSAGES if not m["article"]]
    replies = await replies_to(stack, [m["text"] for m in social])
    answered = [(m["text"], r["text"][:60]) for m, r in zip(social, replies, strict=True)
                if r.get("decision") in ("answer", "clarify")]
    assert answered == []
