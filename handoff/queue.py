"""The agent queue in Redis: tickets, per-team waiting lists, agents' holdings.

Every state change of a ticket is one Lua script, so concurrent agents and
processes never see or make a half-done change: two agents claiming the same
ticket get exactly one winner, and a claim never exceeds an agent's capacity.
All the keys a script touches share the {handoff} hash tag (one Cluster slot).
"""

from __future__ import annotations

import secrets
import time

from redis.asyncio import Redis

from handoff import AtCapacity, TicketNotFound, TicketStateError
from handoff.keys import HANDOFF_KEYS, HandoffKeys
from handoff.models import Ticket

REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_ref() -> str:
    return "FD-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(4))


def queue_score(priority: int, created_at: float) -> float:
    """Higher priority first, then the longest waiting."""
    return (10 - priority) * 1e10 + created_at


# KEYS: ticket, agent set, claim deadlines, team queue. ARGV: ref, agent, capacity, now, deadline
_CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'queued' then return status end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 'capacity' end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'claimed', 'agent', ARGV[2], 'claimed_at', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'first_reply_at') == 0 then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
end
return 'ok'
"""

# Only the holder acts on a ticket: the scripts that move a ticket take the
# holder the caller was allowed to act for ('*' = any: an admin, the claim timer;
# '' = nobody, the ticket must still be waiting) and refuse with 'not_holder'
# when the ticket is held by someone else by the time the script runs.
ANY_HOLDER = "*"

# KEYS: ticket, holder's agent set, claim deadlines, target team queue.
# ARGV: ref, expected holder ('*' = any), new team, count as re-queue ('1'/'0')
_REQUEUE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'resolved' then return status end
local holder = redis.call('HGET', KEYS[1], 'agent') or ''
if ARGV[2] ~= '*' and holder ~= ARGV[2] then return 'not_holder' end
local old_team = redis.call('HGET', KEYS[1], 'team')
if status == 'queued' then
  redis.call('ZREM', KEYS[5], ARGV[1])
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'agent', '', 'claimed_at', '', 'team', ARGV[3])
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'requeues', 1) end
local priority = tonumber(redis.call('HGET', KEYS[1], 'priority'))
local created = tonumber(redis.call('HGET', KEYS[1], 'created_at'))
redis.call('ZADD', KEYS[4], (10 - priority) * 1e10 + created, ARGV[1])
return 'ok'
"""

# KEYS: ticket, from-agent set, to-agent set, claim deadlines, team queue.
# ARGV: ref, to agent, capacity, now, deadline, expected holder ('*' = any)
_TO_AGENT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'resolved' then return status end
local holder = redis.call('HGET', KEYS[1], 'agent') or ''
if ARGV[6] ~= '*' and holder ~= ARGV[6] then return 'not_holder' end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 'ok' end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return 'capacity' end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'claimed', 'agent', ARGV[2], 'claimed_at', ARGV[4])
if redis.call('HEXISTS', KEYS[1], 'first_reply_at') == 0 then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
end
return 'ok'
"""

# KEYS: ticket, agent set, claim deadlines, team queue. ARGV: ref, by, now
_RESOLVE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'resolved' then return 'already' end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'resolved', 'resolved_at', ARGV[3], 'resolved_by', ARGV[2])
return 'ok'
"""


