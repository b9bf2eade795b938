"""What an editor's change means for customers, through the editor API on a
real gateway, Redis and embedding model: the publish and rollback summaries
(what changes, in which languages, where), the word-level diff, search by
relevance with the reason, and the unanswered questions' suggestions."""

from knowledge.store import ArticleStore

CHANNELS = ["web chat", "Telegram", "Slack", "SMS"]


async def article_body(editor, article_id: str) -> dict:
    a = (await editor.get(f"/api/kb/articles/{article_id}")).json()
    return {k: a[k] for k in ("title", "questions", "answer", "channels", "tags", "language",
                              "status", "translations")} | {"version": a["version"]}


async def test_the_publish_summary_names_the_changed_article_its_language_and_every_channel(
        editor, gateway):
    _, redis = gateway
    draft = await article_body(editor, "payment-methods")
    version = draft.pop("version")
    draft["answer"] += "\n\nWe now take Klarna."
    summary = (await editor.post("/api/kb/publish-summary",
                                 json={"id": "payment-methods", **draft})).json()
    assert summary["kind"] == "changed" and summary["title"] == "Payment methods"
    assert summary["languages"] == ["en"] and summary["channels"] == CHANNELS
    english = summary["diff"]["languages"][0]
    assert {"op": "add", "text": "\n\nWe now take Klarna."} in english["answer"]
    # asking is not saving
    assert (await ArticleStore(redis).get("payment-methods")).version == version

    # a new article going live, with an SMS too long for one message
    new = {"id": "purple-unicorns", "title": "Purple unicorns",
           "questions": ["Do you sell purple unicorns?"], "status": "published",
           "answer": "We sell purple unicorns in three sizes. " * 12}
    added = (await editor.post("/api/kb/publish-summary", json=new)).json()
    assert added["kind"] == "added" and added["language_states"] == {"en": "added"}
    assert any(w.startswith("SMS (en):") for w in added["warnings"])
    # a draft that was never live changes nothing for customers; a live one set to
    # draft is taken off every channel
    assert (await editor.post("/api/kb/publish-summary",
                              json={**new, "status": "draft"})).json()["kind"] == "none"
    off = (await editor.post("/api/kb/publish-summary",
                             json={"id": "payment-methods", **draft, "status": "draft"})).json()
    assert off["kind"] == "removed" and off["channels"] == CHANNELS


async def test_the_rollback_summary_says_what_goes_back_live(editor):
    body = await article_body(editor, "contact-us")
    version = body.pop("version")
    body["title"] = "Contact us today"
    saved = await editor.put("/api/kb/articles/contact-us",
                             json={**body, "expected_version": version})
    assert saved.status_code == 200
    summary = (await editor.get("/api/kb/articles/contact-us/rollback-summary",
                                params={"version": version})).json()
    assert summary["kind"] == "changed" and summary["channels"] == CHANNELS
    assert summary["diff"]["languages"][0]["title"] == [
        {"op": "same", "text": "Contact us"}, {"op": "del", "text": " today"}]
    assert (await editor.get("/api/kb/articles/contact-us/rollback-summary",
                             params={"version": 99})).status_code == 404


async def test_the_diff_marks_an_inserted_word_and_the_questions_added(editor):
    body = await article_body(editor, "reset-password")
    version = body.pop("version")
    old_answer = body["answer"]
    first_word = old_answer.split()[0]
    body["answer"] = old_answer.replace(first_word, first_word + " quickly", 1)
    body["questions"] = [*body["questions"], "forgot my pasword"]
    await editor.put("/api/kb/articles/reset-password", json={**body, "expected_version": version})
    diff = (await editor.get("/api/kb/articles/reset-password/diff")).json()
    english = diff["rendered"]["languages"][0]
    assert english["language"] == "en" and english["state"] == "changed"
    assert {"op": "add", "text": " quickly"} in english["answer"]
    assert not [s for s in english["answer"] if s["op"] == "del"]
    assert english["questions_added"] == ["forgot my pasword"]
    assert english["questions_removed"] == [] and english["title"] is None


async def test_searching_payment_ranks_payment_articles_first_and_says_why(editor):
    found = (await editor.get("/api/kb/articles", params={"q": "payment"})).json()["articles"]
    ids = [a["id"] for a in found]
    assert set(ids[:2]) == {"payment-methods", "payment-declined"}  # title hits
    assert "delete-account" not in ids[:3]
    assert [a["score"] for a in found] == sorted((a["score"] for a in found), reverse=True)
    first = found[0]["why"][0]
    assert first["where"] == "title"
    start, end = first["marks"][0]
    assert first["text"][start:end].casefold() == "payment"
    # "Delete your account" is listed only because its answer says payment: shown
    why = next(a for a in found if a["id"] == "delete-account")["why"][0]
    assert why["where"] == "answer"
    assert [why["text"][s:e] for s, e in why["marks"]] == ["payment"]


async def test_unanswered_groups_suggest_an_article_only_when_it_matches_well(editor, gateway):
    _, redis = gateway
    store = ArticleStore(redis)
    await store.record_unanswered("purple elephants dance on the keyboard at midnight",
                                  "fallback", "web")
    await store.record_unanswered("hw do i retrn somthing i dont lik", "fallback", "web")
    view = (await editor.get("/api/kb/unanswered")).json()
    groups = {g["label"]: g for g in view["groups"]}
    assert groups["purple elephants dance on the keyboard at midnight"]["suggestion"] is None
    typo = groups["hw do i retrn somthing i dont lik"]["suggestion"]
    assert typo["article_id"] == "how-to-return"
    assert typo["score"] >= view["suggest_at"] > 0
    assert "return" in typo["asked_as"]  # read with its typos corrected


async def test_a_fallback_then_its_escalation_is_counted_once(editor, gateway):
    _, redis = gateway
    store = ArticleStore(redis)
    # as the knowledge action records a second miss that hands the customer over
    await store.record_unanswered("my toaster speaks french", "fallback", "web",
                                  customer_id="c_1")
    await store.record_unanswered("my toaster speaks french", "escalated", "web",
                                  customer_id="c_1")
    # another customer asking the same is another message
    await store.record_unanswered("my toaster speaks french", "fallback", "web",
                                  customer_id="c_2")
    view = (await editor.get("/api/kb/unanswered")).json()
    group = next(g for g in view["groups"] if g["label"] == "my toaster speaks french")
    assert group["count"] == 2
    assert group["outcomes"] == {"escalated": 1, "fallback": 1}
