"""Linking channel identities by a one-time code, handled by the
router before Rasa; real Redis, Rasa is the FakeRasa of test_router."""

import asyncio
import json
import re

import httpx
import pytest

from bot.channels.memory import InMemoryChannel
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.linking import CODE_ALPHABET, LinkCodes, looks_like_code, new_code
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import (
    LINK_ALLOWED_TEXT,
    LINK_ALREADY_TEXT,
    LINK_CONFIRM_EXPIRED_TEXT,
    LINK_CONFIRM_TEXT,
    LINK_DECLINED_TEXT,
    LINK_INVALID_TEXT,
    LINK_LIMITED_TEXT,
    LINK_REFUSED_TEXT,
    LINK_TOO_MANY_CODES_TEXT,
    LINK_WAITING_TEXT,
    Router,
    link_command,
)
from core.models import InboundMessage
from tests.bot.gateway.test_router import FakeRasa
from tests.routers import wired_router

CODE_IN_TEXT = re.compile(r"Your code is ([A-Z0-9]{6})\.")


@pytest.fixture
async def setup(redis):
    fake = FakeRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        channels = {name: InMemoryChannel(name) for name in ("telegram", "sms", "web")}
        router = wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                              channels)
        yield router, fake


class Sender:
    """Messages from one channel identity, with fresh stream and external ids."""

    counter = 0

    def __init__(self, router: Router, channel: str, user: str) -> None:
        self.router, self.channel, self.user = router, channel, user

    async def says(self, text: str) -> None:
        Sender.counter += 1
        n = Sender.counter
        await self.router.handle(f"1-{n}", InboundMessage(
            channel=self.channel, channel_user_id=self.user, external_id=f"x{n}", text=text))

    async def customer(self) -> str:
        return await self.router.identities.resolve(self.channel, self.user, None)

    async def last_reply(self) -> str:
        """The last thing said to this identity's channel (a linked customer's
        transcript also holds the other channels' lines)."""
        history = await self.router.transcripts.history(await self.customer())
        return [e for e in history if e.channel == self.channel and e.author != "customer"][-1].text

    async def get_code(self) -> str:
        await self.says("link")
        match = CODE_IN_TEXT.search(await self.last_reply())
        assert match, await self.last_reply()
        return match[1]

    async def redeems(self, code: str, issuer: "Sender", answer: str = "YES") -> None:
        """Send `code`, then the issuing identity answers the confirmation."""
        await self.says(code)
        await issuer.says(answer)


async def test_a_code_from_telegram_links_sms_to_the_same_customer(setup, redis):
    router, fake = setup
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550001")
    await tg.says("my parcel is late")
    code = await tg.get_code()
    assert looks_like_code(code)
    assert [b["message"] for b in fake.received] == ["my parcel is late"]  # "link" not to Rasa

    await sms.says(code.lower())  # codes match case-insensitively
    assert await sms.last_reply() == LINK_WAITING_TEXT.format(channel="Telegram")
    assert await tg.last_reply() == LINK_CONFIRM_TEXT.format(channel="SMS")
    assert await sms.customer() != await tg.customer()  # nothing moved yet
    await tg.says("yes")
    assert await tg.last_reply() == LINK_ALLOWED_TEXT.format(channel="SMS")
    assert (await sms.last_reply()).startswith("Linked: you can continue here; "
                                               "I can see our conversation from Telegram.")
    customer = await tg.customer()
    assert await sms.customer() == customer
    assert len(fake.received) == 1  # neither the code nor the YES went to Rasa

    await sms.says("any news?")
    assert fake.received[-1]["sender"] == customer  # Rasa slots follow the customer
    assert fake.received[-1]["metadata"]["channel"] == "sms"

    history = await router.transcripts.history(customer)
    assert [(e.channel, e.author) for e in history] == [
        ("telegram", "customer"), ("telegram", "bot"),  # my parcel is late
        ("telegram", "customer"), ("telegram", "system"),  # link, the code
        ("telegram", "system"),  # someone on SMS wants to join
        ("sms", "customer"), ("sms", "system"),  # the code, waiting (merged in)
        ("telegram", "customer"), ("telegram", "system"), ("sms", "system"),  # yes, linked
        ("sms", "customer"), ("sms", "bot")]
    copied = {4 + 1, 4 + 2}  # the SMS code and "waiting" were copied in by the merge
    own = [e.ts for i, e in enumerate(history) if i not in copied]
    assert own == sorted(own)
    assert history[-1].text == "echo: any news?"

    identities = {k: json.loads(v) for k, v in
                  (await redis.hgetall(CUSTOMER_KEYS.customer_identities(customer))).items()}
    assert identities["telegram:t1"]["how"] == "first_contact"
    assert identities["sms:+15550001"]["how"] == "code"
    assert identities["sms:+15550001"]["linked_at"] > 0
    assert await redis.exists(CUSTOMER_KEYS.link_code(code)) == 0  # single use

    await sms.says(f"link {code}")  # again, from the linked identity: nothing happens
    assert await sms.last_reply() == LINK_INVALID_TEXT
    assert await sms.customer() == customer


