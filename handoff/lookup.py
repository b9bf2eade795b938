"""What other parts may read of the handoff part's data (without the service's
settings and teams): who owns a conversation, whose a ticket is, a customer's
tickets. The keys stay handoff's own (handoff/keys.py)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.keys import HANDOFF_KEYS, HandoffKeys

EVENTS_CHANNEL = HANDOFF_KEYS.handoff_events
"""The pub/sub channel handoff publishes queue and ticket events on (the live
hub relays it to the agent consoles)."""


class HandoffLookup:
    def __init__(self, redis: Redis, keys: HandoffKeys = HANDOFF_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def owner(self, customer_id: str) -> str | None:
        """Who talks to the customer now (bot, queue, agent:<name>); None if never set."""
        return await self._redis.get(self._keys.owner(customer_id))

    def owner_in(self, pipe: Pipeline, customer_id: str) -> None:
        """owner, queued on the caller's pipeline."""
        pipe.get(self._keys.owner(customer_id))

    async def ticket_owner(self, ref: str) -> str | None:
        """The customer a ticket belongs to; None for no such ticket."""
        return await self._redis.hget(self._keys.ticket(ref), "customer_id")

    async def tickets_of(self, customer_id: str) -> list[str]:
        """A customer's ticket references, oldest first."""
        return await self._redis.lrange(self._keys.customer_tickets(customer_id), 0, -1)
