"""The regression gate of the seed knowledge base (issue 16, item 5): retail
questions in customers' own words (tests/knowledge/sets/retail-en, retail-de;
docs/knowledge.md) go through the product's real answering path — the seed
articles in a real Redis, the real encoders, the learned head with its fitted
thresholds, `KnowledgeService.decide` — and most must be answered with the right
article at once, nearly all answered or clarified with it among the buttons,
hardly any answered wrongly, and out-of-scope questions not answered; the
German set is held to the same bar. Where today's figure is well above a
target, a floor just below it stands beside the target, so that a regression
fails at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import KnowledgeSettings
from knowledge.answers.service import KnowledgeService
from tests.conftest import empty_database

# encodes the seed's ~1,800 variants and fits the head once (under 30 s on a quiet machine): slow,
# and a timeout that leaves room for a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SETS = Path(__file__).parent / "sets"
DB = 4  # a database of its own: the head is fitted once for the whole module


@dataclass(frozen=True)
class Asked:
    text: str
    gold: str | None  # None: out of scope
    split: str  # "dev" (used when tuning) or "held-out"
    kind: str  # answer / clarify / fallback
    answered: str | None
    options: tuple[str, ...]

    @property
    def answered_right(self) -> bool:
        return self.kind == "answer" and self.answered == self.gold

    @property
    def resolved(self) -> bool:
        return self.answered_right or (self.kind == "clarify" and self.gold in self.options)


def figures(asked: list[Asked]) -> dict[str, float]:
    known = [a for a in asked if a.gold is not None]
    unknown = [a for a in asked if a.gold is None]
    return {
        "answered right": sum(a.answered_right for a in known) / len(known),
        "resolved": sum(a.resolved for a in known) / len(known),
        "answered wrong": sum(a.kind == "answer" and a.answered != a.gold
                              for a in asked) / len(asked),
        "out of scope not answered": sum(a.kind != "answer" for a in unknown) / len(unknown),
    }


@pytest.fixture(scope="module")
async def retail(redis_server, kb_embedder) -> dict[str, list[Asked]]:
    async with empty_database(redis_server, DB) as redis:
        service = KnowledgeService(redis, kb_embedder, KnowledgeSettings())
        assert await service.learned()  # the learned head and its fitted thresholds
        out: dict[str, list[Asked]] = {}
        for name in ("retail-en", "retail-de"):
            out[name] = []
            for line in (SETS / name / "queries.jsonl").read_text().splitlines():
                q = json.loads(line)
                d = await service.decide(q["text"], record=False)
                out[name].append(Asked(
                    q["text"], q["article"], q["split"], d.kind,
                    d.article.id if d.article is not None else None,
                    tuple(o.article_id for o in d.options)))
        return out


def report(asked: list[Asked]) -> str:
    """The figures of each half and what went wrong, for the failure message."""
    halves = {s: figures([a for a in asked if a.split == s]) for s in ("dev", "held-out")}
    misses = [f"{a.text!r}: {a.kind} {a.answered or list(a.options)} (want {a.gold})"
              for a in asked if not (a.resolved if a.gold else a.kind != "answer")]
    return f"{halves}\n" + "\n".join(misses)


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_the_sets_are_big_enough_and_split_in_halves(name):
    lines = [json.loads(line) for line in (SETS / name).joinpath("queries.jsonl").open()]
    in_scope = [q for q in lines if q["article"] is not None]
    assert len(in_scope) >= (150 if name == "retail-en" else 60)
    assert 0.10 <= (len(lines) - len(in_scope)) / len(lines) <= 0.20
    assert {q["split"] for q in lines} == {"dev", "held-out"}


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_no_question_of_the_set_is_a_question_variant_of_the_seed(name, retail):
    from knowledge.articles_io import load_folder

    def norm(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    variants = {norm(q) for a in load_folder(KnowledgeSettings().articles_dir)
                for _, q in a.all_questions()}
    assert [a.text for a in retail[name] if norm(a.text) in variants] == []


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_three_retail_questions_in_four_are_answered_right_at_once(name, retail):
    assert figures(retail[name])["answered right"] >= 0.75, report(retail[name])


def test_at_least_81_english_retail_questions_in_100_are_answered_right_at_once(retail):
    # 83.3% today (135 of 162), English questions having a head of their own
    # (80.9% with one head for both languages): room for the fit's small swings
    assert figures(retail["retail-en"])["answered right"] >= 0.81, report(retail["retail-en"])


def test_at_least_80_german_retail_questions_in_100_are_answered_right_at_once(retail):
    # 85.4% today (70 of 82)
    assert figures(retail["retail-de"])["answered right"] >= 0.80, report(retail["retail-de"])


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_nearly_every_retail_question_is_answered_or_clarified_with_the_right_option(
        name, retail):
    assert figures(retail[name])["resolved"] >= 0.95, report(retail[name])


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_hardly_any_retail_question_gets_a_wrong_answer(name, retail):
    assert figures(retail[name])["answered wrong"] <= 0.02, report(retail[name])


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_no_more_than_one_retail_question_in_a_hundred_gets_a_wrong_answer(name, retail):
    assert figures(retail[name])["answered wrong"] <= 0.011, report(retail[name])


@pytest.mark.parametrize("name", ["retail-en", "retail-de"])
def test_questions_the_shop_cannot_answer_are_not_answered(name, retail):
    assert figures(retail[name])["out of scope not answered"] >= 0.90, report(retail[name])
