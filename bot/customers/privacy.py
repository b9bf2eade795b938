"""Export and erasure of everything Front Door keeps about one customer (issue 5):
`frontdoor customer export|erase ID` and the admin API.

"The customer" is the person: the live customer an id resolves to (following
merged_into) together with every customer merged into it, whose data is kept
for an unmerge. Erasure removes, for each of them:

- the customer hash, transcript, identities, verified attributes, merge
  records, owner and every other per-customer key (they share a hash tag);
- the identity keys and verified-attribute index entries pointing at them;
- link codes issued to them and the link rate-limit counters of their identities;
- channel state keyed by their channel user ids (Slack reply target, cached
  name and email, pressed buttons; SMS numbered options and sent-part counters;
  Telegram sent-part counters; the deduplication and progress keys of their
  messages);
- the Rasa tracker (`rasa:tracker:<id>`) and lock;
- their tickets (issue 6: `KEYS.ticket(ref)` via their ticket list) and any
  queue membership of those tickets or of the customer id (sets, sorted sets
  and lists under the project prefix);
- their entries in the inbound and outbox streams (and dead letters), and
  their questions in the editors' "unanswered" stream.

Kept on purpose: an SMS opt-out (`sms:opted-out:<phone>`). Carriers require that
a number that texted STOP is never messaged again until it texts START;
erasing the flag would let the next agent reply reach a phone that refused us.
The audit stream keeps the (random, meaningless) customer ids of merges and of
the erasure itself, as the record that it happened.
"""

from __future__ import annotations

import json
import time
from typing import overload

from redis.asyncio import Redis

from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from core.keys import KEYS, Keys

_BATCH = 500


