"""The knowledge editor API against a real gateway, a real Redis and the real
embedding model: roles, validation, conflicts, history, preview, try a
question, import/export and unanswered questions."""

import csv
import io
import zipfile

import httpx
import pytest

from knowledge.editor.tools_api import MULTIPART_OVERHEAD
from knowledge.editor.transfer import MAX_IMPORT_BYTES
from knowledge.store import ArticleStore
from tests.bodies import CHUNK, CountingBody
from tests.conftest import gateway_without_rasa
from tests.knowledge.editor.test_editing import malformed_uploads
from tests.staff import CSRF, make_staff, signed_in_client

NEW = {
    "id": "purple-unicorns",
    "title": "Purple unicorns",
    "questions": ["Do you sell purple unicorns?", "purple unicorn plush"],
    "answer": "We sell **purple unicorns** in three sizes.",
    "channels": {"sms": "Purple unicorns: 3 sizes."},
    "tags": ["toys"],
    "language": "en",
    "status": "published",
}


async def test_only_editors_and_admins_may_use_the_editor(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "root", "admin")
    await make_staff(redis, "edna", "editor")
    async with httpx.AsyncClient(base_url=base) as anonymous:
        assert (await anonymous.get("/api/kb/articles")).status_code == 401
        page = await anonymous.get("/kb")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    agent = await signed_in_client(base, "ada")
    admin = await signed_in_client(base, "root")
    editor = await signed_in_client(base, "edna")
    try:
        assert (await agent.get("/api/kb/articles")).status_code == 403
        assert (await agent.post("/api/kb/articles", json=NEW)).status_code == 403
        assert (await agent.put("/api/kb/articles/contact-us", json={})).status_code == 403
        assert (await agent.get("/kb")).status_code == 403
        assert (await agent.get("/api/kb/export")).status_code == 403
        assert not await redis.exists("fd:{kb}:article:purple-unicorns")

        listed = await editor.get("/api/kb/articles")
        assert listed.status_code == 200 and len(listed.json()["articles"]) >= 40  # seeded
        page = await editor.get("/kb")
        assert page.status_code == 200 and "default-src 'self'" in page.headers[
            "content-security-policy"]
        assert (await admin.get("/api/kb/articles/contact-us")).status_code == 200

        editor.headers.pop("X-Requested-With")
        forged = await editor.post("/api/kb/articles", json=NEW)
        assert forged.status_code == 403
        assert not await redis.exists("fd:{kb}:article:purple-unicorns")
    finally:
        for client in (agent, admin, editor):
            await client.aclose()


async def test_search_finds_articles_by_title_question_and_answer(editor):
    titles = [a["id"] for a in (await editor.get("/api/kb/articles",
                                                 params={"q": "password"})).json()["articles"]]
    assert titles[0] == "reset-password"  # a title hit ranks first
    by_answer = (await editor.get("/api/kb/articles", params={"q": "paypal"})).json()
    assert "payment-methods" in [a["id"] for a in by_answer["articles"]]
    drafts = (await editor.get("/api/kb/articles", params={"status": "draft"})).json()
    assert drafts["articles"] == []


@pytest.mark.parametrize("change, complaint", [
    ({"questions": []}, "questions"),
    ({"questions": ["   "]}, "at least one question"),
    ({"title": ""}, "title"),
    ({"answer": "  \n "}, "answer"),
    ({"status": "live"}, "status"),
    ({"tags": ["a,b"]}, "commas"),
    ({"language": "English"}, "language"),
    ({"channels": {"fax": "x"}}, "channels"),
    ({"id": "Not An Id"}, "article id"),
    ({"secret": 1}, "secret"),
])
async def test_invalid_articles_are_refused_with_a_clear_error(gateway, editor, change,
                                                               complaint):
    _, redis = gateway
    response = await editor.post("/api/kb/articles", json={**NEW, **change})
    assert response.status_code == 422
    assert complaint in str(response.json()["detail"])
    assert not await redis.exists("fd:{kb}:article:purple-unicorns")


