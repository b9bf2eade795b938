"""Each customer's transcript: one Redis stream, every channel, every author."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from bot.rendering.web import markdown_to_html
from core.models import TranscriptEntry

# How far back a pressed button may have been offered (entries of the transcript).
OFFERED_WITHIN = 30


class TranscriptStore:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def append(self, customer_id: str, entry: TranscriptEntry) -> TranscriptEntry:
        fields = {"e": entry.model_dump_json(exclude={"id", "merged_from"})}
        if entry.author in ("bot", "agent"):
            # Rendered once on write, so a console loading a long transcript does not
            # render hundreds of Markdown answers on every view.
            fields["h"] = markdown_to_html(entry.text)
        stream_id = await self._redis.xadd(self._keys.transcript(customer_id), fields)
        return entry.model_copy(update={"id": stream_id})

    async def history(self, customer_id: str, limit: int = 500) -> list[TranscriptEntry]:
        """The last `limit` entries, oldest first."""
        rows = await self._redis.xrevrange(self._keys.transcript(customer_id), count=limit)
        return [_entry(stream_id, fields) for stream_id, fields in reversed(rows)]

    async def offered(self, customer_id: str, payload: str,
                      within: int = OFFERED_WITHIN) -> bool:
        """Whether the assistant (or an agent, or the system) offered this
        customer a button with `payload` in their last `within` entries. A button
        payload goes to Rasa as an intent, so only offered ones are pressed."""
        recent = await self.history(customer_id, within)
        return any(b.payload == payload for e in recent if e.author != "customer"
                   for b in e.buttons)

    async def timeline(self, customer_id: str, limit: int = 500) -> list[TranscriptEntry]:
        """Like history, ordered by each entry's time: entries copied in from a
        linked customer (see copy_into) take their place in the timeline."""
        return sorted(await self.history(customer_id, limit), key=lambda e: e.ts)

    async def views(self, customer_id: str, limit: int = 2000) -> list[dict]:
        """The timeline as the web shows it (the shape of bot.rendering.web.entry_view), read
        straight from the stored JSON: the fast path for long transcripts."""
        rows = await self._redis.xrevrange(self._keys.transcript(customer_id), count=limit)
        views = []
        for stream_id, fields in reversed(rows):
            view = json.loads(fields["e"])
            view["id"] = stream_id
            html = fields.get("h")
            if html is not None:
                view["html"] = html
            else:
                view["html"] = (markdown_to_html(view["text"])
                                if view["author"] in ("bot", "agent") else None)
            views.append(view)
        views.sort(key=lambda v: v["ts"])
        return views

    async def copy_into(self, source: str, target: str, batch: int = 500) -> int:
        """Append a copy of every entry of `source` to `target`, keeping each entry's
        ts and channel and marking it with the source ("from", "from_id"), so an
        unmerge can take the copies out again. The source stream is left as it was.
        Safe to run again after a crash (a merge resumes): entries already copied
        are skipped. Returns how many copies of `source` `target` holds."""
        done = await self._copied_ids(target, source, batch)
        copied, start = len(done), "-"
        while True:
            rows = await self._redis.xrange(self._keys.transcript(source), min=start, count=batch)
            for stream_id, fields in rows:
                if stream_id in done:
                    continue
                copy = {k: v for k, v in fields.items() if k in ("e", "h")}
                await self._redis.xadd(self._keys.transcript(target),
                                       {**copy, "from": source, "from_id": stream_id})
                copied += 1
            if len(rows) < batch:
                return copied
            start = "(" + rows[-1][0]

    async def _copied_ids(self, target: str, source: str, batch: int) -> set[str]:
        """The source entry ids already copied into `target`."""
        found, start = set(), "-"
        while True:
            rows = await self._redis.xrange(self._keys.transcript(target), min=start, count=batch)
            found |= {fields["from_id"] for _, fields in rows
                      if _from(fields) == source and "from_id" in fields}
            if len(rows) < batch:
                return found
            start = "(" + rows[-1][0]

    async def remove_copies(self, target: str, source: str, batch: int = 500) -> int:
        """Take the entries copied from `source` (copy_into) out of `target`: an
        unmerge. Entries written to `target` after the merge stay."""
        removed, start = 0, "-"
        while True:
            rows = await self._redis.xrange(self._keys.transcript(target), min=start, count=batch)
            ids = [stream_id for stream_id, fields in rows if _from(fields) == source]
            if ids:
                removed += await self._redis.xdel(self._keys.transcript(target), *ids)
            if len(rows) < batch:
                return removed
            start = "(" + rows[-1][0]


def _from(fields: dict) -> str | None:
    return fields.get("from")


def _entry(stream_id: str, fields: dict) -> TranscriptEntry:
    body = fields["e"]
    return TranscriptEntry.model_validate_json(body).model_copy(
        update={"id": stream_id, "merged_from": _from(fields)})

