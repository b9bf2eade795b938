"""The customers part's personal data: customer records, identities, verified
attributes, merges, transcripts and linking codes."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from core.personal import Export, Person, covering, delete_matching, glob_literal

_BATCH = 500


class CustomerData:
    covers = covering(
        CustomerKeys, "identity", "customer", "transcript", "customer_identities",
        "customer_attributes", "verified_attribute", "customer_merge", "customer_kept_apart",
        "customer_merging", "customer_merged_from", "link_attempts_customer", "link_code",
        "link_issued", "link_attempts", "link_pending", "customer_language")

    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._customers = Customers(redis, keys)
        self._transcripts = TranscriptStore(redis, keys)

    async def people(self, customer_id: str) -> list[str]:
        """The live customer and everyone merged into it, recursively."""
        found, todo = [], [await self._customers.live(customer_id)]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found.append(current)
            todo += list(await self._redis.smembers(self._keys.customer_merged_from(current)))
        return found

    async def person(self, customer_id: str) -> Person:
        """Who the person behind `customer_id` is (no ticket refs: handoff knows them)."""
        people = await self.people(customer_id)
        identities_of: dict[str, tuple[tuple[str, str], ...]] = {}
        identities: list[tuple[str, str]] = []
        texts: set[str] = set()
        for customer in people:
            mine = [(i["channel"], i["channel_user_id"])
                    for i in await self._customers.identities(customer)]
            identities_of[customer] = tuple(mine)
            identities += mine
            for merge in await self._customers.merges(customer):  # identities moved in
                identities += [(i["channel"], i["channel_user_id"])
                               for i in merge["identities"].values()]
            texts |= {e.text for e in await self._transcripts.history(customer, 1_000_000)
                      if e.author == "customer"}
        return Person(customer_ids=tuple(people), identities_of=identities_of,
                      identities=tuple(dict.fromkeys(identities)), texts=frozenset(texts))

    async def export(self, person: Person) -> Export:
        out: Export = {}
        for customer in person.customer_ids:
            attributes = await self._redis.hgetall(self._keys.customer_attributes(customer))
            out[customer] = {
                "profile": await self._redis.hgetall(self._keys.customer(customer)),
                "language": await self._redis.hgetall(self._keys.customer_language(customer)),
                "identities": await self._customers.identities(customer),
                "verified_attributes": [json.loads(v) for v in attributes.values()],
                "merges": await self._customers.merges(customer),
                "transcript": [e.model_dump(mode="json") for e in
                               await self._transcripts.history(customer, limit=1_000_000)],
            }
        return out

    async def erase(self, person: Person) -> None:
        keys, owned = self._keys, person.owned
        for channel, user in person.identities:
            await self._delete_if_points_to(keys.identity(channel, user), owned)
            await self._redis.delete(keys.link_issued(channel, user),
                                     keys.link_attempts(channel, user))
        for customer in person.customer_ids:
            for name in await self._redis.hkeys(keys.customer_attributes(customer)):
                kind, _, value = name.partition(":")
                await self._delete_if_points_to(keys.verified_attribute(kind, value), owned)
            for other in await self._redis.smembers(keys.customer_kept_apart(customer)):
                await self._redis.srem(keys.customer_kept_apart(other), customer)
        async for key in self._redis.scan_iter(match=keys.link_code("*"), count=_BATCH):
            raw = await self._redis.get(key)
            if raw and json.loads(raw).get("customer_id") in owned:
                await self._redis.delete(key)
        identities = set(person.identities)
        async for key in self._redis.scan_iter(match=keys.link_pending("*", "*"), count=_BATCH):
            raw = await self._redis.get(key)  # asked of them, or asked by them
            request = json.loads(raw) if raw else {}
            if request and (request.get("customer_id") in owned or (
                    request.get("channel"), request.get("channel_user_id")) in identities):
                await self._redis.delete(key)
        for customer in person.customer_ids:
            await delete_matching(self._redis, keys.customer_merge(glob_literal(customer), "*"))
            await self._redis.delete(
                keys.customer(customer), keys.transcript(customer),
                keys.customer_identities(customer), keys.customer_attributes(customer),
                keys.customer_kept_apart(customer), keys.customer_merging(customer),
                keys.customer_merged_from(customer), keys.link_attempts_customer(customer),
                keys.customer_language(customer))

    async def _delete_if_points_to(self, key: str, owned: set[str]) -> None:
        value = await self._redis.get(key)
        if value is not None and value in owned:
            await self._redis.delete(key)
