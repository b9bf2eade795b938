"""The answer policy (docs/knowledge.md), a pure function of the ranked matches."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.models import Decision, Match


@dataclass(frozen=True)
class Thresholds:
    answer: float
    clarify: float
    margin: float
    max_options: int = 3
    # Also answer when the best (at least `clarify`) leads the runner-up by this
    # much: a clear winner needs no buttons even when its score is modest (short,
    # misspelt or rambling questions score lower against every article alike).
    # 1.0: never; the learned head fits it (knowledge/answers/head.py).
    lead: float = 1.0


def decide(query: str, matches: list[Match], t: Thresholds) -> Decision:
    """answer when one article clearly wins above `answer`, or leads the runner-up
    by `lead`; clarify with the top 2-3 when the best is only above `clarify` or
    the runner-up is too close to call; otherwise fall back."""
    ranked = tuple(matches)
    if not ranked or ranked[0].score < t.clarify:
        return Decision(kind="fallback", query=query, matches=ranked)
    top = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    gap = top.score - runner_up.score if runner_up is not None else top.score
    if (top.score >= t.answer and gap >= t.margin) or gap >= t.lead:
        return Decision(kind="answer", query=query, matches=ranked)
    options = tuple(m for m in ranked[: t.max_options] if m.score >= t.clarify)
    if len(options) < 2 and runner_up is not None:
        options = ranked[:2]  # a one-button question is no choice; show the runner-up too
    return Decision(kind="clarify", query=query, matches=ranked, options=options)
