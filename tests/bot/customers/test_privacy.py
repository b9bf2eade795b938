"""Export and erasure of one customer: after an erasure nothing of the
person is left anywhere in Redis, and nobody else lost anything."""

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from redis.asyncio import Redis

from bot.channels.memory import InMemoryChannel
from bot.channels.slack.keys import SLACK_KEYS
from bot.channels.sms.keys import SMS_KEYS
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.merge import Customers
from bot.customers.privacy import Privacy
from bot.gateway.inbound import InboundStream
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import Router
from bot.rasa_store.keys import RASA_KEYS
from core.aof import rewrite_finished
from core.audit import AUDIT_KEYS
from core.models import InboundMessage, VerifiedAttribute
from core.redis import binary_of, text_client
from handoff.keys import HANDOFF_KEYS
from knowledge.keys import KNOWLEDGE_KEYS
from knowledge.store import ArticleStore
from knowledge.unanswered import UnansweredQuestions, _sha, normalise
from tests.bot.customers.test_customers import gateway  # noqa: F401 - fixture
from tests.bot.customers.test_linking import CODE_IN_TEXT
from tests.bot.gateway.test_router import FakeRasa
from tests.conftest import free_port
from tests.routers import wired_router
from tests.staff import make_staff, signed_in_client

ROOT = Path(__file__).resolve().parents[3]
TG, PHONE, VISITOR, SLACK = "7700123001", "+15550201", "v_privacy1", "U0PRIVACY"
SECRETS = ["my sofa arrived broken", "call me on this number", "slack words about my bed",
           "priv@example.com", "Ada Lovelace",
           # typed with a leading "/": the assistant (and so the unanswered list) gets
           # them without it; the first is recorded with the customer's id, the second
           # as entries were before ids were recorded
           "Where is my bed frame", "my mattress squeaks"]
OTHERS_QUESTION = "unrelated question"


class Embedder:
    """Stands in for the model: the cache keys are what matters here."""

    name = "test-model"
    dimension = 384

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 384), dtype=np.float32)


class Person:
    """Drives the router the way the gateway does: inbound stream, then handle."""

    def __init__(self, router: Router, redis: Redis, rasa: FakeRasa) -> None:
        self.router, self.stream, self.n, self.rasa = router, InboundStream(redis), 0, rasa

    async def says(self, channel: str, user: str, text: str, **extra) -> str:
        self.n += 1
        message = InboundMessage(channel=channel, channel_user_id=user,
                                 external_id=f"{user}:p{self.n}", text=text, **extra)
        await self.router.handle(await self.stream.append(message), message)
        customer = await self.router.identities.resolve(channel, user, None)
        return (await self.router.transcripts.history(customer))[-1].text


@contextlib.asynccontextmanager
async def people_on(redis: Redis):
    fake = FakeRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        channels = {name: InMemoryChannel(name) for name in ("telegram", "sms", "web", "slack")}
        router = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                              channels)
        yield Person(router, redis, fake), router


@pytest.fixture
async def person(redis):
    async with people_on(redis) as built:
        yield built


async def unanswered(p: Person, redis: Redis, *, with_customer: bool = True) -> str:
    """Record the last question as the knowledge action does when it has no
    answer: the text Rasa got, from the sender Rasa got (the customer id)."""
    got = p.rasa.received[-1]
    await ArticleStore(redis).record_unanswered(
        got["message"], "fallback", "telegram",
        customer_id=got["sender"] if with_customer else None)
    await UnansweredQuestions(redis).embeddings(Embedder(), [normalise(got["message"])])
    return got["message"]


