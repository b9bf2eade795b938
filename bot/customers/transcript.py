"""Each customer's transcript: one Redis stream, every channel, every author."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from bot.rendering.web import markdown_to_html
from core.keys import KEYS, Keys
from core.models import TranscriptEntry


class TranscriptStore:
    def __init__(self, redis: Redis, keys: Keys = KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def append(self, customer_id: str, entry: TranscriptEntry) -> TranscriptEntry:
        fields = {"e": entry.model_dump_json(exclude={"id", "merged_from"})}
        if entry.author in ("bot", "agent"):
            # Rendered once on write, so a console loading a long transcript does not
            # render hundreds of Markdown answers on every view.
            fields["h"] = markdown_to_html(entry.text)
        stream_id = await self._redis.xadd(self._keys.transcript(customer_id), fields)
        return entry.model_copy(update={"id": _decode(stream_id)})

    async def history(self, customer_id: str, limit: int = 500) -> list[TranscriptEntry]:
        """The last `limit` entries, oldest first."""
        rows = await self._redis.xrevrange(self._keys.transcript(customer_id), count=limit)
        return [_entry(stream_id, fields) for stream_id, fields in reversed(rows)]

    async def timeline(self, customer_id: str, limit: int = 500) -> list[TranscriptEntry]:
        """Like history, ordered by each entry's time: entries copied in from a
        linked customer (see copy_into) take their place in the timeline."""
        return sorted(await self.history(customer_id, limit), key=lambda e: e.ts)

    async def views(self, customer_id: str, limit: int = 2000) -> list[dict]:
        """The timeline as the web shows it (bot/render.entry_view's shape), read
        straight from the stored JSON: the fast path for long transcripts."""
        rows = await self._redis.xrevrange(self._keys.transcript(customer_id), count=limit)
        views = []
        for stream_id, fields in reversed(rows):
            view = json.loads(fields.get(b"e") or fields.get("e"))
            view["id"] = _decode(stream_id)
            html = fields.get(b"h") or fields.get("h")
            if html is not None:
                view["html"] = _decode(html)
            else:
                view["html"] = (markdown_to_html(view["text"])
                                if view["author"] in ("bot", "agent") else None)
            views.append(view)
        views.sort(key=lambda v: v["ts"])
        return views

    async def copy_into(self, source: str, target: str, batch: int = 500) -> int:
        """Append a copy of every entry of `source` to `target`, keeping each entry's
        ts and channel and marking it with the source ("from"), so an unmerge can
        take the copies out again. The source stream is left as it was."""
        copied, start = 0, "-"
        while True:
            rows = await self._redis.xrange(self._keys.transcript(source), min=start, count=batch)
            for stream_id, fields in rows:
                copy = {_decode(k): v for k, v in fields.items() if _decode(k) in ("e", "h")}
                await self._redis.xadd(self._keys.transcript(target),
                                       {**copy, "from": source, "from_id": _decode(stream_id)})
                copied += 1
            if len(rows) < batch:
                return copied
            start = "(" + _decode(rows[-1][0])

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
            start = "(" + _decode(rows[-1][0])


def _from(fields: dict) -> str | None:
    value = fields.get(b"from") or fields.get("from")
    return _decode(value) if value is not None else None


def _entry(stream_id: bytes | str, fields: dict) -> TranscriptEntry:
    body = fields.get(b"e") or fields["e"]
    return TranscriptEntry.model_validate_json(body).model_copy(
        update={"id": _decode(stream_id), "merged_from": _from(fields)})


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
