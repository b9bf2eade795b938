"""The Telegram channel's personal data: sent-part counters of messages to their chats."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.channels.telegram.keys import TELEGRAM_KEYS, TelegramKeys
from core.personal import Export, Person, covering, delete_matching, glob_literal


class TelegramData:
    covers = covering(TelegramKeys, "telegram_sent_parts")

    def __init__(self, redis: Redis, keys: TelegramKeys = TELEGRAM_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        return {}

    async def erase(self, person: Person) -> None:
        for chat in person.users("telegram"):
            await delete_matching(self._redis,
                                  self._keys.telegram_sent_parts(f"{glob_literal(chat)}:*"))