async def test_create_then_edit_and_the_version_check_stops_a_silent_overwrite(gateway, editor):
    base, redis = gateway
    created = await editor.post("/api/kb/articles", json=NEW)
    assert created.status_code == 201
    body = created.json()
    assert body["version"] == 1 and body["updated_by"] == "edna" and body["live"]

    again = await editor.post("/api/kb/articles", json=NEW)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]

    await make_staff(redis, "otto", "editor")
    other = await signed_in_client(base, "otto")
    try:
        edit = {k: v for k, v in NEW.items() if k != "id"}
        first = await other.put("/api/kb/articles/purple-unicorns",
                                json={**edit, "answer": "Otto's answer", "expected_version": 1})
        assert first.status_code == 200 and first.json()["version"] == 2
        late = await editor.put("/api/kb/articles/purple-unicorns",
                                json={**edit, "answer": "Edna's answer", "expected_version": 1})
        assert late.status_code == 409
        assert "otto" in late.json()["detail"] and "version 2" in late.json()["detail"]
        assert late.json()["current"]["answer"] == "Otto's answer"
        assert (await ArticleStore(redis).get("purple-unicorns")).answer == "Otto's answer"
    finally:
        await other.aclose()


async def test_history_shows_who_changed_what_with_a_diff_and_rolls_back(gateway, editor):
    _, redis = gateway
    await editor.post("/api/kb/articles", json=NEW)
    edit = {k: v for k, v in NEW.items() if k != "id"}
    await editor.put("/api/kb/articles/purple-unicorns", json={
        **edit, "title": "Purple unicorns and dragons",
        "answer": "We sell **purple unicorns** in three sizes.\nDragons too.",
        "expected_version": 1})

    history = (await editor.get("/api/kb/articles/purple-unicorns/versions")).json()
    assert history["current"] == 2
    assert [(v["version"], v["updated_by"]) for v in history["versions"]] == [
        (2, "edna"), (1, "edna")]
    assert history["versions"][0]["changed"] == ["title", "answer"]

    diff = (await editor.get("/api/kb/articles/purple-unicorns/diff",
                             params={"from_version": 1, "to_version": 2})).json()
    fields = {f["field"]: f for f in diff["fields"]}
    assert set(fields) == {"title", "answer"}
    assert {"op": "+", "text": "Dragons too."} in fields["answer"]["lines"]
    assert {"op": "-", "text": "Purple unicorns"} in fields["title"]["lines"]

    back = await editor.post("/api/kb/articles/purple-unicorns/rollback",
                             json={"version": 1, "expected_version": 2})
    assert back.status_code == 200
    assert back.json()["version"] == 3 and back.json()["title"] == "Purple unicorns"
    assert (await ArticleStore(redis).get("purple-unicorns")).title == "Purple unicorns"
    assert len((await editor.get("/api/kb/articles/purple-unicorns/versions")).json()[
        "versions"]) == 3  # a rollback is a new version; history is kept

    stale = await editor.post("/api/kb/articles/purple-unicorns/rollback",
                              json={"version": 2, "expected_version": 2})
    assert stale.status_code == 409
    same = await editor.post("/api/kb/articles/purple-unicorns/rollback",
                             json={"version": 1, "expected_version": 3})
    assert same.status_code == 422 and "nothing to roll back" in same.json()["detail"]
    audit = await redis.xrange("fd:audit")
    assert [f["action"] for _, f in audit] == ["kb.create", "kb.save", "kb.rollback"]


async def test_preview_renders_every_channel_and_checks_its_limits(editor):
    response = await editor.post("/api/kb/preview", json={
        "answer": "Hello **there** <script>alert(1)</script>\n\n" + "word " * 1000,
        "channels": {"sms": "Café ok 😀"}})
    assert response.status_code == 200
    p = response.json()
    assert set(p) == {"web", "telegram", "slack", "sms"}
    assert "<strong>there</strong>" in p["web"]["messages"][0]["content"]
    assert "<script>" not in p["web"]["raw"] and "&lt;script&gt;" in p["web"]["raw"]
    parts = len(p["telegram"]["messages"])  # 5,000 characters: more than one Telegram message
    assert parts >= 2 and all(int(m["note"].split(" / ")[0].replace(",", "")) <= 4096
                              for m in p["telegram"]["messages"])
    assert any(c["level"] == "warn" and f"{parts} messages" in c["text"]
               for c in p["telegram"]["checks"])
    assert any(c["text"] == "valid Telegram HTML" for c in p["telegram"]["checks"])
    assert p["sms"]["source"] == "sms variant" and p["web"]["source"] == "main answer"
    assert "UCS-2" in p["sms"]["summary"] and p["sms"]["messages"][0]["content"] == "Café ok 😀"
    assert any("UCS-2" in c["text"] and "😀" in c["text"] for c in p["sms"]["checks"])
    assert "1 segment" in p["sms"]["messages"][0]["note"]
    assert p["slack"]["checks"][0]["level"] == "ok"


