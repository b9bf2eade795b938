"""One customer across channels: merge and unmerge, verified phone and
email, ticket references, the reply channel and the customer API; real Redis,
Rasa is the FakeRasa of test_router."""

import json

import httpx
import pytest

from bot.channels.memory import InMemoryChannel
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.merge import Customers, MergeRefused, reply_target
from bot.customers.verified import VerifiedAttributes, e164
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import (
    EMAIL_LINKED_TEXT,
    LINK_ISSUED_TEXT,
    PHONE_LINKED_TEXT,
    PHONE_VERIFIED_TEXT,
    TICKET_NOT_HERE_TEXT,
    Router,
)
from core.audit import AUDIT_KEYS
from core.models import InboundMessage, TranscriptEntry, VerifiedAttribute
from handoff.keys import HANDOFF_KEYS
from tests.bot.customers.test_linking import Sender
from tests.bot.gateway.test_router import FakeRasa
from tests.conftest import gateway_without_rasa
from tests.routers import wired_router
from tests.staff import make_staff, signed_in_client

CHANNELS = ("telegram", "sms", "web", "slack")


@pytest.fixture
async def setup(redis):
    fake = FakeRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        channels = {name: InMemoryChannel(name) for name in CHANNELS}
        router = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                              channels)
        yield router, fake


async def texts(router: Router, customer: str) -> list[tuple[str, str]]:
    return [(e.channel, e.text) for e in await router.transcripts.timeline(customer)]


# -- merge and unmerge -------------------------------------------------------------------

async def test_merge_then_unmerge_gives_both_customers_back_as_they_were(setup, redis):
    router, _ = setup
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550101")
    await tg.says("hello from telegram")
    code = await tg.get_code()
    await sms.redeems(code, tg)
    a = await tg.customer()
    assert await sms.customer() == a

    other = Sender(router, "sms", "+15550102")
    await other.says("a different person")
    c = await other.customer()
    b_before = await texts(router, c)
    a_before = await texts(router, a)

    result = await router.customers.merge(c, a, how="agent", by="ada")
    assert result.identities == ["sms:+15550102"] and result.entries == 2
    assert await other.customer() == a
    assert ("sms", "a different person") in await texts(router, a)
    with pytest.raises(MergeRefused):
        await router.customers.merge(c, a, how="agent")  # already merged

    back = await router.customers.unmerge(a, c)
    assert back.identities == ["sms:+15550102"] and back.entries == 2
    assert await other.customer() == c
    assert await texts(router, a) == a_before
    assert await texts(router, c) == b_before  # its own transcript was never touched
    identity = await redis.hget(CUSTOMER_KEYS.customer_identities(c), "sms:+15550102")
    assert json.loads(identity)["how"] == "first_contact"
    assert not await redis.hexists(CUSTOMER_KEYS.customer(c), "merged_into")
    assert c not in {m["source"] for m in await router.customers.merges(a)}
    await other.says("still me")  # the restored customer talks to Rasa as itself again
    assert (await router.transcripts.history(c))[-1].text == "echo: still me"
    with pytest.raises(MergeRefused):
        await router.customers.unmerge(a, c)  # nothing left to undo


async def test_a_code_link_brings_every_identity_of_the_other_customer(setup):
    router, _ = setup
    tg, sms, web = (Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550103"),
                    Sender(router, "web", "v_3"))
    await sms.says("hi")
    code = await sms.get_code()
    await web.redeems(code, sms)  # web joins the SMS customer
    code = await tg.get_code()
    await sms.redeems(code, tg)  # the SMS customer (with its web chat) joins Telegram's
    assert await web.customer() == await sms.customer() == await tg.customer()


# -- verified phone and email ----------------------------------------------------------

def contact(user: str, phone: str, n: int) -> InboundMessage:
    return InboundMessage(channel="telegram", channel_user_id=user, external_id=f"c{n}",
                          text="(shared my phone number)", shared_contact=True,
                          verified=(VerifiedAttribute(kind="phone", value=phone),))


async def test_a_telegram_contact_of_ones_own_links_to_the_sms_customer(setup, redis):
    router, fake = setup
    sms, tg = Sender(router, "sms", "+447700900123"), Sender(router, "telegram", "t9")
    await sms.says("my sofa is broken")
    await tg.says("hello")
    await router.handle("c-1", contact("t9", "447700900123", 1))  # Telegram omits the "+"
    assert await tg.last_reply() == PHONE_LINKED_TEXT
    customer = await sms.customer()
    assert await tg.customer() == customer
    assert ("sms", "my sofa is broken") in await texts(router, customer)
    assert [m["message"] for m in fake.received] == ["my sofa is broken", "hello"]
    identity = json.loads(await redis.hget(CUSTOMER_KEYS.customer_identities(customer),
                                           "telegram:t9"))
    assert identity["how"] == "verified_phone"
    phones = [a for a in await VerifiedAttributes(redis).all(customer) if a["kind"] == "phone"]
    assert {(a["value"], a["source"]) for a in phones} >= {("+447700900123", "sms")}


