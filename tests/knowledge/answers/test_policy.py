from knowledge.answers.policy import Thresholds, decide
from knowledge.models import Match

T = Thresholds(answer=0.6, clarify=0.45, margin=0.03, max_options=3)


def m(article: str, score: float) -> Match:
    return Match(article_id=article, title=article.title(), score=score, question="q")


def test_clear_winner_above_answer_threshold_is_answered():
    d = decide("q", [m("returns", 0.8), m("refunds", 0.6)], T)
    assert d.kind == "answer" and d.matches[0].article_id == "returns"


def test_two_articles_too_close_to_call_become_a_clarification():
    d = decide("q", [m("returns", 0.71), m("refunds", 0.70), m("exchanges", 0.5), m("x", 0.2)], T)
    assert d.kind == "clarify"
    assert [o.article_id for o in d.options] == ["returns", "refunds", "exchanges"]


def test_middling_score_offers_options_never_a_single_button():
    d = decide("q", [m("returns", 0.5), m("refunds", 0.3)], T)
    assert d.kind == "clarify"
    assert [o.article_id for o in d.options] == ["returns", "refunds"]


def test_below_clarify_threshold_falls_back():
    assert decide("q", [m("returns", 0.44), m("refunds", 0.3)], T).kind == "fallback"


def test_empty_knowledge_base_falls_back():
    assert decide("q", [], T).kind == "fallback"


def test_a_clear_leader_below_the_answer_threshold_is_answered():
    lead = Thresholds(answer=0.6, clarify=0.45, margin=0.03, max_options=3, lead=0.2)
    d = decide("q", [m("returns", 0.55), m("refunds", 0.30)], lead)
    assert d.kind == "answer" and d.matches[0].article_id == "returns"
    # a leader not clear enough still gets the buttons, one below clarify the fallback
    assert decide("q", [m("returns", 0.55), m("refunds", 0.40)], lead).kind == "clarify"
    assert decide("q", [m("returns", 0.44), m("refunds", 0.10)], lead).kind == "fallback"


def test_without_a_fitted_lead_only_the_answer_threshold_answers():
    assert decide("q", [m("returns", 0.55), m("refunds", 0.05)], T).kind == "clarify"
