"""Articles in two languages, without Redis: the folder and CSV formats, the
editor's rules, history diff and search, and replies in the customer's language."""

import collections
import csv
import io
import re
import zipfile

import pytest

from core.i18n import text
from core.settings import KnowledgeSettings
from knowledge.answers.replies import (
    CLARIFY_TEXT,
    FALLBACK_TEXT,
    article_reply,
    decision_reply,
    fallback_reply,
)
from knowledge.articles_io import article_files, load_folder
from knowledge.editor.editing import ArticleInput, changed_fields, diff_articles, search
from knowledge.editor.transfer import (
    ImportInvalid,
    export_csv,
    export_zip,
    parse_csv,
    parse_md_files,
    parse_zip,
)
from knowledge.models import Article, ArticleText, Decision, Match

# the characters an SMS can carry in GSM-7 (basic set and its extension table)
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")

MAIN = """---
id: gift-cards
title: Gift cards
questions:
  - How do gift cards work?
tags: [promotions]
language: en
status: published
---
Gift cards are valid for **2 years**.
"""
GERMAN = """---
title: Geschenkkarten
questions:
  - Wie funktionieren Geschenkkarten?
  - gutschein gültig
channels:
  sms: "Geschenkkarten gelten 2 Jahre."
---
Geschenkkarten sind **2 Jahre** gültig.
"""


def bilingual() -> Article:
    return Article(id="gift-cards", title="Gift cards", questions=("How do gift cards work?",),
                   answer="Gift cards are valid for **2 years**.",
                   channels={"sms": "Valid 2 years."},
                   translations={"de": ArticleText(
                       title="Geschenkkarten", questions=("Wie funktionieren Geschenkkarten?",),
                       answer="Geschenkkarten sind **2 Jahre** gültig.")})


def test_a_translation_file_beside_the_main_file_becomes_the_articles_german_version():
    [article] = parse_md_files({"articles/gift-cards.md": MAIN,
                                "articles/gift-cards.de.md": GERMAN})
    assert article.languages == ("en", "de")
    german = article.text("de")
    assert german.title == "Geschenkkarten"
    assert german.questions == ("Wie funktionieren Geschenkkarten?", "gutschein gültig")
    assert german.answer_for("sms") == "Geschenkkarten gelten 2 Jahre."
    assert german.answer_for("web") == "Geschenkkarten sind **2 Jahre** gültig."
    assert ("de", "gutschein gültig") in article.all_questions()


def test_the_folder_format_writes_one_file_per_language_and_reads_it_back_unchanged():
    article = bilingual()
    files = article_files(article)
    assert sorted(files) == ["gift-cards.de.md", "gift-cards.md"]
    assert "Geschenkkarten" in files["gift-cards.de.md"]
    assert "Geschenkkarten" not in files["gift-cards.md"]
    [again] = parse_md_files(files)
    assert again.model_dump(exclude={"updated_at"}) == article.model_dump(exclude={"updated_at"})


@pytest.mark.parametrize("export, parse", [(export_csv, parse_csv), (export_zip, parse_zip)])
def test_the_seed_in_both_languages_round_trips_through_csv_and_zip_without_loss(export, parse):
    articles = load_folder(KnowledgeSettings().articles_dir)
    again = parse(export(articles))
    assert [a.model_dump(exclude={"updated_at"}) for a in again] == \
        [a.model_dump(exclude={"updated_at"}) for a in articles]
    assert all(a.has("de") for a in again)


def test_csv_has_columns_per_language_and_an_all_empty_language_means_no_version():
    article = bilingual()
    english_only = Article(id="plain", title="Plain", questions=("q?",), answer="a")
    rows = list(csv.DictReader(io.StringIO(export_csv([article, english_only]))))
    assert rows[0]["title_de"] == "Geschenkkarten" and rows[0]["answer_de"].startswith("Gesch")
    assert rows[0]["questions_de"] == "Wie funktionieren Geschenkkarten?"
    assert rows[1]["title_de"] == rows[1]["answer_de"] == ""
    assert [a.languages for a in parse_csv(export_csv([article, english_only]))] == [
        ("en", "de"), ("en",)]


