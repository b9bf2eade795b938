"""The agent API against an in-process gateway and a real Redis (no Rasa needed):
atomic claims, canned answers from the knowledge base, notes, the console page
and its socket."""

import asyncio
import json

import httpx
import pytest
import websockets
from redis.asyncio import Redis

from bot.customers.identity import IdentityStore
from core.settings import HandoffSettings
from handoff import TicketStateError
from handoff.keys import HANDOFF_KEYS
from handoff.service import HandoffService
from knowledge.models import Article, ArticleText
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, _app):
        yield settings.base_url, redis


async def waiting_customer(redis: Redis, visitor: str = "w-1") -> str:
    """A web chat customer who asked for a person: their ticket's reference."""
    identities = IdentityStore(redis)
    customer_id = await identities.resolve("web", visitor, "Dana")
    await identities.touch(customer_id, "web", visitor)
    service = HandoffService(redis, HandoffSettings())
    ticket, _ = await service.escalate(customer_id, "web", "asked_for_human", display_name="Dana")
    return ticket.ref


@pytest.fixture
async def two_agents(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "bob", "agent")
    ada, bob = await signed_in_client(base, "ada"), await signed_in_client(base, "bob")
    yield ada, bob, redis
    await ada.aclose()
    await bob.aclose()


async def test_two_agents_claiming_at_once_get_exactly_one_winner(two_agents):
    ada, bob, redis = two_agents
    for n in range(5):  # a few rounds: the race is decided in Redis, every time
        ref = await waiting_customer(redis, f"w-race{n}")
        path = f"/api/agent/tickets/{ref}/claim"
        first, second = await asyncio.gather(ada.post(path), bob.post(path))
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        winner = "ada" if first.status_code == 200 else "bob"
        loser = second if winner == "ada" else first
        assert "already taken" in loser.json()["detail"]
        detail = (await ada.get(f"/api/agent/tickets/{ref}")).json()
        assert detail["ticket"]["status"] == "claimed" and detail["ticket"]["agent"] == winner
        owner = await redis.get(HANDOFF_KEYS.owner(detail["ticket"]["customer_id"]))
        assert owner == f"agent:{winner}"
        mine = (await (ada if winner == "ada" else bob).get("/api/agent/queue")).json()["mine"]
        assert ref in [t["ref"] for t in mine]
        resolved = await (ada if winner == "ada" else bob).post(
            f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
        assert resolved.status_code == 200


async def test_only_the_holder_replies_and_a_taken_ticket_stays_taken(two_agents):
    ada, bob, redis = two_agents
    ref = await waiting_customer(redis)
    assert (await bob.post(f"/api/agent/tickets/{ref}/reply", json={"text": "hi"})).status_code \
        == 409  # nobody holds it yet
    assert (await ada.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
    assert (await bob.post(f"/api/agent/tickets/{ref}/claim")).status_code == 409
    assert (await bob.post(f"/api/agent/tickets/{ref}/reply", json={"text": "hi"})).status_code \
        == 409
    reply = await ada.post(f"/api/agent/tickets/{ref}/reply", json={"text": "Hello Dana"})
    assert reply.status_code == 200
    assert reply.json()["author"] == "agent" and reply.json()["channel"] == "web"
    unknown = await ada.post(f"/api/agent/tickets/{ref}/reply",
                             json={"text": "x", "channel": "sms"})
    assert unknown.status_code == 422  # Dana has no SMS identity
    await ada.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})


async def test_notes_stay_internal_and_reach_the_ticket(two_agents):
    ada, _, redis = two_agents
    ref = await waiting_customer(redis)
    note = await ada.post(f"/api/agent/tickets/{ref}/notes",
                          json={"text": "<b>VIP</b>, be nice"})
    assert note.status_code == 201
    detail = (await ada.get(f"/api/agent/tickets/{ref}")).json()
    assert [n["text"] for n in detail["notes"]] == ["<b>VIP</b>, be nice"]
    assert all(e["text"] != "<b>VIP</b>, be nice" for e in detail["transcript"])