@pytest.mark.slow
async def test_try_a_question_shows_matches_and_is_not_recorded(gateway, editor):
    _, redis = gateway
    response = await editor.post("/api/kb/try", json={"question": "can i pay with paypal"})
    assert response.status_code == 200
    result = response.json()
    assert result["decision"] == "answer" and result["article"]["id"] == "payment-methods"
    assert result["matches"][0]["score"] >= result["thresholds"]["answer"]
    assert len(result["matches"]) >= 3 and "PayPal" in result["reply"]["text"]

    unknown = (await editor.post("/api/kb/try",
                                 json={"question": "who won the football last night"})).json()
    assert unknown["decision"] == "fallback" and unknown["article"] is None
    assert await redis.xlen("fd:{kb}:unanswered") == 0


@pytest.mark.slow
async def test_a_publish_is_answered_at_once_by_the_gateways_own_service(editor):
    ask = {"question": "do you sell purple unicorns?"}
    before = (await editor.post("/api/kb/try", json=ask)).json()
    assert before["article"] is None or before["article"]["id"] != "purple-unicorns"
    await editor.post("/api/kb/articles", json=NEW)
    after = (await editor.post("/api/kb/try", json=ask)).json()
    assert after["decision"] == "answer" and after["article"]["id"] == "purple-unicorns"
    edit = {k: v for k, v in NEW.items() if k != "id"}
    await editor.put("/api/kb/articles/purple-unicorns",
                     json={**edit, "status": "draft", "expected_version": 1})
    drafted = (await editor.post("/api/kb/try", json=ask)).json()
    assert drafted["article"] is None or drafted["article"]["id"] != "purple-unicorns"


TRICKY = {
    **NEW, "id": "tricky",
    "title": 'Ünïcode, "quotes" and commas',
    "questions": ["¿Dónde está mi pedido?", 'What about "quotes", commas?', "日本語の質問"],
    "answer": '---\nLine one, with a comma\n\n"Quoted" paragraph\n\n- a\n- b\n\n```\ncode\n```',
    "channels": {"sms": "Short, with \"quotes\"\nand a second line", "telegram": "*tg* 😀",
                 "slack": "Slack, only", "web": "Web\n\nvariant"},
    "tags": ["ä tag", "toys"],
    "status": "draft",
}


async def _content(redis) -> dict:
    return {a.id: a.model_dump(exclude={"version", "updated_at", "updated_by"})
            for a in await ArticleStore(redis).all()}


@pytest.mark.slow
@pytest.mark.parametrize("fmt, filename", [("md", "kb.zip"), ("csv", "kb.csv")])
async def test_export_then_import_gives_identical_articles(gateway, editor, fmt, filename):
    _, redis = gateway
    assert (await editor.post("/api/kb/articles", json=TRICKY)).status_code == 201
    original = await _content(redis)
    exported = await editor.get("/api/kb/export", params={"format": fmt})
    assert exported.status_code == 200 and "attachment" in exported.headers[
        "content-disposition"]

    # The same file into the same knowledge base: nothing to do.
    same = await editor.post("/api/kb/import", files={"file": (filename, exported.content)})
    assert same.status_code == 200 and same.json()["created"] == same.json()["updated"] == []

    # Into an empty one (seeded, so only "tricky" is new): every article comes back
    # exactly as it was.
    await redis.delete(*[key async for key in redis.scan_iter("fd:{kb}:*")])
    imported = await editor.post("/api/kb/import", files={"file": (filename, exported.content)})
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == ["tricky"]
    assert await _content(redis) == original


