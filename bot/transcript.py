"""Each customer's transcript: one Redis stream, every channel, every author."""

from __future__ import annotations

from redis.asyncio import Redis

from core.keys import KEYS, Keys
from core.models import TranscriptEntry


class TranscriptStore:
    def __init__(self, redis: Redis, keys: Keys = KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def append(self, customer_id: str, entry: TranscriptEntry) -> TranscriptEntry:
        body = entry.model_dump_json(exclude={"id"})
        stream_id = await self._redis.xadd(self._keys.transcript(customer_id), {"e": body})
        return entry.model_copy(update={"id": _decode(stream_id)})

    async def history(self, customer_id: str, limit: int = 500) -> list[TranscriptEntry]:
        """The last `limit` entries, oldest first."""
        rows = await self._redis.xrevrange(self._keys.transcript(customer_id), count=limit)
        return [_entry(stream_id, fields) for stream_id, fields in reversed(rows)]


def _entry(stream_id: bytes | str, fields: dict) -> TranscriptEntry:
    body = fields.get(b"e") or fields.get("e")
    return TranscriptEntry.model_validate_json(body).model_copy(update={"id": _decode(stream_id)})


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
