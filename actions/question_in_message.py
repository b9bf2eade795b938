"""Find the question in a message that carries more than a question: "Hello, my
parcel still hasn't come", "thanks, and how do I return something?", "no, I
meant the delivery cost", "where is my order? thanks".

No list of pleasantries: a short clause (at most MAX_ASIDE_WORDS words) at the
start or the end of the message, cut off at punctuation, may be an aside. The
knowledge service is asked about the whole message and about the message
without that clause, and the most confident decision wins (an answer over a
clarification over a fallback, then the higher score). A pure "hello" or
"thanks" has nothing left once its aside is cut, so it is only asked whole,
and a social reply follows unless the knowledge base answers it outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.answers.service import KnowledgeService
from knowledge.models import Decision

# "Good morning", "thanks a lot", "ok great", "Vielen Dank", "yes please": an
# aside is short; a longer first clause is part of the question.
MAX_ASIDE_WORDS = 3
# A clause ends at , . ! ? ; : or a dash, followed by a space.
_BOUNDARY = re.compile(r"[,.!?;:\u2013\u2014-]+\s+")
_RANK = {"answer": 2, "clarify": 1, "fallback": 0}


@dataclass(frozen=True)
class Candidate:
    text: str
    stripped: bool  # an aside was cut off


def candidates(message: str) -> list[Candidate]:
    """The message, and the message without a short leading or trailing clause."""
    message = message.strip()
    found = [Candidate(message, stripped=False)]
    parts = _BOUNDARY.split(message)
    if len(parts) < 2:
        return found
    lead, rest = parts[0], message[len(parts[0]):]
    rest = _BOUNDARY.sub("", rest, count=1).strip() if _BOUNDARY.match(rest) else rest.strip()
    if len(lead.split()) <= MAX_ASIDE_WORDS and _words(rest) >= 1:
        found.append(Candidate(rest, stripped=True))
    boundaries = list(_BOUNDARY.finditer(message))
    last = boundaries[-1]
    head, tail = message[:last.start()].strip(), message[last.end():].strip()
    if tail and len(tail.split()) <= MAX_ASIDE_WORDS and _words(head) >= 2 and \
            head != rest:
        found.append(Candidate(head, stripped=True))
    return found


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


@dataclass(frozen=True)
class Found:
    decision: Decision
    candidate: Candidate


def _rank(decision: Decision) -> tuple[int, float]:
    top = decision.matches[0].score if decision.matches else 0.0
    return _RANK.get(decision.kind, 0), top


async def best_decision(service: KnowledgeService, message: str, channel: str,
                        customer_id: str | None, *, record: bool = True) -> Found:
    """The most confident knowledge decision over the message's candidates. Only
    the winner is recorded as unanswered (once, with the customer's own words),
    and only if `record` and it is not an answer."""
    best: Found | None = None
    for candidate in candidates(message):
        decision = await service.decide(candidate.text, channel, record=False,
                                        customer_id=customer_id)
        if best is None or _rank(decision) > _rank(best.decision):
            best = Found(decision, candidate)
    assert best is not None  # candidates() always holds the whole message
    if record and best.decision.kind != "answer":
        await service.store.record_unanswered(message, best.decision.kind, channel,
                                              customer_id=customer_id)
    return best