@pytest.mark.slow
async def test_an_import_with_any_problem_changes_nothing(gateway, editor):
    _, redis = gateway
    await editor.get("/api/kb/articles")  # seeded
    before = await _content(redis)
    revision = await ArticleStore(redis).revision()
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["id", "title", "questions", "answer", "status"])
    writer.writerow(["good-one", "Good", "a question", "An answer", "published"])
    writer.writerow(["contact-us", "Changed title", "q", "changed", "published"])
    writer.writerow(["Bad Id", "Bad", "q", "answer", "published"])
    writer.writerow(["no-questions", "No questions", "", "answer", "published"])
    writer.writerow(["bad-status", "x", "q", "answer", "live"])
    response = await editor.post("/api/kb/import",
                                 files={"file": ("bad.csv", rows.getvalue().encode())})
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert len(problems) == 3 and "Nothing was imported" in response.json()["detail"]
    assert any("line 4" in p and "article id" in p for p in problems)
    assert await _content(redis) == before and await ArticleStore(redis).revision() == revision

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("articles/fine.md", "---\nid: fine\ntitle: Fine\nquestions: [q]\n---\nok\n")
        z.writestr("articles/broken.md", "---\nid: [unclosed\n---\nbody")
    response = await editor.post("/api/kb/import", files={"file": ("kb.zip", archive.getvalue())})
    assert response.status_code == 422 and "broken.md" in response.json()["problems"][0]
    for name, data in (("kb.zip", b"not a zip"), ("kb.txt", b"hello"), ("kb.csv", b"\xff\xfe")):
        response = await editor.post("/api/kb/import", files={"file": (name, data)})
        assert response.status_code == 400, name  # the file itself is unreadable
    assert await _content(redis) == before


@pytest.mark.slow
async def test_every_malformed_upload_is_a_400_with_its_reason(gateway, editor):
    _, redis = gateway
    await editor.get("/api/kb/articles")  # seeded
    before = await _content(redis)
    for case, (filename, data, reason) in malformed_uploads().items():
        response = await editor.post("/api/kb/import", files={"file": (filename, data)})
        assert response.status_code == 400, (case, response.text)
        assert reason in response.json()["detail"], case
        assert response.json()["problems"], case
    assert await _content(redis) == before


@pytest.mark.slow
async def test_a_formula_in_a_question_exports_neutralised_and_comes_back_unchanged(
        gateway, editor):
    _, redis = gateway
    formula = {**NEW, "id": "formula", "title": "@SUM(A1)",
               "questions": ['=HYPERLINK("http://x","y")', "+1 555", "-1"]}
    assert (await editor.post("/api/kb/articles", json=formula)).status_code == 201
    original = await _content(redis)
    exported = await editor.get("/api/kb/export", params={"format": "csv"})
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(
        exported.content.decode("utf-8-sig"), newline=""))}
    assert rows["formula"]["title"] == "'@SUM(A1)"
    assert rows["formula"]["questions"].startswith("'=HYPERLINK(")
    await redis.delete(*[key async for key in redis.scan_iter("fd:{kb}:*")])
    imported = await editor.post("/api/kb/import", files={"file": ("kb.csv", exported.content)})
    assert imported.status_code == 200, imported.text
    assert await _content(redis) == original


@pytest.fixture
async def served(redis_server, kb_embedder):
    """A gateway with its app, to call in-process and see how much of a body was pulled."""
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, app):
        yield settings.base_url, redis, app


BOUNDARY = "frontdoor-test-boundary"


def streamed_upload(size: int, filename: str = "kb.csv") -> CountingBody:
    """A multipart upload of `size` bytes, sent chunked as a browser or curl might."""
    return CountingBody(size, fill=b"x,",
                        prefix=(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                                f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
                                ).encode(),
                        suffix=f"\r\n--{BOUNDARY}--\r\n".encode())