async def test_an_identity_with_its_own_history_is_merged_into_the_timeline(setup, redis):
    router, _fake = setup
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550002")
    await sms.says("hello from sms")
    old = await sms.customer()
    await tg.says("hello from telegram")
    target = await tg.customer()
    assert old != target

    code = await tg.get_code()
    await sms.redeems(f"  LINK   {code.lower()} ", tg)
    assert "from Telegram" in await sms.last_reply()
    assert await sms.customer() == target

    timeline = await router.transcripts.timeline(target)
    assert [(e.channel, e.text) for e in timeline][:4] == [
        ("sms", "hello from sms"), ("sms", "echo: hello from sms"),
        ("telegram", "hello from telegram"), ("telegram", "echo: hello from telegram")]
    assert await redis.sismember(CUSTOMER_KEYS.customer_merged_from(target), old)
    assert await redis.hget(CUSTOMER_KEYS.customer(old), "merged_into") == target
    # kept for an unmerge: its two lines, the code and "waiting for confirmation"
    assert len(await router.transcripts.history(old)) == 4
    assert await redis.hlen(CUSTOMER_KEYS.customer_identities(old)) == 0
    # the copies are marked with where they came from
    rows = await redis.xrange(CUSTOMER_KEYS.transcript(target))
    assert sum(1 for _, f in rows if f.get("from") == old) == 4

    await sms.says(code)  # the issuer's code from an identity already on that customer
    assert await sms.last_reply() == LINK_INVALID_TEXT  # used: it is gone


async def test_typing_the_code_on_the_channel_it_came_from_says_already_linked(setup, redis):
    router, _ = setup
    tg = Sender(router, "telegram", "t1")
    code = await tg.get_code()
    await tg.says(code)
    assert await tg.last_reply() == LINK_ALREADY_TEXT
    assert await redis.exists(CUSTOMER_KEYS.link_code(code)) == 1  # still usable elsewhere


async def test_a_wrong_code_links_nothing_and_says_so(setup):
    router, fake = setup
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550003")
    code = await tg.get_code()
    wrong = next(c for c in ("K7Q2MX", "M3PQ7Z") if c != code)
    await sms.says(wrong)
    assert await sms.last_reply() == LINK_INVALID_TEXT
    assert await sms.customer() != await tg.customer()
    assert fake.received == []


async def test_an_expired_code_fails_clearly(setup):
    router, _ = setup
    router.links.code_ttl_s = 0.2
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550004")
    code = await tg.get_code()
    await asyncio.sleep(0.4)
    await sms.says(code)
    assert await sms.last_reply() == LINK_INVALID_TEXT
    assert await sms.customer() != await tg.customer()


async def test_a_used_code_cannot_be_used_again(setup):
    router, _ = setup
    tg = Sender(router, "telegram", "t1")
    sms, web = Sender(router, "sms", "+15550005"), Sender(router, "web", "v_9")
    code = await tg.get_code()
    await sms.redeems(code, tg)
    await web.says(code)
    assert await web.last_reply() == LINK_INVALID_TEXT
    assert await web.customer() != await tg.customer() == await sms.customer()


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_guessing_is_blocked_even_for_the_right_code_until_the_window_passes(setup):
    router, fake = setup
    router = wired_router(router.router._redis, router.router._rasa, router.router._channels,
                          links=LinkCodes(router.router._redis, attempt_window_s=3))
    tg, sms = Sender(router, "telegram", "t1"), Sender(router, "sms", "+15550006")
    code = await tg.get_code()
    replies = []
    # 12 guesses fit in the 3 s window even on a machine that is very busy (with
    # a 1 s window and 30 guesses, the window could pass in the middle).
    for _ in range(12):
        guess = new_code()
        if guess == code:
            continue
        await sms.says(guess)
        replies.append(await sms.last_reply())
    assert replies[:5] == [LINK_INVALID_TEXT] * 5
    assert set(replies[5:]) == {LINK_LIMITED_TEXT}
    await sms.says(code)  # right, but too late
    assert await sms.last_reply() == LINK_LIMITED_TEXT
    assert await sms.customer() != await tg.customer()
    assert fake.received == []

    await asyncio.sleep(3.2)  # the window passes
    await sms.redeems(code, tg)
    assert "Linked" in await sms.last_reply()
    assert await sms.customer() == await tg.customer()


