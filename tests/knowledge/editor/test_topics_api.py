"""The editors' suggested topics API (/api/kb/topics): editors only, writes need
the anti-forgery header, only published articles, and what the widget offers
changes at once."""

import httpx

from knowledge.topics import SEED_TOPICS
from tests.staff import make_staff, signed_in_client


async def test_an_editor_sets_the_topics_and_goes_back_to_the_most_asked(editor):
    shown = (await editor.get("/api/kb/topics")).json()
    assert shown["source"] == "most asked" and shown["chosen"] == []
    assert [t["id"] for t in shown["topics"]] == list(SEED_TOPICS)

    chosen = await editor.put("/api/kb/topics",
                              json={"article_ids": ["warranty-claim", "price-match", "exchanges"]})
    assert chosen.status_code == 200
    assert chosen.json()["source"] == "editors"
    assert [t["title"] for t in chosen.json()["topics"]] == [
        "Make a warranty claim", "Price match promise", "Exchange an item"]
    assert (await editor.get("/api/kb/topics")).json()["chosen"] == [
        "warranty-claim", "price-match", "exchanges"]

    back = await editor.put("/api/kb/topics", json={"article_ids": []})
    assert back.json()["source"] == "most asked"


async def test_an_unknown_article_is_refused_with_a_reason(editor):
    refused = await editor.put("/api/kb/topics", json={"article_ids": ["no-such-article"]})
    assert refused.status_code == 422
    assert "no-such-article" in refused.json()["detail"]


async def test_a_write_without_the_anti_forgery_header_is_refused(editor):
    forged = await editor.put("/api/kb/topics", json={"article_ids": ["track-order"]},
                              headers={"X-Requested-With": ""})
    assert forged.status_code == 403


async def test_agents_and_visitors_cannot_read_or_set_topics(gateway):
    base, redis = gateway
    async with httpx.AsyncClient(base_url=base) as visitor:
        assert (await visitor.get("/api/kb/topics")).status_code == 401
    await make_staff(redis, "andy", "agent")
    agent = await signed_in_client(base, "andy")
    try:
        assert (await agent.get("/api/kb/topics")).status_code == 403
        assert (await agent.put("/api/kb/topics",
                                json={"article_ids": []})).status_code == 403
    finally:
        await agent.aclose()