async def test_a_verified_phone_makes_a_later_first_sms_join_the_customer(setup):
    router, _ = setup
    tg = Sender(router, "telegram", "t8")
    await tg.says("hello")
    await router.handle("c-2", contact("t8", "+1 (555) 010-0104", 2))
    assert await tg.last_reply() == PHONE_VERIFIED_TEXT
    sms = Sender(router, "sms", "+15550100104")
    await sms.says("it's me again, by text")
    assert await sms.customer() == await tg.customer()


async def test_a_typed_phone_number_links_nothing(setup):
    router, fake = setup
    sms, tg = Sender(router, "sms", "+15550105"), Sender(router, "telegram", "t7")
    await sms.says("hello")
    await tg.says("my number is +15550105")
    assert await tg.customer() != await sms.customer()
    assert fake.received[-1]["message"] == "my number is +15550105"  # just text for Rasa


async def test_a_slack_email_joins_the_customer_who_verified_it(setup, redis):
    router, _ = setup
    web = Sender(router, "web", "v_5")
    await web.says("hello")
    owner = await web.customer()
    await VerifiedAttributes(redis).record(
        owner, VerifiedAttribute(kind="email", value="Ada@Example.com"), "web_login")
    message = InboundMessage(channel="slack", channel_user_id="U0ADA", external_id="e1",
                             text="any news on my order?",
                             verified=(VerifiedAttribute(kind="email", value="ada@example.com"),))
    await router.handle("s-1", message)
    assert await router.identities.resolve("slack", "U0ADA", None) == owner
    tail = [(e.author, e.text) for e in await router.transcripts.history(owner)][-3:]
    assert tail == [("system", EMAIL_LINKED_TEXT), ("customer", "any news on my order?"),
                    ("bot", "echo: any news on my order?")]

    # An agent says they are two people: the same email does not relink them.
    slack_customer = (await router.customers.merges(owner))[-1]["source"]
    await router.customers.unmerge(owner, slack_customer)
    await router.handle("s-2", message.model_copy(update={"external_id": "e2"}))
    assert await router.identities.resolve("slack", "U0ADA", None) == slack_customer


def test_phone_numbers_normalise_to_e164():
    assert e164("447700900123") == e164("+44 7700 900123") == e164("0044-7700-900123") \
        == "+447700900123"
    assert e164("12") is None and e164("call me") is None


# -- ticket references --------------------------------------------------------------------

async def test_someone_elses_ticket_reference_gets_only_how_to_link(setup, redis):
    router, fake = setup
    owner, stranger = Sender(router, "sms", "+15550106"), Sender(router, "telegram", "t6")
    await owner.says("hello")
    await redis.hset(HANDOFF_KEYS.ticket("FD-7K2Q"), mapping={
        "customer_id": await owner.customer(), "summary": "refund for the broken sofa"})
    await stranger.says("what happened with fd-7k2q?")
    reply = await stranger.last_reply()
    assert reply == TICKET_NOT_HERE_TEXT and "sofa" not in reply
    assert fake.received[-1]["message"] == "hello"  # not shown to Rasa

    await owner.says("what happened with FD-7K2Q?")  # their own: the assistant answers
    assert fake.received[-1]["message"] == "what happened with FD-7K2Q?"
    await stranger.says("and FD-9ZZZ?")  # no such ticket: just a message
    assert fake.received[-1]["message"] == "and FD-9ZZZ?"


# -- reply channel --------------------------------------------------------------------------

async def test_replies_go_to_the_last_channel_unless_one_is_pinned(setup, redis):
    router, _ = setup
    tg, sms = Sender(router, "telegram", "t5"), Sender(router, "sms", "+15550107")
    code = await tg.get_code()
    await sms.redeems(code, tg)
    await sms.says("on sms now")
    customer = await tg.customer()
    assert await reply_target(redis, customer) == ("sms", "+15550107")
    await tg.says("back on telegram")
    assert await reply_target(redis, customer) == ("telegram", "t5")
    await router.customers.set_reply_channel(customer, "sms")
    await tg.says("still telegram")
    assert await reply_target(redis, customer) == ("sms", "+15550107")
    await router.customers.set_reply_channel(customer, None)
    assert await reply_target(redis, customer) == ("telegram", "t5")


async def test_the_link_button_of_the_assistant_issues_a_code(setup):
    router, fake = setup
    await router.handle("b-1", InboundMessage(channel="web", channel_user_id="v_9",
                                              external_id="b1", text="Get a link code",
                                              button_payload="link"))
    customer = await router.identities.resolve("web", "v_9", None)
    reply = (await router.transcripts.history(customer))[-1]
    assert reply.author == "system" and reply.text.startswith("Your code is ")
    assert fake.received == []