async def test_rotating_identities_past_the_channel_budget_slows_that_channel_only(redis):
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    links = LinkCodes(redis, failures_per_channel=10, slowdown_s=2.0, sleep=sleep)
    for i in range(10):
        result = await links.redeem(new_code(), "web", f"v_{i}")
        assert result.status == "invalid" and not result.slowed
    assert slept == []
    result = await links.redeem(new_code(), "web", "v_fresh")
    assert result.status == "invalid" and result.slowed  # slowed, not refused
    assert slept == [2.0]
    result = await links.redeem(new_code(), "sms", "+1555")  # other channel: full speed
    assert result.status == "invalid" and not result.slowed


async def test_attempts_are_limited_per_customer_across_its_identities(redis):
    links = LinkCodes(redis, attempts_per_identity=100, attempts_per_customer=3)
    for user in ("a", "b"):
        await redis.set(CUSTOMER_KEYS.identity("web", user), "c_same")
    statuses = [(await links.redeem(new_code(), "web", user)).status
                for user in ("a", "b", "a", "b", "a")]
    assert statuses == ["invalid", "invalid", "invalid", "limited", "limited"]


async def test_two_identities_racing_for_one_code_link_exactly_one(setup):
    router, _ = setup
    tg = Sender(router, "telegram", "t1")
    racers = [Sender(router, "sms", "+15550007"), Sender(router, "web", "v_7")]
    code = await tg.get_code()
    await asyncio.gather(*(r.says(code) for r in racers))
    await tg.says("YES")
    target = await tg.customer()
    linked = [r for r in racers if await r.customer() == target]
    assert len(linked) == 1
    loser = next(r for r in racers if r is not linked[0])
    assert await loser.last_reply() == LINK_INVALID_TEXT


async def test_many_racers_on_the_store_one_winner(redis):
    links = LinkCodes(redis)
    code = await links.issue("c_target", "telegram", "t1")
    results = await asyncio.gather(*(links.redeem(code, "web", f"v_{i}") for i in range(20)))
    assert [r.status for r in results].count("pending") == 1
    assert [r.status for r in results].count("invalid") == 19
    assert (await links.confirm("telegram", "t1", allow=True)).status == "linked"
    owners = [await redis.get(CUSTOMER_KEYS.identity("web", f"v_{i}")) for i in range(20)]
    assert owners.count("c_target") == 1


async def test_codes_issued_per_identity_are_limited(setup):
    router, _ = setup
    tg = Sender(router, "telegram", "t1")
    for _ in range(5):
        await tg.get_code()
    await tg.says("/link")
    assert await tg.last_reply() == LINK_TOO_MANY_CODES_TEXT


async def test_a_redelivered_link_request_gets_one_code_and_one_reply(setup, redis):
    router, _ = setup
    msg = InboundMessage(channel="telegram", channel_user_id="t1", external_id="e1", text="link")
    await router.handle("9-1", msg)
    await router.handle("9-1", msg)  # the same stream entry, re-claimed
    await router.handle("9-2", msg)  # the platform delivered it twice
    customer = await router.identities.resolve("telegram", "t1", None)
    assert [e.author for e in await router.transcripts.history(customer)] == [
        "customer", "system"]
    assert len([k async for k in redis.scan_iter(CUSTOMER_KEYS.link_code("*"))]) == 1


def test_only_exact_forms_are_link_commands():
    def cmd(text, payload=None):
        return link_command(InboundMessage(channel="web", channel_user_id="v", external_id="e",
                                           text=text, button_payload=payload))

    assert cmd("link") == cmd(" LINK ") == cmd("/link") == ("issue", None)
    assert cmd("k7q2mx") == cmd("link K7Q2MX") == cmd("/Link  k7q2mx") == ("redeem", "K7Q2MX")
    assert cmd("link K7Q2M") == ("redeem", "K7Q2M")  # a typo gets a clear "not valid"
    for text in ("refund", "thanks", "REFUND", "link account", "link me please",
                 "please link", "123456", "k7q2mx please", ""):
        assert cmd(text) is None, text
    assert cmd("link", payload="/greet") is None
    assert all(c in CODE_ALPHABET for c in new_code())
    assert all(looks_like_code(new_code()) for _ in range(200))


# -- the attacks: denial of linking, and a phished code --------------------------------


