"""The editor's pure parts: input cleaning, field diffs, search, CSV/zip round
trips with awkward content, import validation, grouping of unanswered queries."""

import numpy as np
import pytest
from pydantic import ValidationError

from core.settings import KnowledgeSettings
from knowledge import ArticleInvalid
from knowledge.articles_io import load_folder
from knowledge.editor.editing import ArticleInput, content_of, diff_articles, search, slugify
from knowledge.editor.transfer import (
    ImportInvalid,
    export_csv,
    export_zip,
    parse_csv,
    parse_upload,
    parse_zip,
)
from knowledge.models import Article
from knowledge.unanswered import Entry, group_queries

TRICKY = ArticleInput(
    title='Ünïcode, "quotes" and commas',
    questions=["¿Dónde está mi pedido?", 'What about "quotes", commas?', "日本語の質問"],
    answer='---\nLine one, with a comma\r\n\n"Quoted"\n\n- a\n- b\n\n```\ncode: x\n```\n😀',
    channels={"sms": 'Short, "quoted"\nsecond line', "telegram": "*tg*", "web": "",
              "slack": "  padded  "},
    tags=["ä tag", "toys"], language="pt-BR", status="draft",
).to_article("tricky")


def test_input_is_cleaned_the_way_every_format_keeps_it():
    assert TRICKY.answer.startswith("---\nLine one, with a comma\n")  # CRLF -> LF
    assert "web" not in TRICKY.channels  # empty variant: use the main answer
    assert TRICKY.channels["slack"] == "padded"
    cleaned = ArticleInput(title="  A   title ", questions=["a  b", "a b", " ", "c\nd"],
                           answer="x").to_article("x")
    assert cleaned.title == "A title" and cleaned.questions == ("a b", "c d")


@pytest.mark.parametrize("bad", [
    {"questions": [" "]}, {"tags": ["a,b"]}, {"language": "english"}, {"status": "live"},
    {"answer": " \n"}, {"channels": {"fax": "x"}}, {"questions": ["x" * 501]},
])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValidationError):
        ArticleInput(**{"title": "t", "questions": ["q"], "answer": "a", **bad})


def test_bad_ids_are_refused():
    with pytest.raises(ArticleInvalid):
        ArticleInput(title="t", questions=["q"], answer="a").to_article("Not An Id")


@pytest.mark.parametrize("export, parse", [(export_csv, parse_csv), (export_zip, parse_zip)])
def test_export_then_import_round_trips_without_loss(export, parse):
    seeds = load_folder(KnowledgeSettings().articles_dir)
    articles = [TRICKY, *seeds]
    again = {a.id: a for a in parse(export(articles))}
    assert {a.id: content_of(a) for a in articles} == {i: content_of(a) for i, a in again.items()}


def test_csv_import_reports_every_bad_row_and_returns_nothing():
    text = ("id,title,questions,answer,status\r\n"
            "ok,Fine,q,a,published\r\n"
            "Bad Id,t,q,a,published\r\n"
            "no-q,t,,a,published\r\n"
            "ok,Again,q,a,published\r\n")
    with pytest.raises(ImportInvalid) as caught:
        parse_csv(text)
    problems = caught.value.problems
    assert len(problems) == 3
    assert "line 3" in problems[0] and "line 4" in problems[1] and "more than once" in problems[2]


def test_a_csv_with_unknown_columns_or_a_wrong_file_type_is_refused():
    with pytest.raises(ImportInvalid, match="unknown colour"):
        parse_csv("id,title,questions,answer,colour\r\n")
    with pytest.raises(ImportInvalid, match=r"import a \.zip"):
        parse_upload("kb.docx", b"x")
    with pytest.raises(ImportInvalid, match="not a zip"):
        parse_upload("kb.zip", b"x")
    with pytest.raises(ImportInvalid, match="does not match the file name"):
        parse_upload("other.md", b"---\nid: x\ntitle: t\nquestions: [q]\n---\nbody")


def test_the_diff_is_field_by_field_and_line_by_line():
    old = Article(id="a", title="Old", questions=("q1", "q2"), answer="one\ntwo\nthree")
    new = old.model_copy(update={"questions": ("q1", "q3"), "answer": "one\n2\nthree",
                                 "channels": {"sms": "short"}})
    diffs = {d.field: d for d in diff_articles(old, new)}
    assert list(diffs) == ["questions", "answer", "channels.sms"]
    assert ("-", "two") in diffs["answer"].lines and ("+", "2") in diffs["answer"].lines
    assert (" ", "one") in diffs["answer"].lines
    assert diffs["channels.sms"].before == "" and ("+", "short") in diffs["channels.sms"].lines
    # A Markdown rule ("---") in the text is content, not a diff header.
    ruled = old.model_copy(update={"answer": "---\ntwo"})
    assert ("-", "---") in next(d for d in diff_articles(ruled, old)).lines


def test_search_ranks_title_hits_first_and_filters_by_status():
    a = Article(id="a", title="Refunds", questions=("money back",), answer="x")
    b = Article(id="b", title="Returns", questions=("refunds for returns",), answer="y",
                status="draft")
    c = Article(id="c", title="Other", questions=("z",), answer="about refunds")
    assert [x.id for x in search([c, b, a], "REFUNDS")] == ["a", "b", "c"]
    assert [x.id for x in search([a, b, c], "", "draft")] == ["b"]
    assert search([a, b, c], "refunds money") == [a]


def test_slugify_suggests_an_id():
    assert slugify("Gift cards & vouchers!") == "gift-cards-vouchers"
    assert slugify("日本") == "article"


def _vector(*xs):
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_unanswered_queries_group_greedily_by_similarity():
    entries = [Entry(str(i), q, "fallback", "web", float(i)) for i, q in enumerate(
        ["ship to mars", "Ship to Mars", "delivery mars", "football", "ship to mars"])]
    vectors = {"ship to mars": _vector(1, 0.05, 0), "delivery mars": _vector(1, 0.3, 0),
               "football": _vector(0, 0, 1)}
    groups = group_queries(entries, vectors, threshold=0.9)
    assert [len(g.entries) for g in groups] == [4, 1]
    first = groups[0].as_dict()
    assert first["label"] in ("ship to mars", "Ship to Mars") and first["count"] == 4
    assert first["queries"][0] == {"text": "ship to mars", "count": 2}
    assert groups[1].leader.query == "football"