async def test_the_telegram_link_reply_offers_sharing_the_phone_number(setup):
    router, _ = setup
    tg = Sender(router, "telegram", "t4")
    await tg.says("link")
    assert "/share_phone" in await tg.last_reply()
    web = Sender(router, "web", "v_4")
    await web.says("link")
    assert "/share_phone" not in await web.last_reply()
    assert LINK_ISSUED_TEXT.split("{")[0] in await web.last_reply()


# -- the customer API ---------------------------------------------------------------------------

@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, app):
        yield settings.base_url, redis, app


async def seed(app, who: list[tuple[str, str, str]]) -> list[str]:
    """Customers who wrote one message each (what the router logs for a message)."""
    svc = app.state.services
    ids = []
    for channel, user, text in who:
        customer = await svc.identities.resolve(channel, user, None)
        await svc.identities.touch(customer, channel, user)
        for author, said in (("customer", text), ("bot", f"echo: {text}")):
            await svc.transcripts.append(customer, TranscriptEntry(
                channel=channel, author=author, text=said))
        ids.append(customer)
    return ids


async def test_agents_merge_and_unmerge_through_the_api_and_it_is_audited(gateway):
    base, redis, app = gateway
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "eve", "editor")
    a, b = await seed(app, [("telegram", "t1", "my order is late"),
                            ("sms", "+15550108", "it's about order 1234")])
    agent = await signed_in_client(base, "ada")
    editor = await signed_in_client(base, "eve")
    try:
        assert (await editor.get(f"/api/customers/{a}")).status_code == 403
        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get(f"/api/customers/{a}")).status_code == 401

        merged = await agent.post(f"/api/customers/{a}/merge", json={"customer_id": b})
        assert merged.status_code == 200, merged.text
        assert merged.json()["identities"] == ["sms:+15550108"]
        profile = (await agent.get(f"/api/customers/{a}")).json()
        hows = {(i["channel"], i["how"], i.get("by")) for i in profile["identities"]}
        assert hows == {("telegram", "first_contact", None), ("sms", "agent", "ada")}
        assert [m["customer_id"] for m in profile["merged_from"]] == [b]
        assert profile["merged_from"][0]["by"] == "ada"
        assert {"kind": "phone", "value": "+15550108"}.items() <= \
            profile["verified_attributes"][0].items()
        timeline = (await agent.get(f"/api/customers/{a}/transcript")).json()["entries"]
        assert [e["text"] for e in timeline if e["author"] == "customer"] == [
            "my order is late", "it's about order 1234"]
        assert all({"channel", "author", "ts"} <= e.keys() for e in timeline)
        assert (await agent.get("/api/customers", params={
            "channel": "sms", "channel_user_id": "+15550108"})).json() == {"customer_id": a}

        again = await agent.post(f"/api/customers/{a}/merge", json={"customer_id": b})
        assert again.status_code == 409
        self_merge = await agent.post(f"/api/customers/{a}/merge", json={"customer_id": a})
        assert self_merge.status_code == 409
        unknown = await agent.post(f"/api/customers/{a}/merge",
                                   json={"customer_id": "c_nobodyxxxxxxxxxx"})
        assert unknown.status_code == 404

        restored = await agent.post(f"/api/customers/{a}/unmerge", json={"customer_id": b})
        assert restored.status_code == 200 and restored.json()["entries_removed"] == 2
        assert (await agent.get("/api/customers", params={
            "channel": "sms", "channel_user_id": "+15550108"})).json() == {"customer_id": b}
        timeline = (await agent.get(f"/api/customers/{a}/transcript")).json()["entries"]
        assert all(e["channel"] == "telegram" for e in timeline)

        audit = [(f["action"], f["actor"], f["target"], f["source"])
                 for _, f in await redis.xrange(AUDIT_KEYS.audit)
                 if f["action"].startswith("customer.")]
        assert audit == [("customer.merge", "ada", a, b), ("customer.unmerge", "ada", a, b)]
    finally:
        await agent.aclose()
        await editor.aclose()


async def test_an_agent_pins_the_reply_channel_to_one_of_the_customers(gateway):
    base, redis, app = gateway
    await make_staff(redis, "ada", "agent")
    a, b = await seed(app, [("telegram", "t2", "hi"), ("sms", "+15550109", "hi")])
    await Customers(redis).merge(b, a, how="code")
    agent = await signed_in_client(base, "ada")
    try:
        url = f"/api/customers/{a}/reply-channel"
        pinned = await agent.put(url, json={"channel": "telegram"})
        assert pinned.json()["reply_target"] == {"channel": "telegram", "channel_user_id": "t2"}
        assert await reply_target(redis, a) == ("telegram", "t2")
        not_theirs = await agent.put(url, json={"channel": "slack"})
        assert not_theirs.status_code == 422
        assert await reply_target(redis, a) == ("telegram", "t2")  # unchanged
        bad = await agent.put(url, json={"channel": "fax"})
        assert bad.status_code == 422
        latest = await agent.put(url, json={"channel": None})
        assert latest.json()["pinned"] is False
        assert await reply_target(redis, a) == ("sms", "+15550109")  # wrote last
    finally:
        await agent.aclose()