class Privacy:
    def __init__(self, redis: Redis, keys: Keys = KEYS) -> None:
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
            todo += [_text(s) for s in
                     await self._redis.smembers(self._keys.customer_merged_from(current))]
        return found

    # -- export ------------------------------------------------------------------------
    async def export(self, customer_id: str) -> dict:
        people = await self.people(customer_id)
        return {"customer_id": people[0], "exported_at": time.time(),
                "customers": [await self._export_one(c) for c in people]}

    async def _export_one(self, customer_id: str) -> dict:
        keys = self._keys
        identities = await self._customers.identities(customer_id)
        tickets = []
        for ref in await self._redis.lrange(keys.customer_tickets(customer_id), 0, -1):
            fields = await self._redis.hgetall(keys.ticket(_text(ref)))
            tickets.append({"ref": _text(ref), **{_text(k): _text(v) for k, v in fields.items()}})
        tracker = await self._redis.get(keys.rasa_tracker(customer_id))
        opted_out = [i["channel_user_id"] for i in identities if i["channel"] == "sms"
                     and await self._redis.exists(keys.sms_opted_out(i["channel_user_id"]))]
        return {
            "customer_id": customer_id,
            "profile": {_text(k): _text(v) for k, v in
                        (await self._redis.hgetall(keys.customer(customer_id))).items()},
            "identities": identities,
            "verified_attributes": [json.loads(v) for v in (await self._redis.hgetall(
                keys.customer_attributes(customer_id))).values()],
            "merges": await self._customers.merges(customer_id),
            "owner": _text(await self._redis.get(keys.owner(customer_id))),
            "transcript": [e.model_dump(mode="json") for e in
                           await self._transcripts.history(customer_id, limit=1_000_000)],
            "tickets": tickets,
            "assistant_memory": json.loads(tracker) if tracker else None,
            "sms_opted_out": opted_out,
        }

    # -- erasure -----------------------------------------------------------------------
    async def erase(self, customer_id: str) -> list[str]:
        """Erase the person behind `customer_id`; returns the customer ids erased."""
        people = await self.people(customer_id)
        identities: list[tuple[str, str]] = []
        attributes: list[str] = []
        texts: set[str] = set()
        refs: list[str] = []
        for person in people:
            identities += [(i["channel"], i["channel_user_id"])
                           for i in await self._customers.identities(person)]
            for merge in await self._customers.merges(person):  # identities moved in
                identities += [(i["channel"], i["channel_user_id"])
                               for i in merge["identities"].values()]
            attributes += [_text(a) for a in
                           await self._redis.hkeys(self._keys.customer_attributes(person))]
            texts |= {e.text for e in await self._transcripts.history(person, 1_000_000)
                      if e.author == "customer"}
            refs += [_text(r) for r in
                     await self._redis.lrange(self._keys.customer_tickets(person), 0, -1)]
        identities = list(dict.fromkeys(identities))
        owned = set(people)

        for channel, user in identities:
            await self._erase_identity(channel, user, owned)
        for name in set(attributes):
            kind, _, value = name.partition(":")
            await self._delete_if_points_to(self._keys.verified_attribute(kind, value), owned)
        for ref in refs:
            owner = await self._redis.hget(self._keys.ticket(ref), "customer_id")
            if owner is None or _text(owner) in owned:
                await self._redis.delete(self._keys.ticket(ref), self._keys.ticket_notes(ref))
        for stream in (self._keys.webhook_stream, self._keys.webhook_dead):
            await self._xdel_where(stream, lambda f: _field(f, "ref") in set(refs))
        await self._sweep_members(set(refs) | owned)
        await self._erase_link_codes(owned)
        users = {u for _, u in identities}
        for stream in (self._keys.inbound_stream, self._keys.inbound_dead):
            await self._erase_inbound(stream, users)
        for stream in (self._keys.outbox_stream, self._keys.outbox_dead):
            await self._xdel_where(stream, lambda f: _field(f, "customer_id") in owned)
        await self._xdel_where(self._keys.unanswered,
                               lambda f: _field(f, "query") in {t[:1000] for t in texts})
        for person in people:
            await self._redis.delete(self._keys.rasa_tracker(person),
                                     self._keys.rasa_lock(person))
            await self._delete_matching(self._keys.customer_scan(person))
        return people

    async def _erase_identity(self, channel: str, user: str, owned: set[str]) -> None:
        keys = self._keys
        await self._delete_if_points_to(keys.identity(channel, user), owned)
        await self._redis.delete(keys.link_issued(channel, user), keys.link_attempts(channel, user))
        if channel == "sms":
            await self._redis.delete(keys.sms_options(user))
            await self._delete_matching(keys.sms_sent_parts(f"{_glob(user)}:*"))
        elif channel == "telegram":
            await self._delete_matching(keys.telegram_sent_parts(f"{_glob(user)}:*"))
        elif channel == "slack":
            reply_to = await self._redis.get(keys.slack_reply_to(user))
            if reply_to:
                dm = json.loads(reply_to).get("channel") or ""
                if dm:
                    await self._delete_matching(keys.slack_pressed(_glob(dm), "*"))
            await self._redis.delete(keys.slack_reply_to(user), keys.slack_user_name(user),
                                     keys.slack_user_email(user))
        elif channel == "web":
            await self._delete_matching(keys.inbound_seen("web", f"{_glob(user)}:*"))

    async def _erase_inbound(self, stream: str, users: set[str]) -> None:
        """Their messages on the inbound stream, with the deduplication and
        progress keys named after them (which hold external message ids)."""
        start = "-"
        while True:
            rows = await self._redis.xrange(stream, min=start, count=_BATCH)
            for stream_id, fields in rows:
                if _field(fields, "channel_user_id") not in users:
                    continue
                message = json.loads(_field(fields, "m") or "{}")
                await self._redis.delete(
                    self._keys.inbound_seen(message.get("channel", ""),
                                            message.get("external_id", "")),
                    self._keys.inbound_progress(_text(stream_id)))
                await self._redis.xdel(stream, stream_id)
            if len(rows) < _BATCH:
                return
            start = "(" + _text(rows[-1][0])

    async def _delete_if_points_to(self, key: str, owned: set[str]) -> None:
        value = await self._redis.get(key)
        if value is not None and _text(value) in owned:
            await self._redis.delete(key)

    async def _erase_link_codes(self, owned: set[str]) -> None:
        async for key in self._redis.scan_iter(match=self._keys.link_code("*"), count=_BATCH):
            raw = await self._redis.get(key)
            if raw and json.loads(raw).get("customer_id") in owned:
                await self._redis.delete(key)

    async def _sweep_members(self, values: set[str]) -> None:
        """Queue membership (issue 6 keeps its queues as sets, sorted sets or
        lists of ticket references or customer ids): removed wherever it is."""
        pattern = f"{self._keys.prefix}:*"
        for kind in ("zset", "set", "list"):
            async for key in self._redis.scan_iter(match=pattern, count=_BATCH, _type=kind):
                for value in values:
                    if kind == "zset":
                        await self._redis.zrem(key, value)
                    elif kind == "set":
                        await self._redis.srem(key, value)
                    else:
                        await self._redis.lrem(key, 0, value)

    async def _xdel_where(self, stream: str, matches) -> None:
        start = "-"
        while True:
            rows = await self._redis.xrange(stream, min=start, count=_BATCH)
            doomed = [stream_id for stream_id, fields in rows if matches(fields)]
            if doomed:
                await self._redis.xdel(stream, *doomed)
            if len(rows) < _BATCH:
                return
            start = "(" + _text(rows[-1][0])

    async def _delete_matching(self, pattern: str) -> None:
        batch = []
        async for key in self._redis.scan_iter(match=pattern, count=_BATCH):
            batch.append(key)
            if len(batch) >= _BATCH:
                await self._redis.delete(*batch)
                batch = []
        if batch:
            await self._redis.delete(*batch)


def _glob(value: str) -> str:
    """A literal inside a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


def _field(fields: dict, name: str) -> str | None:
    value = fields.get(name.encode(), fields.get(name))
    return _text(value) if value is not None else None


@overload
def _text(value: bytes | str) -> str: ...
@overload
def _text(value: None) -> None: ...
def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
