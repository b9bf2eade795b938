"""Every part's atomic operations against a real Redis Cluster (3 primaries of
plain redis-server, bot/infra/redis_cluster_procs.py): a multi-key command,
MULTI or script whose keys span slots would fail here with CROSSSLOT, and a
SCAN that looked at one node only would miss keys."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from bot.channels.web.limits import VisitorLimiter, VisitorLimits
from bot.customers.identity import IdentityStore
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.linking import LinkCodes
from bot.customers.merge import Customers
from bot.customers.privacy import Privacy
from bot.customers.transcript import TranscriptStore
from bot.gateway.keys import GATEWAY_KEYS
from bot.infra.live import LiveHub
from bot.infra.redis_cluster_procs import LocalCluster, running_cluster
from bot.infra.streams import StreamWorker
from core.aof import rewrite_finished
from core.models import TranscriptEntry
from core.redis import binary_of
from core.redis_cluster import TextRedisCluster, cluster_text_client, sync_cluster_text_client
from core.settings import HandoffSettings, KnowledgeSettings
from core.signin import SignInLimiter, SignInLimits
from handoff.service import HandoffService
from knowledge.answers.embedder import Embedder
from knowledge.models import Article
from knowledge.store import ArticleStore
from knowledge.unanswered import UnansweredQuestions


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> LocalCluster:
    with running_cluster(tmp_path_factory.mktemp("cluster"), n_primaries=3) as running:
        yield running


@pytest.fixture
async def cc(cluster) -> TextRedisCluster:
    client = cluster_text_client(cluster.nodes)
    await client.flushdb(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()


def entry(text: str, sender: Any = "customer") -> TranscriptEntry:
    return TranscriptEntry(author=sender, channel="telegram", text=text, ts=time.time())


async def customer_in_another_slot(identities: IdentityStore, other: str, channel: str,
                                   user: str) -> str:
    """A customer created on first contact whose keys hash to another slot than `other`'s."""
    for n in range(20):
        customer = await identities.resolve(channel, f"{user}{n}", None)
        if key_slot(CUSTOMER_KEYS.customer(customer).encode()) != key_slot(
                CUSTOMER_KEYS.customer(other).encode()):
            return customer
    raise AssertionError("twenty customers in one slot")


async def test_the_cluster_client_answers_text_its_twin_bytes_and_scans_every_primary(
        cc, cluster):
    await cc.set("fd:test:text", "Åsa")
    await binary_of(cc).set("fd:test:bytes", b"\x00\xff")
    assert await cc.get("fd:test:text") == "Åsa"
    assert await binary_of(cc).get("fd:test:bytes") == b"\x00\xff"
    assert binary_of(cc) is binary_of(cc)
    for i in range(30):
        await cc.set(f"fd:test:k{i}", i)
    assert len({key_slot(f"fd:test:k{i}".encode()) % 3 for i in range(30)}) > 1
    assert len([k async for k in cc.scan_iter(match="fd:test:k*")]) == 30
    sync = sync_cluster_text_client(cluster.nodes)
    try:
        assert sync.get("fd:test:text") == "Åsa"
    finally:
        sync.close()


async def test_a_cross_slot_command_is_refused_so_the_key_schema_matters(cc):
    with pytest.raises(Exception, match=r"same (key )?slot|CROSSSLOT"):
        await cc.mget("fd:{c_aaaaaaaaaaaaaaaa}:x", "fd:{c_bbbbbbbbbbbbbbbb}:x")


async def test_identities_merge_and_unmerge_across_slots(cc):
    identities, customers = IdentityStore(cc), Customers(cc)
    transcripts = TranscriptStore(cc)
    target = await identities.resolve("telegram", "t1", "Ada")
    source = await customer_in_another_slot(identities, target, "sms", "+1555010")
    await transcripts.append(source, entry("hello from sms"))
    await transcripts.append(target, entry("hello from telegram"))
    result = await customers.merge(source, target, how="agent", by="alice")
    assert result.entries == 1 and len(result.identities) == 1
    sms_user = result.identities[0].split(":", 1)[1]
    assert await identities.resolve("sms", sms_user, None) == target
    assert await customers.live(source) == target
    assert [e.text for e in await transcripts.timeline(target)] == [
        "hello from sms", "hello from telegram"]
    # the phone the carrier vouched for now points at the target too
    assert await cc.get(CUSTOMER_KEYS.verified_attribute("phone", sms_user)) == target
    assert (await customers.merges(target))[0]["source"] == source

    await customers.unmerge(target, source)
    assert await identities.resolve("sms", sms_user, None) == source
    assert await customers.live(source) == source
    assert [e.text for e in await transcripts.timeline(target)] == ["hello from telegram"]
    assert await customers.kept_apart(source, target)


