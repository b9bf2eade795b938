"""The editor's pure parts: input cleaning, field diffs, search, CSV/zip round
trips with awkward content, import validation, grouping of unanswered queries."""

import csv
import io
import zipfile
import zlib

import numpy as np
import pytest
from pydantic import ValidationError

from core.settings import KnowledgeSettings
from knowledge import ArticleInvalid
from knowledge.articles_io import load_folder
from knowledge.editor.editing import ArticleInput, content_of, diff_articles, search, slugify
from knowledge.editor.transfer import (
    FORMULA_START,
    MAX_IMPORT_BYTES,
    MAX_ZIP_MEMBERS,
    ImportInvalid,
    UploadMalformed,
    csv_cell,
    csv_text,
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


FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(A1:A9)", "+1 555 0100", "-2+3",
            "'=already quoted", "''@twice", "=1+1 is it two?"]


def test_a_formula_cell_exports_as_neutral_text_and_reimports_as_the_same_text():
    article = ArticleInput(title='=HYPERLINK("http://x","y")', questions=FORMULAS,
                           answer="- a list first\n- then more", channels={"sms": "@you"},
                           ).to_article("formulas")
    exported = export_csv([article])
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    for cell in rows[1]:  # every cell, and each one's first line
        assert not cell.startswith(FORMULA_START), cell
    assert rows[1][1] == '\'=HYPERLINK("http://x","y")'
    [again] = parse_csv(exported)
    assert content_of(again) == content_of(article)
    assert again.title == '=HYPERLINK("http://x","y")' and again.questions == tuple(FORMULAS)


@pytest.mark.parametrize("text", [*FORMULAS, "\tTab", "\rCR", "'", "''", "'plain", "plain",
                                  "", "a=b", "'\t", "don't"])
def test_the_csv_quote_is_undone_exactly_and_only_where_it_was_added(text):
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA_START)
    assert csv_text(cell) == text
    assert (cell == text) == (not text.lstrip("'").startswith(FORMULA_START))


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ARTICLE_MD = b"---\nid: fine\ntitle: Fine\nquestions: [q]\n---\nok\n"


def _encrypted() -> bytes:
    """A zip whose entry says it is encrypted (the flag is all zipfile looks at)."""
    data = bytearray(_zip({"articles/fine.md": ARTICLE_MD}, zipfile.ZIP_STORED))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    return bytes(data)


def _damaged() -> bytes:
    """The central directory intact, the compressed data of the entry garbled."""
    data = bytearray(_zip({"articles/fine.md": ARTICLE_MD * 50}))
    start = data.find(b"fine.md") + len("fine.md")
    data[start + 5:start + 40] = b"\xff" * 35
    return bytes(data)


def _lying_bomb() -> bytes:
    """30 MiB of zeros (about 30 KiB packed) whose headers claim 100 bytes."""
    data = bytearray(_zip({"articles/bomb.md": bytes(30 << 20)}))
    real = (30 << 20).to_bytes(4, "little")
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        assert data[at + offset:at + offset + 4] == real
        data[at + offset:at + offset + 4] = (100).to_bytes(4, "little")
    return bytes(data)


def malformed_uploads() -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, bytes, a word of the reason)."""
    good = _zip({"articles/fine.md": ARTICLE_MD})
    return {
        "corrupt zip": ("kb.zip", b"PK\x03\x04" + b"\x00garbage" * 20, "not a zip"),
        "truncated zip": ("kb.zip", good[: len(good) // 2], "not a zip"),
        "encrypted zip": ("kb.zip", _encrypted(), "encrypted"),
        "damaged zip": ("kb.zip", _damaged(), "damaged"),
        "huge-ratio zip": ("kb.zip", _zip({"articles/bomb.md": bytes(30 << 20)}),
                           "unpacks to more than"),
        "huge-ratio zip with lying sizes": ("kb.zip", _lying_bomb(), "damaged"),
        "too many members": ("kb.zip", _zip(dict.fromkeys(
            (f"x/{i}.txt" for i in range(MAX_ZIP_MEMBERS + 1)), b"")), "entries"),
        "csv in another encoding": ("kb.csv", "id,title,questions,answer\nx,Tïtle,q,a\n"
                                    .encode("latin-1"), "not UTF-8"),
        "a file of another kind": ("kb.xlsx", b"PK\x03\x04", "import a .zip"),
    }


@pytest.mark.parametrize("case", list(malformed_uploads()))
def test_a_malformed_upload_is_refused_with_its_reason_not_a_crash(case):
    filename, data, reason = malformed_uploads()[case]
    with pytest.raises(UploadMalformed, match=reason):
        parse_upload(filename, data)


def test_unpacking_stops_at_the_limit_whatever_the_archive_claims():
    # zipfile itself stops at the declared size; the running total is our own check.
    bomb = _zip({"articles/a.md": bytes(MAX_IMPORT_BYTES // 2 + 1),
                 "articles/b.md": bytes(MAX_IMPORT_BYTES // 2 + 1)})
    with pytest.raises(UploadMalformed, match="unpacks to more than"):
        parse_zip(bomb)
    assert zlib  # the module the failures above once leaked as a 500


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
