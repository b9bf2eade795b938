import pytest

from core.settings import KnowledgeSettings
from knowledge import ArticleInvalid
from knowledge.articles_io import load_folder, parse_article, render_article

GOOD = """---
id: gift-cards
title: Gift cards
questions:
  - How do gift cards work?
  - gift card balance
tags: [promotions]
channels:
  sms: "Check your balance at brightside.example/giftcards"
---
Gift cards are valid for **2 years**.
"""


def test_parse_reads_front_matter_and_markdown_body():
    article = parse_article(GOOD)
    assert article.id == "gift-cards"
    assert article.questions == ("How do gift cards work?", "gift card balance")
    assert article.answer == "Gift cards are valid for **2 years**."
    assert article.answer_for("sms").startswith("Check your balance")
    assert article.answer_for("telegram") == article.answer


def test_render_then_parse_round_trips_without_loss():
    article = parse_article(GOOD)
    again = parse_article(render_article(article))
    assert again.model_dump(exclude={"updated_at"}) == article.model_dump(exclude={"updated_at"})


@pytest.mark.parametrize("broken, why", [
    ("---\nid: x\n---\n", "no title"),
    ("---\nid: Bad Id\ntitle: t\nquestions: [a]\n---\nbody", "bad id"),
    ("---\nid: x\ntitle: t\nquestions: []\n---\nbody", "no questions"),
    ("---\nid: x\ntitle: t\nquestions: [a]\nsecret: 1\n---\nbody", "unknown field"),
    ("---\nid: [unclosed\n---\nbody", "yaml error"),
])
def test_invalid_articles_are_refused_with_a_clear_error(broken, why):
    with pytest.raises(ArticleInvalid):
        parse_article(broken, source=why)


def test_seed_content_is_a_real_knowledge_base():
    articles = load_folder(KnowledgeSettings().articles_dir)
    assert len(articles) >= 40
    assert len({a.id for a in articles}) == len(articles)
    questions = [q.lower() for a in articles for q in a.questions]
    assert len(questions) == len(set(questions)), "a question variant belongs to one article"
    sms = [a for a in articles if "sms" in a.channels]
    assert len(sms) >= 8
    assert all(len(a.channels["sms"]) <= 306 for a in sms)  # two GSM-7 segments
