"""Customers as a whole: merging two customers into one and undoing
it, where replies go, and a customer's profile for the agent console.

One merge serves every way of linking: a one-time code (bot/customers/linking.py), a
verified phone or email (bot/customers/verified.py, the router) and an agent or admin
(the customer API). Merging B into A:

- every identity of B now resolves to A (its record says how and by whom);
- B's verified attributes are added to A's (and now point at A);
- B's transcript is copied into A's, each copy marked with "from" = B, so A's
  timeline reads as one conversation;
- B keeps its own transcript, attributes and Rasa tracker, and is marked
  merged_into A; a merge record says exactly what moved. That is what an
  unmerge needs to put everything back.

Rasa trackers: Rasa's sender id is the customer id, so after the merge the
customer talks to A's tracker (`rasa:tracker:A`): A's slots carry on, and
whatever B's tracker knew (say a name B gave on another channel before the
link) is not carried over. B's tracker is left untouched under its own key, so
an unmerge gives B its conversation state back exactly; it is deleted with B
when the customer is erased (bot/customers/privacy.py).

Conversation owners are not merged: A's owner decides who answers next.

Exceptions: CustomerError
  ├── UnknownCustomer      no such customer
  ├── MergeRefused         merging a customer into itself, one already merged,
  │                        unmerging what was not merged, or a busy customer
  ├── BadReplyChannel      a reply channel that is not one of the customer's
  └── NoReplyTarget        a customer with no channel left to reply on
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from bot.customers.language import CustomerLanguages
from bot.customers.transcript import TranscriptStore
from bot.infra.live import publish_moved
from handoff.lookup import HandoffLookup

CUSTOMER_ID_RE = re.compile(r"c_[a-z2-9]{16}")
LOCK_TTL_MS = 30_000
LOCK_WAIT_S = 5.0


class CustomerError(Exception):
    """Root of the customer errors (see the module docstring)."""


class UnknownCustomer(CustomerError):
    pass


class MergeRefused(CustomerError):
    pass


class BadReplyChannel(CustomerError):
    pass


class NoReplyTarget(CustomerError):
    pass


@dataclass(frozen=True)
class MergeResult:
    source: str
    target: str
    identities: list[str] = field(default_factory=list)  # "<channel>:<user id>" that moved
    entries: int = 0  # transcript entries copied (merge) or taken out again (unmerge)


class Customers:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._transcripts = TranscriptStore(redis, keys)
        self._languages = CustomerLanguages(redis, keys)

    # -- lookups ---------------------------------------------------------------------
    async def exists(self, customer_id: str) -> bool:
        return bool(CUSTOMER_ID_RE.fullmatch(customer_id)) and bool(
            await self._redis.exists(self._keys.customer(customer_id)))

    async def require(self, customer_id: str) -> None:
        if not await self.exists(customer_id):
            raise UnknownCustomer(customer_id)

    async def find(self, channel: str, channel_user_id: str) -> str | None:
        """The customer behind a channel identity, if it has written to us."""
        return await self._redis.get(self._keys.identity(channel, channel_user_id))

    async def live(self, customer_id: str) -> str:
        """Follow merged_into: the customer a merged-away id now lives on as. A merge
        left unfinished by a crash (merging_into, see `merge`) is finished first."""
        for _ in range(16):
            nxt, merging = await self._redis.hmget(self._keys.customer(customer_id),
                                                   ["merged_into", "merging_into"])
            if merging and not nxt and await self.resume_merge(customer_id):
                nxt = merging
            if not nxt or nxt == customer_id:
                break
            customer_id = nxt
        return customer_id

    async def display_name(self, customer_id: str) -> str:
        """The channel's name for the customer ("" when none)."""
        return await self._redis.hget(self._keys.customer(customer_id), "display_name") or ""

    async def kept_apart(self, one: str, other: str) -> bool:
        """Was `one` unmerged from `other`? Then only a code or an agent links them."""
        return bool(await self._redis.sismember(self._keys.customer_kept_apart(one), other))

    async def identities(self, customer_id: str) -> list[dict]:
        raw = await self._redis.hgetall(self._keys.customer_identities(customer_id))
        return sorted((json.loads(v) for v in raw.values()), key=lambda i: i.get("linked_at", 0))

    # -- joining ---------------------------------------------------------------------
    async def attach(self, target: str, channel: str, channel_user_id: str, how: str,
                     by: str | None = None) -> str:
        """A channel identity that has no customer yet joins `target`. Returns the
        customer it belongs to: `target`, or the one that won a race to create it."""
        key = self._keys.identity(channel, channel_user_id)
        if not await self._redis.set(key, target, nx=True):
            return await self._redis.get(key)
        await self._redis.hset(self._keys.customer_identities(target),
                               f"{channel}:{channel_user_id}",
                               _identity_record(channel, channel_user_id, how, by))
        return target

    async def merge(self, source: str, target: str, *, how: str,
                    by: str | None = None) -> MergeResult:
        """Merge customer `source` into `target` (see the module docstring).

        Redis Cluster keeps every atomic step inside one hash slot, and the two
        customers and the identity index live in different slots; so the merge is
        a fixed sequence of steps, each within one slot and each safe to repeat,
        behind a durable plan:

        1. the plan, as the merge record in `target`'s slot with state "moving"
           (what moves, the new identity records, the attributes `target` gains);
        2. `merging_into` = target on `source`: the "merge in progress" mark;
        3. per identity: `target`'s identities gain it, then the index points at
           `target`, then `source`'s identities lose it (so the identity always
           resolves to a customer that lists it);
        4. attributes, last channel, language, transcript copies (all idempotent);
        5. in `target`'s slot, one MULTI: the record "done", merged_from;
           then in `source`'s slot, one MULTI: merged_into, the mark removed.

        A crash anywhere leaves the mark and the plan; the same merge asked again
        (an agent's retry, a re-claimed router entry) or any `live(source)` lookup
        resumes from the plan and ends in the same state as an uninterrupted merge.
        Until step 5 the customer is not shown as merged (unmerge refuses)."""
        if source == target:
            raise MergeRefused("a customer cannot be merged into itself")
        async with self._locked(source, target):
            record = await self._merge_plan(source, target, how, by)
            await self._carry_out(record)
        await self._moved(source)
        return MergeResult(source, target, sorted(record["identities"]), record["entries"])

    async def _merge_plan(self, source: str, target: str, how: str, by: str | None) -> dict:
        """The plan of an interrupted merge of `source` into `target`, or a new one,
        stored (steps 1 and 2) before anything moves."""
        merging = await self._redis.hget(self._keys.customer(source), "merging_into")
        if merging == target:
            raw = await self._redis.get(self._keys.customer_merge(target, source))
            if raw is not None and json.loads(raw).get("state") in ("moving", "done"):
                return dict(json.loads(raw))  # resume ("done": only source's last step)
        elif merging:
            raise MergeRefused(f"{source} is being merged into {merging}: finish that first")
        for customer_id in (source, target):
            fields = await self._redis.hmget(self._keys.customer(customer_id),
                                             ["merged_into", "merging_into"])
            if fields[0] or (customer_id == target and fields[1]):
                raise MergeRefused(f"{customer_id} is already merged into "
                                   f"{fields[0] or fields[1]}")
        old = await self._redis.get(self._keys.customer_merge(target, source))
        if old is not None and json.loads(old).get("state") == "unmerging":
            raise MergeRefused(f"{source} is being unmerged from {target}: finish that first")
        now = time.time()
        moved = {name: json.loads(raw) for name, raw in (await self._redis.hgetall(
            self._keys.customer_identities(source))).items()}
        theirs = await self._redis.hkeys(self._keys.customer_attributes(source))
        ours = set(await self._redis.hkeys(self._keys.customer_attributes(target)))
        record = {
            "source": source, "target": target, "how": how, "by": by, "at": now,
            "identities": moved,
            "new_identities": {name: _identity_record(
                r["channel"], r["channel_user_id"], how, by, first_seen=r.get("linked_at"),
                at=now) for name, r in moved.items()},
            "attributes": sorted(set(theirs) - ours), "entries": 0, "state": "moving"}
        await self._redis.set(self._keys.customer_merge(target, source), json.dumps(record))
        await self._redis.hset(self._keys.customer(source), "merging_into", target)
        return record

    async def _carry_out(self, record: dict) -> None:
        """Steps 3 to 5 of a merge plan; every step may already have been done."""
        source, target = record["source"], record["target"]
        if record["state"] == "moving":
            await self._move_everything(record)
        async with self._redis.pipeline(transaction=True) as pipe:  # source's slot
            pipe.hset(self._keys.customer(source),
                      mapping={"merged_into": target, "merged_at": str(record["at"])})
            pipe.hdel(self._keys.customer(source), "merging_into")
            await pipe.execute()

    async def _move_everything(self, record: dict) -> None:
        """Steps 3 to 5a: identities, attributes, transcript, then `target` records
        the merge as done."""
        source, target = record["source"], record["target"]
        for name, original in record["identities"].items():
            await self._redis.hset(self._keys.customer_identities(target), name,
                                   record["new_identities"][name])
            await self._redis.set(
                self._keys.identity(original["channel"], original["channel_user_id"]), target)
            await self._redis.hdel(self._keys.customer_identities(source), name)
        await self._move_attributes(source, target, record["attributes"])
        await self._adopt_last_channel(source, target)
        await self._languages.adopt(source, target)  # the language follows the person
        record["entries"] = await self._transcripts.copy_into(source, target)
        record["state"] = "done"
        async with self._redis.pipeline(transaction=True) as pipe:  # target's slot
            pipe.set(self._keys.customer_merge(target, source),
                     json.dumps({k: v for k, v in record.items() if k != "new_identities"}))
            pipe.sadd(self._keys.customer_merged_from(target), source)
            pipe.hset(self._keys.customer(target),
                      mapping={"merged_from": source, "merged_at": str(record["at"])})
            await pipe.execute()

    async def resume_merge(self, source: str) -> bool:
        """Finish an interrupted merge of `source`, if there is one and nobody is
        working on it right now; True if one was finished."""
        target = await self._redis.hget(self._keys.customer(source), "merging_into")
        if not target:
            return False
        raw = await self._redis.get(self._keys.customer_merge(target, source))
        if raw is None:
            return False
        record = json.loads(raw)
        try:
            async with self._locked(source, target, wait_s=0):
                record = await self._merge_plan(source, target, record["how"], record.get("by"))
                await self._carry_out(record)
        except MergeRefused:
            return False
        await self._moved(source)
        return True

    async def unmerge(self, target: str, source: str) -> MergeResult:
        """Undo the merge of `source` into `target`: the identities that moved go
        back to `source`, the copied entries leave `target`'s timeline, and
        `source` is a customer of its own again with its transcript as it was.

        Like a merge, a sequence of one-slot steps that are safe to repeat: the
        merge record (state "unmerging") is the mark, deleted last, so an unmerge
        interrupted by a crash is finished by asking for it again."""
        async with self._locked(source, target):
            raw = await self._redis.get(self._keys.customer_merge(target, source))
            record = json.loads(raw) if raw is not None else None
            if record is None or record.get("state") not in (None, "done", "unmerging"):
                raise MergeRefused(f"{source} was not merged into {target}")
            into = await self._redis.hget(self._keys.customer(target), "merged_into")
            if into:
                raise MergeRefused(f"{target} is itself merged into {into}: unmerge that first")
            if record.get("state") != "unmerging":
                record["state"] = "unmerging"
                await self._redis.set(self._keys.customer_merge(target, source),
                                      json.dumps(record))
            back = []
            for name, original in record["identities"].items():
                key = self._keys.identity(original["channel"], original["channel_user_id"])
                if await self._redis.get(key) not in (target, source):
                    continue  # moved on since (linked elsewhere, or erased): leave it
                await self._redis.hset(self._keys.customer_identities(source), name,
                                       json.dumps(original))
                await self._redis.set(key, source)
                await self._redis.hdel(self._keys.customer_identities(target), name)
                back.append(name)
            for name in record["attributes"]:
                kind, _, value = name.partition(":")
                index = self._keys.verified_attribute(kind, value)
                await self._redis.hdel(self._keys.customer_attributes(target), name)
                if await self._redis.get(index) == target:
                    await self._redis.set(index, source)
            removed = await self._transcripts.remove_copies(target, source)
            async with self._redis.pipeline(transaction=True) as pipe:  # source's slot
                # Someone decided these are two people: no automatic relinking.
                pipe.sadd(self._keys.customer_kept_apart(source), target)
                pipe.hdel(self._keys.customer(source), "merged_into", "merged_at")
                await pipe.execute()
            if await self._redis.hget(self._keys.customer(target), "merged_from") == source:
                await self._redis.hdel(self._keys.customer(target), "merged_from", "merged_at")
            async with self._redis.pipeline(transaction=True) as pipe:  # target's slot
                pipe.sadd(self._keys.customer_kept_apart(target), source)
                pipe.srem(self._keys.customer_merged_from(target), source)
                pipe.delete(self._keys.customer_merge(target, source))  # the mark, last
                await pipe.execute()
            await self._forget_reply_channel_if_gone(target)
        await self._moved(target)
        return MergeResult(source, target, sorted(back), removed)

    async def merges(self, target: str) -> list[dict]:
        """The merge records of every customer merged into `target`, oldest first."""
        sources = sorted(await self._redis.smembers(self._keys.customer_merged_from(target)))
        records = []
        for source in sources:
            raw = await self._redis.get(self._keys.customer_merge(target, source))
            if raw is not None:
                records.append(json.loads(raw))
        return sorted(records, key=lambda r: r["at"])

    # -- where replies go ------------------------------------------------------------
    async def set_reply_channel(self, customer_id: str, channel: str | None,
                                channel_user_id: str | None = None) -> tuple[str, str] | None:
        """Pin replies to one of the customer's identities; None (channel) goes
        back to "the channel they used last". Returns the pinned identity."""
        key = self._keys.customer(customer_id)
        if channel is None:
            await self._redis.hdel(key, "reply_channel", "reply_channel_user_id")
            return None
        mine = [i for i in await self.identities(customer_id) if i["channel"] == channel
                and channel_user_id in (None, i["channel_user_id"])]
        if not mine:
            raise BadReplyChannel(f"{channel}{':' + channel_user_id if channel_user_id else ''} "
                                  "is not one of this customer's channels")
        if len(mine) > 1:
            raise BadReplyChannel(f"this customer has {len(mine)} {channel} identities: "
                                  "say which (channel_user_id)")
        chosen = (channel, mine[0]["channel_user_id"])
        await self._redis.hset(key, mapping={"reply_channel": chosen[0],
                                             "reply_channel_user_id": chosen[1]})
        return chosen

    async def reply_target(self, customer_id: str) -> tuple[str, str]:
        """(channel, channel user id) for a reply: the channel pinned by an agent
        if it is still the customer's, else the one they wrote from last, else
        their most recently linked identity."""
        customer_id = await self.live(customer_id)
        profile = await self._redis.hgetall(self._keys.customer(customer_id))
        mine = {(i["channel"], i["channel_user_id"]) for i in await self.identities(customer_id)}
        for channel_field, user_field in (("reply_channel", "reply_channel_user_id"),
                                          ("last_channel", "last_channel_user_id")):
            candidate = (profile.get(channel_field), profile.get(user_field))
            if candidate in mine:
                return candidate
        identities = await self.identities(customer_id)
        if not identities:
            raise NoReplyTarget(customer_id)
        latest = identities[-1]
        return latest["channel"], latest["channel_user_id"]

    async def _forget_reply_channel_if_gone(self, customer_id: str) -> None:
        profile = await self._redis.hgetall(self._keys.customer(customer_id))
        pinned = f"{profile.get('reply_channel')}:{profile.get('reply_channel_user_id')}"
        if "reply_channel" in profile and not await self._redis.hexists(
                self._keys.customer_identities(customer_id), pinned):
            await self.set_reply_channel(customer_id, None)

    # -- the agent's view ------------------------------------------------------------
    async def glance(self, customer_id: str, within: int = 20) -> dict:
        """What a queue card needs, in one round trip (the console fetches a
        hundred at a time): {display_name, identities: [{channel,
        channel_user_id}], reply_channel (as reply_target picks it, None when
        there is none), last_text (the customer's last message within their last
        `within` transcript entries)}. For a live customer id (see `live`)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._keys.customer(customer_id))
            pipe.hgetall(self._keys.customer_identities(customer_id))
            pipe.xrevrange(self._keys.transcript(customer_id), count=within)
            profile, raw_identities, rows = await pipe.execute()
        identities = sorted((json.loads(v) for v in raw_identities.values()),
                            key=lambda i: i.get("linked_at", 0))
        mine = {(i["channel"], i["channel_user_id"]) for i in identities}
        fields = (("reply_channel", "reply_channel_user_id"),
                  ("last_channel", "last_channel_user_id"))
        reply_channel = next((profile.get(c) for c, u in fields
                              if (profile.get(c), profile.get(u)) in mine),
                             identities[-1]["channel"] if identities else None)
        last_text = ""
        for _, fields in rows:  # newest first
            entry = json.loads(fields["e"])
            if entry.get("author") == "customer" and str(entry.get("text", "")).strip():
                last_text = entry["text"]
                break
        return {"display_name": profile.get("display_name", ""), "reply_channel": reply_channel,
                "identities": [{"channel": i["channel"], "channel_user_id": i["channel_user_id"]}
                               for i in identities],
                "last_text": last_text}

    async def profile(self, customer_id: str) -> dict:
        await self.require(customer_id)
        fields = await self._redis.hgetall(self._keys.customer(customer_id))
        attributes = await self._redis.hgetall(self._keys.customer_attributes(customer_id))
        try:
            target = await self.reply_target(customer_id)
            reply_to = {"channel": target[0], "channel_user_id": target[1]}
        except NoReplyTarget:
            reply_to = None
        merges = await self.merges(customer_id)
        tickets = []
        for owner in [customer_id, *(m["source"] for m in merges)]:
            tickets += await HandoffLookup(self._redis).tickets_of(owner)
        return {
            "customer_id": customer_id,
            "display_name": fields.get("display_name", ""),
            "created_at": _float(fields.get("created_at")),
            "first_channel": fields.get("first_channel"),
            "last_channel": fields.get("last_channel"),
            "last_seen": _float(fields.get("last_seen")),
            "merged_into": fields.get("merged_into"),
            "reply_channel": ({"channel": fields["reply_channel"],
                               "channel_user_id": fields.get("reply_channel_user_id")}
                              if fields.get("reply_channel") else None),
            "reply_target": reply_to,
            "identities": await self.identities(customer_id),
            "verified_attributes": sorted((json.loads(v) for v in attributes.values()),
                                          key=lambda a: a["verified_at"]),
            "merged_from": [{"customer_id": m["source"], "at": m["at"], "how": m["how"],
                             "by": m["by"], "identities": sorted(m["identities"]),
                             "entries": m["entries"]} for m in merges],
            "tickets": tickets,
            "language": await self._languages.get(customer_id),
            "language_source": await self._languages.source(customer_id),
        }

    # -- plumbing --------------------------------------------------------------------
    async def _move_attributes(self, source: str, target: str, added: list[str]) -> None:
        """Give target the verified attributes it did not have (`added`, planned
        before anything moved: an unmerge takes exactly those back) and point every
        one of source's at target. Safe to repeat."""
        for name, raw in (await self._redis.hgetall(
                self._keys.customer_attributes(source))).items():
            if name in added:
                await self._redis.hset(self._keys.customer_attributes(target), name, raw)
            kind, _, value = name.partition(":")
            index = self._keys.verified_attribute(kind, value)
            if await self._redis.get(index) in (source, None):
                await self._redis.set(index, target)

    async def _adopt_last_channel(self, source: str, target: str) -> None:
        """Replies go where the person wrote last, which may be on the merged customer."""
        fields = ("last_channel", "last_channel_user_id", "last_seen")
        theirs = await self._redis.hmget(self._keys.customer(source), fields)
        ours = await self._redis.hget(self._keys.customer(target), "last_seen")
        if theirs[2] is not None and float(theirs[2]) > float(ours or 0):
            await self._redis.hset(self._keys.customer(target),
                                   mapping=dict(zip(fields, theirs, strict=True)))

    async def _moved(self, customer_id: str) -> None:
        """Tell open web chats of this customer to look up their customer again
        (bot/channels/web/routes.py follows a visitor whose identity moved)."""
        await publish_moved(self._redis, customer_id)

    @contextlib.asynccontextmanager
    async def _locked(self, *customer_ids: str, wait_s: float = LOCK_WAIT_S
                      ) -> AsyncIterator[None]:
        """Both customers held for the duration, taken in a fixed order (no deadlock)."""
        held: list[str] = []
        try:
            for customer_id in sorted(set(customer_ids)):
                key = self._keys.customer_merging(customer_id)
                deadline = time.monotonic() + wait_s
                while not await self._redis.set(key, "1", nx=True, px=LOCK_TTL_MS):
                    if time.monotonic() > deadline:
                        raise MergeRefused(f"{customer_id} is being changed; try again")
                    await asyncio.sleep(0.02)
                held.append(key)
            yield
        finally:
            if held:
                await self._redis.delete(*held)


async def reply_target(redis: Redis, customer_id: str) -> tuple[str, str]:
    """Where an agent's reply to this customer goes: (channel, channel user id).
    Raises NoReplyTarget when the customer has no channel left."""
    return await Customers(redis).reply_target(customer_id)


def _identity_record(channel: str, channel_user_id: str, how: str, by: str | None = None,
                     first_seen: float | None = None, at: float | None = None) -> str:
    record = {"channel": channel, "channel_user_id": channel_user_id,
              "linked_at": at or time.time(), "how": how}
    if by:
        record["by"] = by
    if first_seen:
        record["first_seen"] = first_seen
    return json.dumps(record)



def _float(value: str | None) -> float | None:
    return float(value) if value else None

