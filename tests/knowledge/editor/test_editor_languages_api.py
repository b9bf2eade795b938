"""The knowledge editor API with articles in two languages, against a real
gateway and a real Redis: German versions saved beside the English, the
missing-German filter, variants added to a language, imports whose German part
is broken, and "try a question" as a German customer."""

import io
import zipfile

import pytest

from knowledge.store import ArticleStore

UNICORNS = {
    "id": "purple-unicorns",
    "title": "Purple unicorns",
    "questions": ["Do you sell purple unicorns?"],
    "answer": "We sell **purple unicorns** in three sizes.",
    "language": "en",
    "status": "published",
}
FIELDS = {k: v for k, v in UNICORNS.items() if k != "id"}  # what a PUT sends
GERMAN = {"title": "Lila Einhörner", "questions": ["Habt ihr lila Einhörner?"],
          "answer": "Wir verkaufen **lila Einhörner** in drei Größen.",
          "channels": {"sms": "Lila Einhörner: 3 Größen."}}


async def test_a_german_version_is_saved_beside_the_english_and_counted(gateway, editor):
    _, redis = gateway
    listed = (await editor.get("/api/kb/articles")).json()
    assert listed["missing"] == {"en": 0, "de": 0}  # the seed is complete in both
    created = await editor.post("/api/kb/articles", json=UNICORNS)
    assert created.status_code == 201 and created.json()["translations"] == {}
    listed = (await editor.get("/api/kb/articles", params={"missing": "de"})).json()
    assert [a["id"] for a in listed["articles"]] == ["purple-unicorns"]
    assert listed["missing"]["de"] == 1 and listed["articles"][0]["languages"] == ["en"]
    assert (await editor.get("/api/kb/articles", params={
        "missing": "de", "status": "draft"})).json()["missing"]["de"] == 0

    saved = await editor.put("/api/kb/articles/purple-unicorns", json={
        **FIELDS, "translations": {"de": GERMAN}, "expected_version": 1})
    assert saved.status_code == 200, saved.text
    assert saved.json()["translations"]["de"]["title"] == "Lila Einhörner"
    assert (await ArticleStore(redis).get("purple-unicorns")).text("de").answer_for(
        "sms") == "Lila Einhörner: 3 Größen."
    listed = (await editor.get("/api/kb/articles", params={"missing": "de"})).json()
    assert listed["articles"] == [] and listed["missing"]["de"] == 0
    found = (await editor.get("/api/kb/articles", params={"q": "einhörner"})).json()
    assert [a["id"] for a in found["articles"]] == ["purple-unicorns"]

    versions = (await editor.get("/api/kb/articles/purple-unicorns/versions")).json()
    assert versions["versions"][0]["changed"] == [
        "de.title", "de.questions", "de.answer", "de.channels.sms"]

    half = await editor.put("/api/kb/articles/purple-unicorns", json={
        **FIELDS, "translations": {"de": {**GERMAN, "answer": " "}}, "expected_version": 2})
    assert half.status_code == 422 and "answer" in half.text
    stale = await editor.put("/api/kb/articles/purple-unicorns", json={
        **FIELDS, "translations": {}, "expected_version": 1})
    assert stale.status_code == 409  # the German version is not lost to an old page
    assert (await ArticleStore(redis).get("purple-unicorns")).has("de")

    # rolling back to version 1 takes the German version away again, as a new version
    back = await editor.post("/api/kb/articles/purple-unicorns/rollback",
                             json={"version": 1, "expected_version": 2})
    assert back.status_code == 200 and back.json()["translations"] == {}
    assert back.json()["version"] == 3
    assert (await editor.get("/api/kb/articles")).json()["missing"]["de"] == 1