async def build_a_customer_everywhere(p: Person, router: Router, redis: Redis) -> list[str]:
    """Telegram, then SMS and web chat linked by code, a Slack user with a verified
    email, a ticket in a queue, Rasa's memory, channel state; plus one other customer."""
    await p.says("telegram", TG, SECRETS[0])
    code = CODE_IN_TEXT.search(await p.says("telegram", TG, "link"))[1]
    await p.says("sms", PHONE, SECRETS[1])  # an SMS customer of its own first...
    previous = await router.identities.resolve("sms", PHONE, None)
    await p.says("sms", PHONE, code)  # ...then linked: kept for an unmerge
    await p.says("telegram", TG, "YES")  # the issuer allows it
    code = CODE_IN_TEXT.search(await p.says("sms", PHONE, "link"))[1]
    await p.says("web", VISITOR, code)
    await p.says("sms", PHONE, "YES")
    customer = await router.identities.resolve("telegram", TG, None)
    await router.verified.record(customer, VerifiedAttribute(kind="email", value=SECRETS[3]),
                                 "web_login")
    await p.says("slack", SLACK, SECRETS[2],
                 verified=(VerifiedAttribute(kind="email", value=SECRETS[3]),))
    await p.says("telegram", TG, "link")  # a live code, never used
    assert await router.identities.resolve("slack", SLACK, None) == customer

    await redis.hset(HANDOFF_KEYS.ticket("FD-ABCD"), mapping={"customer_id": customer,
                                                      "summary": SECRETS[0]})
    await redis.rpush(HANDOFF_KEYS.customer_tickets(customer), "FD-ABCD")
    await redis.zadd(HANDOFF_KEYS.team_queue("general"), {"FD-ABCD": 1, "FD-ZZZZ": 2})
    await redis.sadd(HANDOFF_KEYS.agent_tickets("ada"), "FD-ABCD")  # held, with a deadline
    await redis.zadd(HANDOFF_KEYS.claim_deadlines, {"FD-ABCD": 1})
    await redis.set(RASA_KEYS.rasa_tracker(customer), json.dumps(
        {"sender_id": customer, "slots": {"customer_name": SECRETS[4]}}))
    await redis.set(RASA_KEYS.rasa_tracker(previous), json.dumps({"sender_id": previous}))
    await redis.set(SMS_KEYS.sms_options(PHONE), json.dumps([{"title": "a", "payload": "b"}]))
    await redis.set(SMS_KEYS.sms_opted_out(PHONE), "1")
    await redis.set(SLACK_KEYS.slack_reply_to(SLACK), json.dumps({"channel": "D0PRIVACY",
                                                           "thread_ts": None}))
    await redis.set(SLACK_KEYS.slack_user_name(SLACK), SECRETS[4])
    await redis.set(SLACK_KEYS.slack_pressed("D0PRIVACY", "1.2"), "x")
    await ArticleStore(redis).record_unanswered(SECRETS[0], "fallback", "telegram")
    await p.says("telegram", TG, "/ " + SECRETS[5])
    assert await unanswered(p, redis) == SECRETS[5]
    await p.says("telegram", TG, "/" + SECRETS[6])
    assert await unanswered(p, redis, with_customer=False) == SECRETS[6]

    await p.says("sms", "+15550299", OTHERS_QUESTION)
    await unanswered(p, redis)
    await redis.hset(HANDOFF_KEYS.ticket("FD-ZZZZ"), "customer_id",
                     await router.identities.resolve("sms", "+15550299", None))
    return [customer, previous]


async def everything_in_redis(redis: Redis) -> dict[str, str]:
    """Every key with a readable dump of its value."""
    dump = {}
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        if kind == "string":  # embeddings are bytes
            value = (await binary_of(redis).get(key)).decode(errors="replace")
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1)
        else:
            value = await redis.xrange(key)
        dump[key] = repr(value)
    return dump


async def test_erasure_leaves_nothing_of_the_person_and_nothing_else_is_lost(person, redis):
    p, router = person
    customer, sms_customer = await build_a_customer_everywhere(p, router, redis)
    exported = await Privacy(redis).export(sms_customer)  # any of their ids finds the person
    assert exported["customer_id"] == customer
    # Telegram's customer, and the SMS, web and Slack customers merged into it (the
    # web visitor's first message was the code: it waited for the SMS side's YES
    # as a customer of its own).
    people = [c["customer_id"] for c in exported["customers"]]
    assert len(people) == 4 and people[0] == exported["customer_id"]
    everything = json.dumps(exported)
    assert all(secret in everything for secret in SECRETS)
    assert {"ref": "FD-ABCD", "customer_id": customer, "summary": SECRETS[0]} in \
        exported["customers"][0]["tickets"]

    erased = await Privacy(redis).erase(customer)
    assert set(erased.customer_ids) == set(people)
    assert erased.aof.status == "off"  # the test server runs without AOF

    needles = [*people, TG, PHONE, VISITOR, SLACK, "D0PRIVACY", "FD-ABCD", *SECRETS]
    left = {key: value for key, value in (await everything_in_redis(redis)).items()
            if any(n in key or n in value for n in needles)}
    # Kept on purpose: the carrier opt-out of the phone (never text a number that said STOP).
    assert left == {SMS_KEYS.sms_opted_out(PHONE): repr("1")}

    other = await router.identities.resolve("sms", "+15550299", None)
    assert [e.text for e in await router.transcripts.history(other)][:1] == [
        "unrelated question"]
    assert await redis.zrange(HANDOFF_KEYS.team_queue("general"), 0, -1) == ["FD-ZZZZ"]
    assert await redis.hget(HANDOFF_KEYS.ticket("FD-ZZZZ"), "customer_id") == other
    # Their questions' cached embeddings are gone (the keys name only a hash); the
    # other customer's question and its embedding are still there.
    embeddings = {key.rpartition(":")[2] async for key in
                  redis.scan_iter(match=KNOWLEDGE_KEYS.embedding("*", "*"))}
    assert embeddings == {_sha(normalise(OTHERS_QUESTION))}
    assert [f["query"] for _, f in await redis.xrange(KNOWLEDGE_KEYS.unanswered)] == [
        OTHERS_QUESTION]


