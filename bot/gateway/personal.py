"""The gateway's personal data: the person's messages on the inbound and outbox
streams (and their dead letters), the deduplication and progress keys named
after those messages, the delay notice and the language Rasa last heard."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from bot.gateway.keys import GATEWAY_KEYS, GatewayKeys
from core.personal import (
    Export,
    Person,
    covering,
    delete_matching,
    glob_literal,
    stream_entries,
    xdel_where,
)


class GatewayData:
    covers = covering(GatewayKeys, "inbound_stream", "inbound_dead", "inbound_seen",
                      "inbound_progress", "outbox_stream", "outbox_dead", "delay_notice",
                      "rasa_language")

    def __init__(self, redis: Redis, keys: GatewayKeys = GATEWAY_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        return {}  # what they wrote and were told is in the transcript

    async def erase(self, person: Person) -> None:
        users, owned = person.users(), person.owned
        for stream in (self._keys.inbound_stream, self._keys.inbound_dead):
            await self._erase_inbound(stream, users)
        for user in person.users("web"):  # web message ids start with the visitor id
            await delete_matching(self._redis,
                                  self._keys.inbound_seen("web", f"{glob_literal(user)}:*"))
        for stream in (self._keys.outbox_stream, self._keys.outbox_dead):
            await xdel_where(self._redis, stream, lambda f: f.get("customer_id") in owned)
        for customer in person.customer_ids:
            await self._redis.delete(self._keys.delay_notice(customer),
                                     self._keys.rasa_language(customer))

    async def _erase_inbound(self, stream: str, users: set[str]) -> None:
        """Their messages, with the deduplication and progress keys named after
        them (which hold external message ids)."""
        async for stream_id, fields in stream_entries(self._redis, stream):
            if fields.get("channel_user_id") not in users:
                continue
            message = json.loads(fields.get("m") or "{}")
            await self._redis.delete(
                self._keys.inbound_seen(message.get("channel", ""), message.get("external_id", "")),
                self._keys.inbound_progress(stream_id))
            await self._redis.xdel(stream, stream_id)