UPLOAD_TYPE = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def test_an_anonymous_multipart_import_is_refused_before_the_body_is_parsed(served):
    base, redis, app = served
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "edna", "editor")
    agent = await signed_in_client(base, "ada")
    edna = await signed_in_client(base, "edna")
    cases = {"anonymous": (httpx.Cookies(), CSRF, 401),
             "an agent": (agent.cookies, CSRF, 403),
             "an editor without the anti-forgery header": (edna.cookies, {}, 403)}
    for case, (cookies, csrf, status) in cases.items():
        upload = streamed_upload(8 << 20)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                                     cookies=cookies) as client:
            response = await client.post("/api/kb/import", content=upload,
                                         headers={**UPLOAD_TYPE, **csrf})
        assert response.status_code == status, case
        assert upload.pulled == 0, case  # not a byte of it was read, let alone parsed
    await agent.aclose()
    await edna.aclose()


async def test_an_editors_import_over_the_limit_is_413_after_reading_at_most_the_limit(served):
    base, redis, app = served
    await make_staff(redis, "edna", "editor")
    edna = await signed_in_client(base, "edna")
    upload = streamed_upload(MAX_IMPORT_BYTES + (5 << 20))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                                 cookies=edna.cookies, headers=CSRF) as client:
        response = await client.post("/api/kb/import", content=upload, headers=UPLOAD_TYPE)
        small = await client.post("/api/kb/import", params={"dry_run": "true"}, files={
            "file": ("kb.csv", b"id,title,questions,answer\nnew-one,New,a question,An answer\n")})
    await edna.aclose()
    assert response.status_code == 413
    assert upload.pulled <= MAX_IMPORT_BYTES + MULTIPART_OVERHEAD + CHUNK
    assert small.status_code == 200, small.text  # an editor can still import
    assert small.json() == {"created": ["new-one"], "updated": [], "unchanged": [],
                            "dry_run": True}


@pytest.mark.slow
async def test_unanswered_questions_are_grouped_counted_and_leave_when_handled(gateway, editor):
    _, redis = gateway
    store = ArticleStore(redis)
    for query in ["do you ship to mars", "Do you ship to Mars?", "delivery to mars?",
                  "can you deliver on mars"]:
        await store.record_unanswered(query, "fallback", "web")
    await store.record_unanswered("is there a student discount", "escalated", "sms")
    await store.record_unanswered("student discount?", "fallback", "telegram")
    await store.record_unanswered("who won the football", "fallback", "web")
    # A clarification the customer answered by pressing a button is not unanswered.
    await store.record_unanswered("returns", "clarify", "web", customer_id="c_1")
    await store.clarification_picked("c_1", "return-policy")
    await store.record_unanswered("refund", "clarify", "web", customer_id="c_2")  # unpicked

    groups = (await editor.get("/api/kb/unanswered")).json()["groups"]
    by_label = {g["label"].lower(): g for g in groups}
    mars = next(g for g in groups if "mars" in g["label"].lower())
    assert mars["count"] == 4 and mars["outcomes"] == {"fallback": 4}
    assert {q["text"] for q in mars["queries"]} >= {"delivery to mars?", "can you deliver on mars"}
    student = next(g for g in groups if "student" in g["label"])
    assert student["count"] == 2 and student["outcomes"] == {"escalated": 1, "fallback": 1}
    assert "returns" not in by_label and "refund" in by_label
    assert groups[0] is mars or groups[0]["count"] == 4  # biggest first

    # Add the Mars wordings to an existing article: the group goes.
    target = (await editor.get("/api/kb/articles/international-shipping")).json()
    added = await editor.post("/api/kb/unanswered/add-variants", json={
        "article_id": "international-shipping", "expected_version": target["version"],
        "queries": ["do you ship to mars", "delivery to mars?"], "entry_ids": mars["entry_ids"]})
    assert added.status_code == 200 and added.json()["resolved"] == 4
    assert "delivery to mars?" in (await store.get("international-shipping")).questions

    # Start a new article from the student group.
    new = await editor.post("/api/kb/articles", json={
        **NEW, "id": "student-discount", "title": "Student discount",
        "questions": ["is there a student discount", "student discount?"],
        "resolves": student["entry_ids"]})
    assert new.status_code == 201

    football = next(g for g in groups if "football" in g["label"])
    assert (await editor.post("/api/kb/unanswered/dismiss",
                              json={"entry_ids": football["entry_ids"]})).json()["resolved"] == 1

    left = (await editor.get("/api/kb/unanswered")).json()["groups"]
    assert [g["label"] for g in left] == ["refund"]
