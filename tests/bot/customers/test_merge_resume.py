"""A merge interrupted by a crash (a process killed between its one-slot steps,
bot/customers/merge.py) is finished later and ends exactly like one that ran
through: nothing lost, nothing copied twice."""

from __future__ import annotations

import json

from bot.customers.identity import IdentityStore
from bot.customers.keys import CUSTOMER_KEYS
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from core.models import TranscriptEntry


async def two_customers(redis) -> tuple[str, str]:
    identities, transcripts = IdentityStore(redis), TranscriptStore(redis)
    target = await identities.resolve("telegram", "t1", "Ada")
    source = await identities.resolve("sms", "+15550100", None)
    await transcripts.append(source, TranscriptEntry(author="customer", channel="sms",
                                                     text="hello from sms", ts=1.0))
    await transcripts.append(target, TranscriptEntry(author="customer", channel="telegram",
                                                     text="hello from telegram", ts=2.0))
    return source, target


async def state(redis, source: str, target: str) -> dict:
    customers = Customers(redis)
    record = json.loads(await redis.get(CUSTOMER_KEYS.customer_merge(target, source)))
    return {
        "sms": await IdentityStore(redis).find("sms", "+15550100"),
        "phone": await redis.get(CUSTOMER_KEYS.verified_attribute("phone", "+15550100")),
        "live": await customers.live(source),
        "target identities": sorted(i["channel"] for i in await customers.identities(target)),
        "source identities": await customers.identities(source),
        "timeline": [e.text for e in await TranscriptStore(redis).timeline(target)],
        "record": (record["state"], sorted(record["identities"]), record["entries"]),
        "merged from": await redis.smembers(CUSTOMER_KEYS.customer_merged_from(target)),
        "mark": await redis.hget(CUSTOMER_KEYS.customer(source), "merging_into"),
    }


async def test_a_merge_cut_short_after_its_plan_is_finished_by_the_next_lookup(redis):
    source, target = await two_customers(redis)
    customers = Customers(redis)
    # the process dies after writing the plan and moving the first identity halfway
    record = await customers._merge_plan(source, target, "agent", "alice")
    name, new = next(iter(record["new_identities"].items()))
    await redis.hset(CUSTOMER_KEYS.customer_identities(target), name, new)

    assert await customers.live(source) == target  # any lookup finishes the merge
    finished = await state(redis, source, target)
    assert finished == {
        "sms": target, "phone": target, "live": target,
        "target identities": ["sms", "telegram"], "source identities": [],
        "timeline": ["hello from sms", "hello from telegram"],
        "record": ("done", ["sms:+15550100"], 1), "merged from": {source}, "mark": None}


async def test_a_merge_asked_again_after_a_crash_copies_the_transcript_once(redis):
    source, target = await two_customers(redis)
    customers = Customers(redis)
    # the process dies after copying the transcript, before the merge is recorded done
    record = await customers._merge_plan(source, target, "code", None)
    await customers._move_attributes(source, target, record["attributes"])
    await TranscriptStore(redis).copy_into(source, target)
    assert await redis.hget(CUSTOMER_KEYS.customer(source), "merged_into") is None

    result = await customers.merge(source, target, how="code")  # the retry
    assert result.entries == 1
    finished = await state(redis, source, target)
    assert finished["timeline"] == ["hello from sms", "hello from telegram"]
    assert finished["record"] == ("done", ["sms:+15550100"], 1)
    assert finished["mark"] is None and finished["live"] == target

    await customers.unmerge(target, source)  # and it undoes like any merge
    assert await IdentityStore(redis).find("sms", "+15550100") == source
    assert [e.text for e in await TranscriptStore(redis).timeline(target)] == [
        "hello from telegram"]


async def test_a_merge_cut_short_between_its_last_two_steps_only_marks_the_source(redis):
    source, target = await two_customers(redis)
    customers = Customers(redis)
    record = await customers._merge_plan(source, target, "agent", "alice")
    await customers._move_everything(record)  # target says done; source not yet merged
    await redis.hset(CUSTOMER_KEYS.customer(target), "display_name", "Ada L.")

    assert await customers.live(source) == target
    finished = await state(redis, source, target)
    assert finished["record"] == ("done", ["sms:+15550100"], 1)
    assert finished["target identities"] == ["sms", "telegram"] and finished["mark"] is None
    assert finished["timeline"] == ["hello from sms", "hello from telegram"]


async def test_an_unmerge_cut_short_is_finished_by_asking_again(redis):
    source, target = await two_customers(redis)
    customers = Customers(redis)
    await customers.merge(source, target, how="agent", by="alice")
    # the process dies after marking the record and moving the identity back
    key = CUSTOMER_KEYS.customer_merge(target, source)
    record = json.loads(await redis.get(key))
    await redis.set(key, json.dumps({**record, "state": "unmerging"}))
    await redis.set(CUSTOMER_KEYS.identity("sms", "+15550100"), source)
    assert (await customers.merges(target))[0]["state"] == "unmerging"

    result = await customers.unmerge(target, source)  # the retry
    assert result.identities == ["sms:+15550100"] and result.entries == 1
    assert await IdentityStore(redis).find("sms", "+15550100") == source
    assert [i["channel"] for i in await customers.identities(source)] == ["sms"]
    assert [i["channel"] for i in await customers.identities(target)] == ["telegram"]
    assert await customers.live(source) == source and await customers.merges(target) == []
    assert await redis.get(key) is None and await customers.kept_apart(source, target)