@pytest.mark.parametrize("files, why", [
    ({"a/gift-cards.de.md": GERMAN}, "there is no gift-cards.md"),
    ({"a/gift-cards.md": MAIN, "a/gift-cards.fr.md": GERMAN}, "not a language we answer in"),
    ({"a/gift-cards.md": MAIN, "a/gift-cards.en.md": GERMAN}, "already written in en"),
    ({"a/gift-cards.md": MAIN,
      "a/gift-cards.de.md": GERMAN.replace("title: Geschenkkarten\n", "")}, "title"),
    ({"a/gift-cards.md": MAIN,
      "a/gift-cards.de.md": GERMAN.replace("questions:", "tags: [x]\nquestions:")},
     "unknown front matter fields in a translation"),
    ({"a/gift-cards.md": MAIN, "a/gift-cards.de.md": "---\ntitle: T\nquestions: [q]\n---\n"},
     "answer"),
])
def test_a_broken_german_part_is_refused_with_its_reason(files, why):
    with pytest.raises(ImportInvalid) as refused:
        parse_md_files(files)
    assert why in str(refused.value)


def test_a_zip_with_a_broken_german_part_imports_nothing_at_all():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("articles/fine.md", "---\nid: fine\ntitle: Fine\nquestions: [q]\n---\nok\n")
        z.writestr("articles/gift-cards.md", MAIN)
        z.writestr("articles/gift-cards.de.md", "---\ntitle: [unclosed\n---\nbody")
    with pytest.raises(ImportInvalid) as refused:
        parse_zip(archive.getvalue())
    assert any("gift-cards.de.md" in p for p in refused.value.problems)


def test_a_csv_row_with_half_a_german_version_is_refused():
    rows = ("id,title,questions,answer,title_de,questions_de,answer_de\r\n"
            "ok,Ok,q,a,,,\r\n"
            "half,Half,q,a,Halb,,\r\n")
    with pytest.raises(ImportInvalid) as refused:
        parse_csv(rows)
    assert len(refused.value.problems) == 1 and "line 3" in refused.value.problems[0]
    assert "translations.de" in refused.value.problems[0]


def test_the_editor_refuses_a_translation_into_the_main_or_an_unknown_language():
    base = {"title": "T", "questions": ["q"], "answer": "a", "language": "en"}
    german = {"title": "T", "questions": ["f"], "answer": "A"}
    assert ArticleInput(**base, translations={"de": german}).to_article("x").has("de")
    for code in ("en", "fr"):
        with pytest.raises(ValueError):
            ArticleInput(**base, translations={code: german})
    with pytest.raises(ValueError):
        Article(id="x", title="T", questions=("q",), answer="a",
                translations={"en": ArticleText(**{**german, "questions": ("f",)})})


def test_the_history_names_and_diffs_the_german_fields():
    old = bilingual()
    german = old.translations["de"].model_copy(update={
        "answer": "Geschenkkarten sind **3 Jahre** gültig.", "channels": {"sms": "3 Jahre."}})
    new = old.model_copy(update={"translations": {"de": german}})
    diffs = {d.field: d for d in diff_articles(old, new)}
    assert list(diffs) == ["de.answer", "de.channels.sms"]
    assert ("+", "Geschenkkarten sind **3 Jahre** gültig.") in diffs["de.answer"].lines
    assert changed_fields(old, new) == ["de.answer", "de.channels.sms"]
    # a German version added from nothing, or taken away, is a change of its fields
    english = old.model_copy(update={"translations": {}})
    assert changed_fields(english, old) == ["de.title", "de.questions", "de.answer"]
    assert changed_fields(old, english) == ["de.title", "de.questions", "de.answer"]


