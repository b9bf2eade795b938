"""The handoff part's personal data: the person's tickets and their notes, their
place in every queue, their webhook deliveries, and the per-customer handoff
state (ticket list, conversation owner, sticky agent, CSAT and queue notices)."""

from __future__ import annotations

from redis.asyncio import Redis

from core.personal import Export, Person, covering, xdel_where
from handoff.keys import HANDOFF_KEYS, HandoffKeys

_BATCH = 500


class HandoffData:
    covers = covering(HandoffKeys, "ticket", "ticket_notes", "tickets_by_time", "team_queue",
                      "agent_tickets", "claim_deadlines", "webhook_stream", "webhook_dead",
                      "customer_tickets", "owner", "last_agent", "csat_pending", "queue_notice",
                      "waiting_ack")

    def __init__(self, redis: Redis, keys: HandoffKeys = HANDOFF_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        out: Export = {}
        for customer in person.customer_ids:
            tickets = []
            for ref in await self._redis.lrange(self._keys.customer_tickets(customer), 0, -1):
                tickets.append({"ref": ref, **await self._redis.hgetall(self._keys.ticket(ref))})
            out[customer] = {"owner": await self._redis.get(self._keys.owner(customer)),
                             "tickets": tickets}
        return out

    async def erase(self, person: Person) -> None:
        keys, owned, refs = self._keys, person.owned, set(person.ticket_refs)
        doomed: set[str] = set()
        for ref in refs:
            owner = await self._redis.hget(keys.ticket(ref), "customer_id")
            if owner is None or owner in owned:
                doomed.add(ref)
                await self._redis.delete(keys.ticket(ref), keys.ticket_notes(ref))
        if doomed:
            await self._leave_queues(doomed)
        for stream in (keys.webhook_stream, keys.webhook_dead):
            await xdel_where(self._redis, stream, lambda f: f.get("ref") in refs)
        for customer in person.customer_ids:
            await self._redis.delete(
                keys.customer_tickets(customer), keys.owner(customer), keys.last_agent(customer),
                keys.csat_pending(customer), keys.queue_notice(customer),
                keys.waiting_ack(customer))

    async def _leave_queues(self, refs: set[str]) -> None:
        """Out of every team queue, every agent's held set, the claim deadlines and
        the ticket index (whichever team or agent had them last)."""
        members = list(refs)
        await self._redis.zrem(self._keys.tickets_by_time, *members)
        await self._redis.zrem(self._keys.claim_deadlines, *members)
        async for key in self._redis.scan_iter(match=self._keys.team_queue("*"), count=_BATCH):
            await self._redis.zrem(key, *members)
        async for key in self._redis.scan_iter(match=self._keys.agent_tickets("*"),
                                               count=_BATCH):
            await self._redis.srem(key, *members)
