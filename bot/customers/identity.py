"""Who is this? Maps a channel identity to the customer id that Rasa, the
transcript and the agent console know the customer by."""

from __future__ import annotations

import json
import secrets
import time

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from bot.customers.merge import Customers
from bot.customers.verified import VerifiedAttributes
from core.models import VerifiedAttribute

_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: ids get read aloud


def new_customer_id() -> str:
    return "c_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


class IdentityStore:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._customers = Customers(redis, keys)
        self._verified = VerifiedAttributes(redis, keys)

    async def find(self, channel: str, channel_user_id: str) -> str | None:
        """The customer behind a channel identity, if it has one yet (creates nothing)."""
        return await self._redis.get(self._keys.identity(channel, channel_user_id))

    async def resolve(self, channel: str, channel_user_id: str, display_name: str | None) -> str:
        """The customer behind a channel identity, created on first contact."""
        key = self._keys.identity(channel, channel_user_id)
        existing = await self._redis.get(key)
        if existing is not None:
            return existing
        if channel == "sms":
            # A number someone proved on another channel (a Telegram contact of
            # their own): the first SMS from it joins that customer.
            owner = await self._verified.owner("phone", channel_user_id)
            if owner is not None:
                return await self._customers.attach(await self._customers.live(owner), channel,
                                                    channel_user_id, "verified_phone")
        candidate = new_customer_id()
        # SET NX: two first messages racing from one identity end as one customer.
        if await self._redis.set(key, candidate, nx=True):
            await self._redis.hset(
                self._keys.customer(candidate),
                mapping={
                    "created_at": str(time.time()),
                    "display_name": display_name or "",
                    "first_channel": channel,
                },
            )
            await self._redis.hset(
                self._keys.customer_identities(candidate),
                f"{channel}:{channel_user_id}",
                json.dumps({"channel": channel, "channel_user_id": channel_user_id,
                            "linked_at": time.time(), "how": "first_contact"}),
            )
            if channel == "sms":  # the carrier vouches for the sender's number
                await self._verified.record(
                    candidate, VerifiedAttribute(kind="phone", value=channel_user_id), "sms")
            return candidate
        return await self._redis.get(key)

    async def touch(self, customer_id: str, channel: str, channel_user_id: str
                    ) -> float | None:
        """Remember the channel the customer used last: replies go there. Returns
        when the customer was seen before this (None: never), read in the same
        round trip."""
        key = self._keys.customer(customer_id)
        async with self._redis.pipeline(transaction=True) as pipe:  # one key
            pipe.hget(key, "last_seen")
            pipe.hset(key, mapping={"last_channel": channel,
                                    "last_channel_user_id": channel_user_id,
                                    "last_seen": str(time.time())})
            before, _ = await pipe.execute()
        return float(before) if before is not None else None