async def test_link_codes_issue_redeem_and_confirm_across_slots(cc):
    identities, links = IdentityStore(cc), LinkCodes(cc)
    issuer = await identities.resolve("telegram", "t1", "Ada")
    redeemer = await customer_in_another_slot(identities, issuer, "web", "v_")
    visitor = (await Customers(cc).identities(redeemer))[0]["channel_user_id"]
    code = await links.issue(issuer, "telegram", "t1")
    assert (await links.redeem(code, "web", visitor)).status == "pending"
    assert await links.awaiting("telegram", "t1")
    linked = await links.confirm("telegram", "t1", allow=True)
    assert linked is not None and linked.status == "linked"
    assert await identities.resolve("web", visitor, None) == issuer


async def test_transcripts_export_and_erase_on_the_cluster(cc):
    identities, transcripts = IdentityStore(cc), TranscriptStore(cc)
    keep = await identities.resolve("telegram", "keep", None)
    gone = await identities.resolve("telegram", "gone", None)
    await transcripts.append(keep, entry("stays"))
    await transcripts.append(gone, entry("my address is 1 Main St"))
    await LinkCodes(cc).issue(gone, "telegram", "gone")  # a code: found by SCAN on its node
    await HandoffService(cc, HandoffSettings()).escalate(gone, "telegram", "asked_for_human")
    exported = await Privacy(cc).export(gone)
    assert "my address is 1 Main St" in json.dumps(exported)

    erased = await Privacy(cc).erase(gone)
    assert erased.customer_ids == [gone]
    left = [k async for k in cc.scan_iter(match="*")]
    assert not [k for k in left if gone in k or "link:code" in k]
    assert not [v for k in left if await cc.type(k) == "string"
                for v in [await cc.get(k)] if v and gone in v]
    assert [e.text for e in await transcripts.history(keep)] == ["stays"]


async def test_an_erasure_rewrites_the_append_only_file_of_every_node(cc, cluster):
    nodes = [cluster.client(port) for port in cluster.ports]
    for node in nodes:
        node.config_set("appendonly", "yes")
    try:
        before = [rewrites_done(node) for node in nodes]
        customer = await IdentityStore(cc).resolve("telegram", "aof", None)
        erased = await Privacy(cc).erase(customer)
        assert erased.aof.status == "rewriting"
        assert await rewrite_finished(cc, timeout_s=20)
        assert all(rewrites_done(n) > b for n, b in zip(nodes, before, strict=True))
    finally:
        for node in nodes:
            node.config_set("appendonly", "no")
            node.close()