async def test_canned_answers_search_published_articles(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    store = ArticleStore(redis)
    await store.save(Article(id="payment-methods", title="Payment methods",
                             questions=("can I pay with PayPal?",),
                             answer="We take cards and **PayPal**."),
                     expected_version=None, author="test")
    await store.save(Article(id="opening-hours", title="Opening hours",
                             questions=("when are you open?",), answer="9 to 5."),
                     expected_version=None, author="test")
    await store.save(Article(id="secret-draft", title="PayPal refunds (draft)",
                             questions=("paypal refund?",), answer="Soon.", status="draft"),
                     expected_version=None, author="test")
    ada = await signed_in_client(base, "ada")
    try:
        found = (await ada.get("/api/agent/canned", params={"q": "paypal"})).json()
        assert found == [{"id": "payment-methods", "title": "Payment methods",
                          "answer": "We take cards and **PayPal**.",
                          "html": "<p>We take cards and <strong>PayPal</strong>.</p>",
                          "language": "en"}]
        assert [a["id"] for a in (await ada.get("/api/agent/canned", params={
            "q": "OPEN when"})).json()] == ["opening-hours"]
        assert len((await ada.get("/api/agent/canned")).json()) == 2  # no query: all published
        assert (await ada.get("/api/agent/canned", params={"q": "x" * 201})).status_code == 422
        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get("/api/agent/canned")).status_code == 401
    finally:
        await ada.aclose()


async def test_canned_answers_come_in_every_language_the_customers_first(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    await ArticleStore(redis).save(Article(
        id="payment-methods", title="Payment methods", questions=("can I pay with PayPal?",),
        answer="We take cards and **PayPal**.",
        translations={"de": ArticleText(title="Zahlungsarten", questions=("Geht PayPal?",),
                                        answer="Wir nehmen Karten und **PayPal**.")}),
        expected_version=None, author="test")
    ada = await signed_in_client(base, "ada")
    try:
        english = {"id": "payment-methods", "title": "Payment methods",
                   "answer": "We take cards and **PayPal**.",
                   "html": "<p>We take cards and <strong>PayPal</strong>.</p>", "language": "en"}
        german = {"id": "payment-methods", "title": "Zahlungsarten",
                  "answer": "Wir nehmen Karten und **PayPal**.",
                  "html": "<p>Wir nehmen Karten und <strong>PayPal</strong>.</p>",
                  "language": "de"}
        found = (await ada.get("/api/agent/canned", params={"q": "paypal"})).json()
        assert found == [english, german]  # the main language first
        found = (await ada.get("/api/agent/canned", params={"q": "paypal",
                                                            "language": "de"})).json()
        assert found == [german, english]
        # a German word finds the article too
        assert (await ada.get("/api/agent/canned", params={"q": "zahlungsarten"})).json() == [
            english, german]
    finally:
        await ada.aclose()


async def test_the_console_page_and_its_files_are_served_with_a_strict_policy(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "eve", "editor")
    async with httpx.AsyncClient(base_url=base) as anonymous:
        redirect = await anonymous.get("/agent")
        assert redirect.status_code == 303 and redirect.headers["location"].startswith("/login")
    ada, eve = await signed_in_client(base, "ada"), await signed_in_client(base, "eve")
    try:
        page = await ada.get("/agent")
        assert page.status_code == 200
        assert "script-src 'self';" in page.headers["content-security-policy"]  # nothing inline
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        assert 'data-me="ada"' in page.text
        for name in ("agent.js", "agent.css"):
            assert (await ada.get(f"/agent/static/{name}")).status_code == 200
        assert (await eve.get("/agent")).status_code == 403  # editors are not agents
    finally:
        await ada.aclose()
        await eve.aclose()


async def test_every_console_hears_queue_changes_and_the_watched_customer_live(two_agents,
                                                                            gateway):
    ada, bob, redis = two_agents
    base, _ = gateway
    url = base.replace("http://", "ws://") + "/agent/ws"
    cookie = f"fd_staff={bob.cookies.get('fd_staff')}"
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as socket:
        async def next_frame(kind: str) -> dict:
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame["type"] == kind:
                    return frame

        hello = await next_frame("hello")
        assert hello["me"]["username"] == "bob" and hello["queue"]["queued"] == []
        ref = await waiting_customer(redis)
        created = await next_frame("ticket.created")
        assert created["ticket"]["ref"] == ref
        customer_id = created["ticket"]["customer_id"]
        await socket.send("[1, 2]")  # not a frame: ignored, the socket stays usable
        await socket.send(json.dumps({"type": "watch", "customer_id": customer_id}))
        await asyncio.sleep(0.2)
        assert (await ada.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
        claimed = await next_frame("ticket.claimed")
        assert claimed["ticket"]["agent"] == "ada"
        entry = await next_frame("entry")  # what Dana is told, seen live by bob's console
        assert entry["customer_id"] == customer_id and entry["entry"]["author"] == "system"
        assert (await bob.get("/api/agent/queue")).json()["queued"] == []
        await ada.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    async with websockets.connect(url) as anonymous:  # no session: closed at once
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(anonymous.recv(), 5)
        assert closed.value.rcvd.code == 4401


async def test_transfer_to_a_team_requeues_and_tells_the_customer(two_agents):
    ada, bob, redis = two_agents
    ref = await waiting_customer(redis)
    await ada.post(f"/api/agent/tickets/{ref}/claim")
    bad = await ada.post(f"/api/agent/tickets/{ref}/transfer", json={"team": "nope"})
    assert bad.status_code == 422
    both = await ada.post(f"/api/agent/tickets/{ref}/transfer",
                          json={"team": "billing", "agent": "bob"})
    assert both.status_code == 422
    moved = await ada.post(f"/api/agent/tickets/{ref}/transfer", json={"team": "billing"})
    assert moved.status_code == 200
    assert moved.json()["team"] == "billing" and moved.json()["status"] == "queued"
    await asyncio.sleep(0.5)  # time for the queue follower: it must not repeat the position
    detail = (await bob.get(f"/api/agent/tickets/{ref}")).json()
    told = [e["text"] for e in detail["transcript"] if e["author"] == "system"]
    assert "passed your conversation to our Billing and cancellations team" in told[-1]
    assert ref in [t["ref"] for t in (await bob.get("/api/agent/queue")).json()["queued"]]
    await bob.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})