class TicketQueue:
    def __init__(self, redis: Redis, keys: HandoffKeys = HANDOFF_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._claim = redis.register_script(_CLAIM)
        self._requeue = redis.register_script(_REQUEUE)
        self._to_agent = redis.register_script(_TO_AGENT)
        self._resolve = redis.register_script(_RESOLVE)

    async def create(self, ticket: Ticket) -> Ticket:
        """Store a new ticket under a fresh reference and put it in its team's queue."""
        while True:
            ref = new_ref()
            key = self._keys.ticket(ref)
            if await self._redis.hsetnx(key, "ref", ref):  # unique reference, race-free
                break
        ticket = ticket.model_copy(update={"ref": ref})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=ticket.to_hash())
            pipe.zadd(self._keys.team_queue(ticket.team),
                      {ref: queue_score(ticket.priority, ticket.created_at)})
            pipe.zadd(self._keys.tickets_by_time, {ref: ticket.created_at})
            pipe.rpush(self._keys.customer_tickets(ticket.customer_id), ref)
            await pipe.execute()
        return ticket

    async def get(self, ref: str) -> Ticket:
        raw = await self._redis.hgetall(self._keys.ticket(ref))
        if not raw or "status" not in raw:
            raise TicketNotFound(ref)
        return Ticket.from_hash(raw)

    async def find(self, ref: str) -> Ticket | None:
        try:
            return await self.get(ref)
        except TicketNotFound:
            return None

    async def claim(self, ref: str, agent: str, capacity: int, claim_timeout_s: float) -> Ticket:
        ticket = await self.get(ref)
        now = time.time()
        result = await self._claim(
            keys=[self._keys.ticket(ref), self._keys.agent_tickets(agent),
                  self._keys.claim_deadlines, self._keys.team_queue(ticket.team)],
            args=[ref, agent, capacity, now, now + claim_timeout_s])
        return await self._outcome(ref, result)

    async def requeue(self, ref: str, *, holder: str = ANY_HOLDER, team: str | None = None,
                      count: bool = True) -> Ticket:
        """Back to the queue (of `team`, default its own): release, transfer to a
        team, or an expired claim. With `holder`, only if that agent holds it
        ('' : only if nobody does)."""
        ticket = await self.get(ref)
        target = team or ticket.team
        result = await self._requeue(
            keys=[self._keys.ticket(ref), self._keys.agent_tickets(ticket.agent or "-"),
                  self._keys.claim_deadlines, self._keys.team_queue(target),
                  self._keys.team_queue(ticket.team)],
            args=[ref, holder, target, "1" if count else "0"])
        return await self._outcome(ref, result)

    async def assign(self, ref: str, agent: str, capacity: int, claim_timeout_s: float,
                     *, holder: str = ANY_HOLDER) -> Ticket:
        """Give the ticket to `agent` directly (transfer to an agent, or the same
        agent for a customer who writes again soon after resolve). With
        `holder`, only if that agent holds it ('': only if nobody does)."""
        ticket = await self.get(ref)
        now = time.time()
        result = await self._to_agent(
            keys=[self._keys.ticket(ref), self._keys.agent_tickets(ticket.agent or "-"),
                  self._keys.agent_tickets(agent), self._keys.claim_deadlines,
                  self._keys.team_queue(ticket.team)],
            args=[ref, agent, capacity, now, now + claim_timeout_s, holder])
        return await self._outcome(ref, result)

    async def resolve(self, ref: str, by: str) -> tuple[Ticket, bool]:
        """(ticket, True) the first time; (ticket, False) if it was already resolved."""
        ticket = await self.get(ref)
        result = await self._resolve(
            keys=[self._keys.ticket(ref), self._keys.agent_tickets(ticket.agent or "-"),
                  self._keys.claim_deadlines, self._keys.team_queue(ticket.team)],
            args=[ref, by, time.time()])
        if result == "missing":
            raise TicketNotFound(ref)
        return await self.get(ref), result == "ok"

    async def mark_replied(self, ref: str) -> bool:
        """The agent answered: stop the claim timer. True for the first reply."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self._keys.ticket(ref), "first_reply_at", str(time.time()))
            pipe.zrem(self._keys.claim_deadlines, ref)
            first, _ = await pipe.execute()
        return bool(first)

    async def set_field(self, ref: str, field: str, value: str) -> None:
        await self._redis.hset(self._keys.ticket(ref), field, value)

    async def expired_claims(self, now: float) -> list[str]:
        return await self._redis.zrangebyscore(self._keys.claim_deadlines, "-inf", now)

    async def waiting(self, team: str) -> list[str]:
        return await self._redis.zrange(self._keys.team_queue(team), 0, -1)

    async def position(self, ticket: Ticket) -> int | None:
        rank = await self._redis.zrank(self._keys.team_queue(ticket.team), ticket.ref)
        return None if rank is None else rank + 1

    async def held_by(self, agent: str) -> list[str]:
        return sorted(await self._redis.smembers(self._keys.agent_tickets(agent)))

    async def of_customer(self, customer_id: str) -> list[str]:
        return await self._redis.lrange(self._keys.customer_tickets(customer_id), 0, -1)

    async def _outcome(self, ref: str, result: str) -> Ticket:
        if result == "missing":
            raise TicketNotFound(ref)
        if result == "capacity":
            raise AtCapacity(ref)
        if result == "not_holder":
            raise TicketStateError(f"{ref} is held by another agent")
        if result != "ok":
            raise TicketStateError(f"ticket {ref} is {result}")
        return await self.get(ref)