def rewrites_done(node) -> int:
    """Rewrites a node finished (the first, on switching AOF on, may still run)."""
    deadline = time.monotonic() + 10
    while int(node.info("persistence")["aof_rewrite_in_progress"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return int(node.info("persistence").get("aof_rewrites", 0))


async def test_handoff_escalate_claim_transfer_and_resolve(cc):
    service = HandoffService(cc, HandoffSettings())
    ticket, standing = await service.escalate("c_aaaaaaaaaaaaaaaa", "web", "asked_for_human")
    assert standing.position == 1
    await service.set_profile("alice", teams=["support"], capacity=2)
    await service.set_profile("bob", teams=["support"], capacity=2)
    claimed = await service.claim(ticket.ref, "alice")
    assert claimed.agent == "alice"
    moved = await service.assign(ticket.ref, "bob")
    assert moved.agent == "bob"
    await service.release(ticket.ref, "bob")
    assert (await service.queue.get(ticket.ref)).status == "queued"
    resolved, first = await service.resolve(ticket.ref, "bob")
    assert resolved.status == "resolved" and first
    assert await service.queue.of_customer("c_aaaaaaaaaaaaaaaa") == [ticket.ref]
    assert await service.should_tell_standing("c_bbbbbbbbbbbbbbbb", 3, 60)
    assert not await service.should_tell_standing("c_bbbbbbbbbbbbbbbb", 3, 60)


async def test_sign_in_and_web_chat_limits_count_in_one_slot_each(cc):
    signin = SignInLimiter(cc, SignInLimits(attempts_per_user=2, attempts_per_address=10))
    waits = [await signin.attempt("10.0.0.1", "ada") for _ in range(3)]
    assert waits[:2] == [0, 0] and waits[2] >= 1
    await signin.succeeded("10.0.0.1", "ada")
    assert await signin.attempt("10.0.0.1", "ada") == 0
    visitors = VisitorLimiter(cc, VisitorLimits(sessions=1))
    assert await visitors.count("session", "10.0.0.2") == 0
    assert await visitors.count("session", "10.0.0.2") >= 1


async def test_knowledge_publish_and_lookups(cc):
    store = ArticleStore(cc)
    await cc.set(store._keys.kb_seeded, "1")  # an empty knowledge base, not the seed folder
    article = Article(id="refunds", title="Refunds", answer="Within 30 days.",
                      questions=("how do refunds work",), status="published")
    saved = await store.save(article, expected_version=None, author="ed")
    both = await store.save_many([(saved, 1), (article.model_copy(update={"id": "returns"}),
                                               None)], author="ed")
    assert [a.version for a in both] == [2, 1]
    assert sorted(a.id for a in await store.all()) == ["refunds", "returns"]  # the MGET
    assert await store.revision() == 2
    assert [a.version for a in await store.versions("refunds")] == [1, 2]
    first = await store.record_unanswered("refund for a gift?", "clarify", "web",
                                          customer_id="c_aaaaaaaaaaaaaaaa")
    assert await store.clarification_picked("c_aaaaaaaaaaaaaaaa", "refunds") == first
    unanswered = UnansweredQuestions(cc)
    assert [e.query for e in await unanswered.open_entries()] == []  # picked: answered
    assert await unanswered.resolve([first], "dismissed") == 0


async def test_embeddings_are_cached_and_read_back_with_one_mget(cc):
    embedder = Embedder(KnowledgeSettings().model_path())
    texts = ["where is my parcel", "refund for a gift"]
    fresh = await UnansweredQuestions(cc).embeddings(embedder, texts)
    cached = await UnansweredQuestions(cc).embeddings(embedder, texts)  # MGET, binary twin
    np.testing.assert_array_equal(fresh, cached)


async def test_stream_worker_handles_and_dead_letters_on_the_cluster(cc):
    seen: list[str] = []

    async def handle(entry_id: str, fields: dict, keep_alive) -> None:
        if fields["n"] == "bad":
            raise ValueError("a handler failure: dead letter")
        seen.append(fields["n"])

    worker = StreamWorker(cc, GATEWAY_KEYS.outbox_stream, "senders", handle,
                          key_of=lambda f: f["n"], concurrency=4, reclaim_idle_ms=30_000,
                          dead_letter=GATEWAY_KEYS.outbox_dead)
    await worker.start()
    try:
        for n in ("1", "bad", "2"):
            await cc.xadd(GATEWAY_KEYS.outbox_stream, {"n": n})
        deadline = time.monotonic() + 10
        while (len(seen) < 2 or not await cc.xlen(GATEWAY_KEYS.outbox_dead)):
            assert time.monotonic() < deadline, "the worker did not handle the entries"
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert sorted(seen) == ["1", "2"]


async def test_live_frames_of_customers_in_every_slot_reach_one_hub(cc):
    hub = LiveHub(cc)
    await hub.start()
    customers = [f"c_{c * 16}" for c in "abcdefgh"]  # spread over the three primaries
    try:
        async with contextlib_all(hub, customers) as queues:
            for customer in customers:
                await hub.publish(customer, {"type": "typing", "on": True})
            await HandoffService(cc, HandoffSettings()).publish({"type": "presence"})
            for queue in queues:
                assert (await asyncio.wait_for(queue.get(), 5))["type"] in (
                    "typing", "presence")
    finally:
        await hub.stop()


class contextlib_all:
    """Subscribe to every customer's frames and the handoff events at once."""

    def __init__(self, hub: LiveHub, customers: list[str]) -> None:
        self._managers = [hub.subscribe(c) for c in customers] + [hub.subscribe_handoff()]

    async def __aenter__(self) -> list[asyncio.Queue]:
        return [await m.__aenter__() for m in self._managers]

    async def __aexit__(self, *exc) -> None:
        for manager in self._managers:
            await manager.__aexit__(*exc)


async def test_a_reply_and_a_customer_message_are_published_on_the_cluster(cc):
    """Cluster pipelines refuse PUBLISH (redis-py routes a pipeline by keys): the
    hub publishes there one frame at a time."""
    from bot.channels.base import Recipient
    from bot.gateway.outbox import Outbox
    from bot.gateway.replies import ReplySender
    from core.models import OutboundMessage

    hub = LiveHub(cc)
    await hub.start()
    customer = "c_" + "x" * 16
    try:
        async with hub.subscribe(customer) as frames, hub.subscribe_log(customer) as log:
            entry_ = await TranscriptStore(cc).append(customer, entry("where is my parcel?"))
            await hub.publish_customer_entry(customer, entry_, "en")
            assert (await asyncio.wait_for(frames.get(), 5))["language"] == "en"
            assert (await asyncio.wait_for(log.get(), 5))["entry"]["text"] == entry_.text
            sent = await ReplySender(TranscriptStore(cc), Outbox(cc), hub).send(
                "telegram", Recipient(customer, "42"), OutboundMessage(text="On its way."))
            assert (await asyncio.wait_for(log.get(), 5))["entry"]["id"] == sent.id
        outbox = await cc.xrange(GATEWAY_KEYS.outbox_stream)
        assert [json.loads(f["entry"])["text"] for _, f in outbox] == ["On its way."]
    finally:
        await hub.stop()