async def test_200_wrong_guesses_from_fresh_identities_do_not_stop_a_real_customers_link(setup):
    router, _ = setup
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    links = LinkCodes(router.router._redis, sleep=sleep)
    router = wired_router(router.router._redis, router.router._rasa, router.router._channels,
                          links=links)
    for i in range(200):  # an attacker rotating fresh web visitor ids
        assert (await links.redeem(new_code(), "web", f"v_attacker_{i}")).status == "invalid"
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_customer")
    await web.says("hello")
    code = await tg.get_code()
    await web.redeems(code, tg)
    assert "Linked" in await web.last_reply()  # slowed down a little, but linked
    assert await web.customer() == await tg.customer()
    assert slept == [links.slowdown_s]


async def test_a_redeemed_code_merges_nothing_until_the_issuer_says_yes(setup, redis):
    router, fake = setup
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_victim")
    await web.says("my address is 1 Main St")
    victim = await web.customer()
    code = await tg.get_code()  # issued on the attacker's channel...
    await web.says(code)  # ...and sent to our bot by the victim
    assert await web.last_reply() == LINK_WAITING_TEXT.format(channel="Telegram")
    assert await tg.last_reply() == LINK_CONFIRM_TEXT.format(channel="web chat")
    assert await web.customer() == victim != await tg.customer()
    assert await redis.hget(CUSTOMER_KEYS.customer(victim), "merged_into") is None
    assert all(e.channel == "telegram" for e in
               await router.transcripts.timeline(await tg.customer()))
    assert [b["message"] for b in fake.received] == ["my address is 1 Main St"]


async def test_anything_but_yes_from_the_issuer_refuses_and_nothing_moves(setup, redis):
    router, fake = setup
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_9")
    await web.says("hello")
    victim = await web.customer()
    await web.says(await tg.get_code())
    await tg.says("yes please")  # not exactly YES: refused
    assert await tg.last_reply() == LINK_REFUSED_TEXT.format(channel="web chat")
    assert await web.last_reply() == LINK_DECLINED_TEXT.format(channel="Telegram")
    assert await web.customer() == victim != await tg.customer()
    assert await redis.hget(CUSTOMER_KEYS.customer(victim), "merged_into") is None
    assert [b["message"] for b in fake.received] == ["hello"]  # the answer is not Rasa's
    await tg.says("YES")  # too late: an ordinary message now, nothing to allow
    assert await web.customer() == victim
    assert fake.received[-1]["message"] == "YES"


async def test_a_request_not_answered_in_time_expires_and_nothing_moves(setup):
    router, fake = setup
    router.links.confirm_ttl_s = 0.2
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_10")
    await web.says("hello")
    victim = await web.customer()
    await web.says(await tg.get_code())
    await asyncio.sleep(0.4)
    await tg.says("YES")
    assert await web.customer() == victim != await tg.customer()
    assert fake.received[-1]["message"] == "YES"  # no request left: it is an ordinary message


async def test_only_the_issuing_identity_can_say_yes(setup):
    router, _ = setup
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_11")
    await web.says("hello")
    victim = await web.customer()
    await web.says(await tg.get_code())
    await web.says("YES")  # the redeemer cannot allow it itself
    assert await web.customer() == victim != await tg.customer()


async def test_the_issuers_yes_merges_exactly_once_even_when_sent_twice(setup, redis):
    router, fake = setup
    tg, web = Sender(router, "telegram", "t1"), Sender(router, "web", "v_12")
    await web.says("hello")
    old = await web.customer()
    await web.says(await tg.get_code())
    target = await tg.customer()
    yes = [InboundMessage(channel="telegram", channel_user_id="t1", external_id=f"y{i}",
                          text="YES") for i in range(2)]
    await asyncio.gather(router.handle("8-1", yes[0]), router.handle("8-2", yes[1]))
    await router.handle("8-1", yes[0])  # a re-claim of the first
    assert await web.customer() == target
    assert await redis.smembers(CUSTOMER_KEYS.customer_merged_from(target)) == {old}
    allowed = [e for e in await router.transcripts.history(target)
               if e.text == LINK_ALLOWED_TEXT.format(channel="web chat")]
    told = [e for e in await router.transcripts.history(target) if e.text.startswith("Linked: you")]
    assert len(allowed) == 1 and len(told) == 1
    # The second YES, handled at the same moment (the stream worker serialises one
    # identity's messages; this test does not), either comes after the merge and is
    # ordinary text for the assistant, or raced the first and hears the request was
    # already answered: exactly one of the two, never a second merge.
    to_assistant = [b["message"] for b in fake.received] == ["hello", "YES"]
    expired = [e for e in await router.transcripts.history(target)
               if e.text == LINK_CONFIRM_EXPIRED_TEXT]
    assert to_assistant != bool(expired)
    assert len(expired) <= 1