def test_search_finds_an_article_by_its_german_text_and_filters_missing_german():
    english_only = Article(id="plain", title="Plain", questions=("q?",), answer="a")
    articles = [bilingual(), english_only]
    assert [a.id for a in search(articles, "geschenkkarten")] == ["gift-cards"]
    assert [a.id for a in search(articles, missing="de")] == ["plain"]
    assert search(articles, "geschenkkarten", missing="de") == []


def test_every_seed_article_has_a_german_version_written_for_customers():
    articles = load_folder(KnowledgeSettings().articles_dir)
    assert len(articles) == 46
    assert all(a.has("de") for a in articles)
    german = [a.text("de") for a in articles]
    assert all(len(t.questions) >= 5 for t in german)
    questions = collections.Counter(q.casefold() for t in german for q in t.questions)
    assert [q for q, n in questions.items() if n > 1] == [], "a variant belongs to one article"
    english = {q.casefold() for a in articles for q in a.questions}
    assert not english & set(questions), "German variants are German"
    for article, text_de in zip(articles, german, strict=True):
        assert ("sms" in article.channels) == ("sms" in text_de.channels), article.id
        if "sms" in text_de.channels:
            sms = text_de.channels["sms"]
            assert len(sms) <= 306 and set(sms) <= GSM7, article.id  # two GSM-7 segments
        assert set(text_de.answer) <= GSM7 | {"*"}, article.id  # no UCS-2 on SMS
        # the shop says "Sie" to its customers, never "du"
        assert re.search(r"\b(Sie|Ihr\w*)\b", text_de.answer), article.id
        assert not re.search(r"\b(du|dich|dein\w*)\b", text_de.answer, re.I), article.id


def test_an_article_answers_in_the_customers_language_when_it_has_it():
    article = bilingual()
    german = article_reply(article, "web", "de")
    assert german.text == "Geschenkkarten sind **2 Jahre** gültig."
    assert german.note["article"] == {"id": "gift-cards", "version": 1,
                                      "title": "Geschenkkarten", "language": "de"}
    assert article_reply(article, "sms", "en").text == "Valid 2 years."
    assert article_reply(article, "sms", "de").text == "Geschenkkarten sind **2 Jahre** gültig."
    assert article_reply(article, "web", "de-AT").note["article"]["language"] == "de"


def test_an_english_only_article_answers_a_german_customer_in_english_and_says_so():
    article = Article(id="plain", title="Plain", questions=("q?",), answer="Only English.")
    reply = article_reply(article, "web", "de")
    assert reply.text == "_Diese Antwort gibt es bisher nur auf Englisch._\n\nOnly English."
    assert reply.note["article"]["language"] == "en"
    german_only = Article(id="nur", title="Nur", questions=("f?",), answer="Nur Deutsch.",
                          language="de")
    assert article_reply(german_only, "web", "en").text == (
        "_This answer is only available in German so far._\n\nNur Deutsch.")
    assert article_reply(article, "web", "en").text == "Only English."  # nothing to say


def test_clarify_and_fallback_speak_the_customers_language():
    article = bilingual()
    options = (Match(article_id="gift-cards", title="Gift cards", score=0.5, question="q"),
               Match(article_id="gone", title="Gone", score=0.4, question="q"))
    decision = Decision(kind="clarify", query="karte", matches=options, options=options)
    reply = decision_reply(decision, "web", "de", {"gift-cards": article})
    assert reply.text == text("knowledge", "de", CLARIFY_TEXT) != CLARIFY_TEXT
    assert [b["title"] for b in reply.buttons] == ["Geschenkkarten", "Gone"]
    assert [b["title"] for b in decision_reply(decision, "web", "en", {"gift-cards": article})
            .buttons] == ["Gift cards", "Gone"]
    fallback = fallback_reply("de")
    assert fallback.text == text("knowledge", "de", FALLBACK_TEXT) != FALLBACK_TEXT
    assert fallback.buttons == [{"title": "Mit einem Menschen sprechen",
                                 "payload": "/request_human"}]
    assert fallback_reply("fr").text == FALLBACK_TEXT  # a language we lack: English