async def test_a_second_agent_cannot_transfer_a_ticket_claimed_by_the_first_to_themselves(
        two_agents, gateway):
    ada, bob, redis = two_agents
    ref = await waiting_customer(redis)
    assert (await ada.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
    stolen = await bob.post(f"/api/agent/tickets/{ref}/transfer", json={"agent": "bob"})
    assert stolen.status_code in (403, 409)
    to_team = await bob.post(f"/api/agent/tickets/{ref}/transfer", json={"team": "billing"})
    assert to_team.status_code in (403, 409)
    ticket = (await ada.get(f"/api/agent/tickets/{ref}")).json()["ticket"]
    assert ticket["status"] == "claimed" and ticket["agent"] == "ada"
    assert ticket["team"] != "billing"
    # the holder may pass it on; so may an admin, whoever holds it
    assert (await ada.post(f"/api/agent/tickets/{ref}/transfer",
                           json={"agent": "bob"})).json()["agent"] == "bob"
    base, _ = gateway
    await make_staff(redis, "root", "agent", "admin")
    admin = await signed_in_client(base, "root")
    try:
        moved = await admin.post(f"/api/agent/tickets/{ref}/transfer", json={"agent": "root"})
        assert moved.status_code == 200 and moved.json()["agent"] == "root"
        await admin.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
    finally:
        await admin.aclose()


async def test_a_transfer_is_refused_when_someone_else_claimed_the_ticket_meanwhile(two_agents):
    """The queue re-checks the holder atomically: a transfer decided on a waiting
    ticket does not move it once another agent has claimed it."""
    _ada, _bob, redis = two_agents
    service = HandoffService(redis, HandoffSettings())
    ref = await waiting_customer(redis, "w-meanwhile")
    await service.claim(ref, "ada")
    with pytest.raises(TicketStateError, match="held by another agent"):
        await service.assign(ref, "bob", holder="")  # bob saw it waiting
    with pytest.raises(TicketStateError, match="held by another agent"):
        await service.transfer_to_team(ref, "billing", by="bob", holder="bob")
    ticket = await service.queue.get(ref)
    assert ticket.agent == "ada" and ticket.status == "claimed"
    await service.resolve(ref, "ada")


async def test_the_console_socket_from_a_foreign_origin_is_refused(two_agents, gateway):
    _ada, bob, _redis = two_agents
    base, _ = gateway
    url = base.replace("http://", "ws://") + "/agent/ws"
    cookie = f"fd_staff={bob.cookies.get('fd_staff')}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers={"Cookie": cookie},
                                      origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(url, additional_headers={"Cookie": cookie},
                                  origin=base) as same_host:  # the console's own page
        assert json.loads(await asyncio.wait_for(same_host.recv(), 10))["type"] == "hello"
