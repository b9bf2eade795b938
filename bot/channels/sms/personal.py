"""The SMS channel's personal data: numbered options offered to their phones and
the sent-part counters of messages to them. Their opt-out is kept (SmsKeys.kept)."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.channels.sms.keys import SMS_KEYS, SmsKeys
from core.personal import Export, Person, covering, delete_matching, glob_literal


class SmsData:
    covers = covering(SmsKeys, "sms_options", "sms_sent_parts")

    def __init__(self, redis: Redis, keys: SmsKeys = SMS_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        out: Export = {}
        for customer in person.customer_ids:
            phones = [user for channel, user in person.identities_of.get(customer, ())
                      if channel == "sms"]
            out[customer] = {"sms_opted_out": [
                phone for phone in phones
                if await self._redis.exists(self._keys.sms_opted_out(phone))]}
        return out

    async def erase(self, person: Person) -> None:
        for phone in person.users("sms"):
            await self._redis.delete(self._keys.sms_options(phone))
            parts = self._keys.sms_sent_parts(f"{glob_literal(phone)}:*")
            await delete_matching(self._redis, parts)