async def test_unanswered_wordings_are_added_to_the_language_the_editor_picks(gateway, editor):
    _, redis = gateway
    await editor.post("/api/kb/articles", json=UNICORNS)
    add = {"article_id": "purple-unicorns", "queries": ["gibt es einhörner in lila"]}
    refused = await editor.post("/api/kb/unanswered/add-variants", json={
        **add, "expected_version": 1, "language": "de"})
    assert refused.status_code == 422 and "no de version" in refused.text
    await editor.put("/api/kb/articles/purple-unicorns", json={
        **FIELDS, "translations": {"de": GERMAN}, "expected_version": 1})

    added = await editor.post("/api/kb/unanswered/add-variants", json={
        **add, "expected_version": 2, "language": "de"})
    assert added.status_code == 200, added.text
    article = await ArticleStore(redis).get("purple-unicorns")
    assert article.text("de").questions == ("Habt ihr lila Einhörner?",
                                            "gibt es einhörner in lila")
    assert article.questions == ("Do you sell purple unicorns?",)

    default = await editor.post("/api/kb/unanswered/add-variants", json={
        "article_id": "purple-unicorns", "queries": ["unicorns in purple?"],
        "expected_version": 3})
    assert default.status_code == 200  # no language: the article's main one
    assert (await ArticleStore(redis).get("purple-unicorns")).questions[-1] == \
        "unicorns in purple?"


async def test_an_import_whose_german_part_is_broken_changes_nothing(gateway, editor):
    _, redis = gateway
    await editor.get("/api/kb/articles")  # seeded
    store = ArticleStore(redis)
    revision = await store.revision()
    before = await store.get("contact-us")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("articles/fine.md", "---\nid: fine\ntitle: Fine\nquestions: [q]\n---\nok\n")
        z.writestr("articles/contact-us.md", "---\nid: contact-us\ntitle: Contact\n"
                                             "questions: [how to reach you]\n---\nCall us.\n")
        z.writestr("articles/contact-us.de.md", "---\ntitle: Kontakt\nquestions: []\n---\nRuf an.")
    response = await editor.post("/api/kb/import", files={"file": ("kb.zip", archive.getvalue())})
    assert response.status_code == 422
    assert any("contact-us.de.md" in p for p in response.json()["problems"])

    csv_text = ("id,title,questions,answer,title_de,questions_de,answer_de\r\n"
                "fine,Fine,q,ok,,,\r\n"
                "contact-us,Contact,how to reach you,Call us.,Kontakt,,Rufen Sie an.\r\n")
    response = await editor.post("/api/kb/import", files={"file": ("kb.csv", csv_text.encode())})
    assert response.status_code == 422 and "line 3" in response.json()["problems"][0]

    assert await store.revision() == revision
    assert await store.get("contact-us") == before
    assert (await editor.get("/api/kb/articles/fine")).status_code == 404


@pytest.mark.slow
async def test_trying_a_question_as_a_german_customer_shows_the_german_reply(editor):
    result = (await editor.post("/api/kb/try", json={
        "question": "Kann ich mit PayPal zahlen?", "language": "de"})).json()
    assert result["decision"] == "answer" and result["article"]["id"] == "payment-methods"
    assert result["article"]["language"] == "de" and result["article"]["title"] == "Zahlungsarten"
    assert result["reply"]["text"].startswith("Wir akzeptieren")
    english = (await editor.post("/api/kb/try", json={
        "question": "Kann ich mit PayPal zahlen?", "language": "en"})).json()
    assert english["reply"]["text"].startswith("We accept")


async def test_an_english_only_import_keeps_the_german_it_does_not_mention(gateway, editor):
    _, redis = gateway
    await editor.get("/api/kb/articles")  # seeded, with German
    store = ArticleStore(redis)
    german = (await store.get("contact-us")).text("de")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # an export from before the translation
        z.writestr("articles/contact-us.md", "---\nid: contact-us\ntitle: Contact us\n"
                                             "questions: [how do I reach you]\n---\nCall us.\n")
    response = await editor.post("/api/kb/import", files={"file": ("kb.zip", archive.getvalue())})
    assert response.status_code == 200 and response.json()["updated"] == ["contact-us"]
    article = await store.get("contact-us")
    assert article.answer == "Call us." and article.text("de") == german
    again = await editor.post("/api/kb/import", files={"file": ("kb.zip", archive.getvalue())})
    assert again.json()["unchanged"] == ["contact-us"]