@pytest.fixture
def aof_server(tmp_path):
    """A throwaway redis-server with the append-only file on, as in production."""
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--dir", str(tmp_path), "--save", "", "--appendonly", "yes",
         "--appendfsync", "always"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield f"redis://127.0.0.1:{port}/0", tmp_path
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
async def aof_redis(aof_server):
    url, folder = aof_server
    client = text_client(url)
    for _ in range(200):
        with contextlib.suppress(Exception):
            if await client.ping():
                break
        await asyncio.sleep(0.05)
    yield client, folder
    await client.aclose()


def aof_bytes(folder: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()
                    and not f.name.endswith(".rdb"))


async def test_an_erasure_rewrites_the_append_only_file_so_the_values_leave_it(aof_redis):
    redis, folder = aof_redis
    async with people_on(redis) as (p, router):
        await p.says("sms", PHONE, SECRETS[0])
        await p.says("sms", PHONE, "/" + SECRETS[5])
        await unanswered(p, redis)
        customer = await router.identities.resolve("sms", PHONE, None)
        assert await rewrite_finished(redis)  # the server's own first rewrite, if any
        assert SECRETS[0].encode() in aof_bytes(folder)
        assert SECRETS[5].encode() in aof_bytes(folder)

        erased = await Privacy(redis).erase(customer)

    assert erased.aof.status == "rewriting"
    assert await rewrite_finished(redis)
    # the files the rewrite replaced are removed right after it; allow a moment
    for _ in range(100):
        written = aof_bytes(folder)
        if SECRETS[0].encode() not in written and PHONE.encode() not in written:
            break
        await asyncio.sleep(0.05)
    for needle in (SECRETS[0], SECRETS[5], PHONE):
        assert needle.encode() not in written, needle


async def test_admins_export_and_erase_through_the_api_agents_cannot(gateway):  # noqa: F811
    base, redis, app = gateway
    await make_staff(redis, "root", "admin")
    await make_staff(redis, "ada", "agent")
    svc = app.state.services
    customer = await svc.identities.resolve("sms", PHONE, None)
    await svc.transcripts.append(customer, _entry(SECRETS[1]))
    admin, agent = await signed_in_client(base, "root"), await signed_in_client(base, "ada")
    try:
        url = f"/api/admin/customers/{customer}"
        assert (await agent.get(url + "/export")).status_code == 403
        assert (await agent.delete(url)).status_code == 403
        exported = await admin.get(url + "/export")
        assert exported.status_code == 200
        assert exported.json()["customers"][0]["transcript"][0]["text"] == SECRETS[1]
        assert (await admin.delete(url)).status_code == 204
        assert (await admin.get(url + "/export")).status_code == 404
        assert (await admin.delete(url)).status_code == 404
        assert await Customers(redis).find("sms", PHONE) is None
        actions = [(f["action"], f["actor"]) for _, f in await redis.xrange(AUDIT_KEYS.audit)]
        assert actions == [("customer.export", "root"), ("customer.erase", "root")]
    finally:
        await admin.aclose()
        await agent.aclose()


@pytest.mark.slow  # runs the CLI in a subprocess
async def test_the_cli_exports_json_and_erases(redis_server, redis):
    from bot.customers.identity import IdentityStore

    customer = await IdentityStore(redis).resolve("telegram", TG, "Ada")
    env = {"FRONTDOOR_REDIS_URL": f"{redis_server}/1", "PATH": "/usr/bin:/bin"}
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli.main", "customer", *args],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                              check=False)

    out = await asyncio.to_thread(cli, "export", customer)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["customers"][0]["identities"][0]["channel_user_id"] == TG
    missing = await asyncio.to_thread(cli, "export", "c_nobodyxxxxxxxxxx")
    assert missing.returncode == 2 and "No customer" in missing.stderr and not missing.stdout
    erased = await asyncio.to_thread(cli, "erase", customer, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert await redis.get(CUSTOMER_KEYS.identity("telegram", TG)) is None
    assert not await redis.exists(CUSTOMER_KEYS.customer(customer))


def _entry(text: str):
    from core.models import TranscriptEntry

    return TranscriptEntry(channel="sms", author="customer", text=text)
