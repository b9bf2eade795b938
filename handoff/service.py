"""The handoff service: escalate, claim, release, transfer, resolve, and what a
waiting customer is told. Used by the action server (escalation) and the
gateway (agent console, queue sweeper); all state is in Redis.

The conversation owner (docs/architecture.md#owner) moves with the ticket: `queue` while it
waits, `agent:<name>` while an agent holds it, `bot` after resolve. The router
reads it before every bot turn, so the bot is silent while a person owns it.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from core.models import OWNER_BOT, OWNER_QUEUE
from core.settings import HandoffSettings
from handoff import AtCapacity, TicketNotFound, TicketStateError
from handoff.keys import HANDOFF_KEYS, HandoffKeys
from handoff.lookup import HandoffLookup
from handoff.models import QueueStanding, Summary, Ticket
from handoff.queue import ANY_HOLDER, TicketQueue
from handoff.teams import TeamsConfig, is_open, load_teams, next_opening

log = logging.getLogger(__name__)
WAIT_SAMPLES = 20
PRESENCE_STATUSES = ("online", "away", "offline")

# Tell a waiting customer their new position only if it improved (or they are
# next) and the last update is old enough; atomic so N gateways send it once.
_SHOULD_TELL = """
local told = tonumber(redis.call('HGET', KEYS[1], 'position') or '1000000')
local at = tonumber(redis.call('HGET', KEYS[1], 'ts') or '0')
local position, now, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local improved = position < told and (now - at >= interval or position == 1)
local reminder = ARGV[4] == '1' and now - at >= interval
if improved or reminder then
  redis.call('HSET', KEYS[1], 'position', position, 'ts', now)
  redis.call('EXPIRE', KEYS[1], 86400)
  return 1
end
return 0
"""


def agent_owner(agent: str) -> str:
    return f"agent:{agent}"


def _owner_of(ticket: Ticket) -> str:
    """Who owns the conversation while `ticket` is open."""
    if ticket.agent and ticket.status == "claimed":
        return agent_owner(ticket.agent)
    return OWNER_QUEUE


# KEYS: owner. ARGV: expected, new, the bot's name (a missing key is the bot).
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1]) or ARGV[3]
if current == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"""


def day_key(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class HandoffService:
    def __init__(self, redis: Redis, settings: HandoffSettings,
                 teams: TeamsConfig | None = None, keys: HandoffKeys = HANDOFF_KEYS) -> None:
        self.redis = redis
        self.settings = settings
        self.teams = teams or load_teams(self.settings.teams_file)
        self.keys = keys
        self.queue = TicketQueue(redis, keys)
        self._should_tell = redis.register_script(_SHOULD_TELL)
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)

    # -- escalation -------------------------------------------------------------------
    async def escalate(self, customer_id: str, channel: str, reason: str, *,
                       summary: Summary | None = None, topic: str | None = None,
                       priority: int | None = None, display_name: str = "",
                       language: str | None = None) -> tuple[Ticket, QueueStanding]:
        """Open a ticket (or return the customer's open one) and hand the
        conversation to the queue, or straight back to the agent who just
        helped them if that agent is online. `language`: the customer's (en |
        de), shown on the ticket."""
        open_ticket = await self.open_ticket_of(customer_id)
        if open_ticket is not None:
            # A retry after a crash between opening the ticket and handing over
            # the conversation finishes the hand-over; an owner already set (an
            # agent who claimed it meanwhile) is left alone.
            await self._set_owner_if(customer_id, _owner_of(open_ticket), expected=OWNER_BOT)
            return open_ticket, await self.standing(open_ticket)
        route = self.teams.topics.get(topic or "")
        team = route.team if route else self.teams.default_team
        priority = priority or (route.priority if route else 1)
        now = time.time()
        ticket = await self.queue.create(Ticket(
            ref="pending", customer_id=customer_id, status="queued", reason=reason,
            priority=priority, team=team, channel=channel, display_name=display_name,
            language=language, created_at=now,
            sla_due_at=now + self.teams.team(team).sla_s(priority),
            summary=summary or Summary()))
        await self._set_owner(customer_id, OWNER_QUEUE)
        await self._count(now, f"escalations:{channel}", f"reason:{reason}")
        sticky = await self.redis.get(self.keys.last_agent(customer_id))
        if sticky and await self.is_online(sticky):
            try:
                ticket = await self.assign(ticket.ref, sticky, event="ticket.returned")
            except (AtCapacity, TicketNotFound, TicketStateError):  # the queue takes it
                log.info("sticky agent %s cannot take %s; it waits in the queue",
                         sticky, ticket.ref)
        standing = await self._told_standing(ticket)
        await self.emit("ticket.created", ticket)
        return ticket, standing

    async def _told_standing(self, ticket: Ticket) -> QueueStanding:
        """The standing the caller is about to tell the customer, recorded first so
        the queue follower (woken by the event that comes next) does not repeat it."""
        standing = await self.standing(ticket)
        notice = self.keys.queue_notice(ticket.customer_id)
        if standing.position is not None:
            await self.redis.hset(notice, mapping={"position": standing.position,
                                                   "ts": time.time()})
            await self.redis.expire(notice, 86400)
        else:
            await self.redis.delete(notice)
        return standing

    async def open_ticket_of(self, customer_id: str) -> Ticket | None:
        refs = await self.queue.of_customer(customer_id)
        if not refs:
            return None
        ticket = await self.queue.find(refs[-1])
        return ticket if ticket is not None and ticket.status != "resolved" else None

    async def standing(self, ticket: Ticket) -> QueueStanding:
        team = self.teams.team(ticket.team)
        now = datetime.now(UTC)
        team_open = is_open(team, now)
        online = len(await self.online_agents(ticket.team))
        position = await self.queue.position(ticket) if ticket.status == "queued" else None
        expected = None
        if position is not None and team_open and online:
            expected = await self.typical_wait_s(ticket.team) * position / online
        opens = None if team_open else next_opening(team, now)
        return QueueStanding(ref=ticket.ref, position=position, expected_wait_s=expected,
                             team_open=team_open, agents_online=online,
                             opens_at=opens.timestamp() if opens else None)

    async def typical_wait_s(self, team: str) -> float:
        """Median of recent waits from escalation to claim (the default before any)."""
        raw = await self.redis.lrange(self.keys.team_wait_samples(team), 0, WAIT_SAMPLES - 1)
        samples = [float(x) for x in raw]
        return statistics.median(samples) if samples else self.settings.default_wait_s

    # -- agents ---------------------------------------------------------------------------
    async def claim(self, ref: str, agent: str) -> Ticket:
        ticket = await self.queue.claim(ref, agent, await self.capacity(agent),
                                        self.settings.claim_timeout_s)
        await self._after_claim(ticket, "ticket.claimed")
        return ticket

    async def assign(self, ref: str, agent: str, event: str = "ticket.transferred",
                     *, holder: str = ANY_HOLDER) -> Ticket:
        """Give the ticket to `agent`; with `holder`, only while that agent holds
        it ('': while nobody does), so only the holder (or an admin) moves it."""
        ticket = await self.queue.assign(ref, agent, await self.capacity(agent),
                                         self.settings.claim_timeout_s, holder=holder)
        await self._after_claim(ticket, event)
        return ticket

    async def release(self, ref: str, agent: str) -> Ticket:
        ticket = await self.queue.requeue(ref, holder=agent, count=False)
        await self._set_owner(ticket.customer_id, OWNER_QUEUE)
        await self.emit("ticket.released", ticket)
        return ticket

    async def transfer_to_team(self, ref: str, team: str, by: str,
                               *, holder: str = ANY_HOLDER) -> tuple[Ticket, QueueStanding]:
        self.teams.team(team)
        ticket = await self.queue.requeue(ref, team=team, count=False, holder=holder)
        await self._set_owner(ticket.customer_id, OWNER_QUEUE)
        standing = await self._told_standing(ticket)
        await self.emit("ticket.transferred", ticket, by=by)
        return ticket, standing

    async def agent_replied(self, ref: str) -> None:
        ticket = await self.queue.get(ref)
        if await self.queue.mark_replied(ref):
            now = time.time()
            await self._count(now, f"first_reply_s_sum:{ticket.channel}",
                              by=now - ticket.created_at)
            await self._count(now, f"first_reply_n:{ticket.channel}")
            if now > ticket.sla_due_at:
                await self._count(now, f"sla_breached:{ticket.channel}")

    async def resolve(self, ref: str, by: str) -> tuple[Ticket, bool]:
        """Hand the conversation back to the bot. Idempotent: a second resolve
        (double click, retry) changes nothing and returns False."""
        ticket, first = await self.queue.resolve(ref, by)
        if not first:
            # A retry after a crash between resolving and handing back: the bot
            # gets the conversation back unless the customer has a newer ticket.
            owner = await HandoffLookup(self.redis, self.keys).owner(ticket.customer_id)
            if owner not in (None, OWNER_BOT) and await self.open_ticket_of(
                    ticket.customer_id) is None:
                await self._set_owner_if(ticket.customer_id, OWNER_BOT, expected=owner)
            return ticket, False
        await self._set_owner(ticket.customer_id, OWNER_BOT)
        if ticket.agent:
            await self.redis.set(self.keys.last_agent(ticket.customer_id), ticket.agent,
                                 ex=int(self.settings.sticky_agent_s))
        now = time.time()
        await self._count(now, f"resolved:{ticket.channel}")
        await self._count(now, f"handling_s_sum:{ticket.channel}", by=now - ticket.created_at)
        await self.emit("ticket.resolved", ticket, by=by)
        return ticket, True

    async def ticket_owner(self, ref: str) -> str | None:
        """The customer a ticket belongs to; None for no such ticket."""
        return await HandoffLookup(self.redis, self.keys).ticket_owner(ref)

    async def should_tell_standing(self, customer_id: str, position: int, interval_s: float,
                                   *, reminder: bool = False) -> bool:
        """Whether to tell a waiting customer their position now (records that it
        was told); see _SHOULD_TELL."""
        return bool(await self._should_tell(keys=[self.keys.queue_notice(customer_id)],
                                            args=[position, time.time(), interval_s,
                                                  "1" if reminder else "0"]))

    async def expect_csat(self, customer_id: str, ref: str) -> None:
        """The customer was asked to rate `ref`: their next rating answers it."""
        await self.redis.set(self.keys.csat_pending(customer_id), ref, ex=86400)

    async def record_csat(self, customer_id: str, score: int,
                          channel: str | None = None) -> Ticket | None:
        """The customer's rating of the ticket they were asked about, counted
        under `channel`: the channel the rating came in on. (Not the ticket's
        channel: a customer who escalated by SMS and was asked on Telegram, where
        they wrote last, rates on Telegram; that is a Telegram rating.)"""
        ref = await self.redis.getdel(self.keys.csat_pending(customer_id))
        if ref is None or not 1 <= score <= 5:
            return None
        ticket = await self.queue.get(ref)
        await self.queue.set_field(ticket.ref, "csat", str(score))
        rated_on = channel or ticket.channel
        await self._count(time.time(), f"csat_sum:{rated_on}", by=score)
        await self._count(time.time(), f"csat_n:{rated_on}")
        ticket = await self.queue.get(ticket.ref)
        await self.emit("ticket.rated", ticket)
        return ticket

    async def expire_claims(self) -> list[Ticket]:
        """Claims with no agent reply in time go back to the queue. Every gateway
        runs this sweep; taking the deadline out (ZREM) decides which one acts."""
        requeued = []
        for ref in await self.queue.expired_claims(time.time()):
            if not await self.redis.zrem(self.keys.claim_deadlines, ref):
                continue  # another process took it
            ticket = await self.queue.find(ref)
            if ticket is None or ticket.status != "claimed":
                continue
            try:
                ticket = await self.queue.requeue(ref, holder=ticket.agent or "")
            except TicketStateError:
                continue  # released, transferred or resolved meanwhile
            await self._set_owner(ticket.customer_id, OWNER_QUEUE)
            await self.emit("ticket.requeued", ticket)
            requeued.append(ticket)
        return requeued

    async def capacity(self, agent: str) -> int:
        raw = await self.redis.hget(self.keys.agent_profile(agent), "capacity")
        return int(raw) if raw else self.settings.default_capacity

    async def agent_teams(self, agent: str) -> list[str]:
        raw = await self.redis.hget(self.keys.agent_profile(agent), "teams")
        return raw.split(",") if raw else list(self.teams.teams)

    async def set_profile(self, agent: str, *, teams: list[str] | None = None,
                          capacity: int | None = None) -> None:
        if teams is not None:
            for team in teams:
                self.teams.team(team)
            await self.redis.hset(self.keys.agent_profile(agent), "teams", ",".join(teams))
        if capacity is not None:
            await self.redis.hset(self.keys.agent_profile(agent), "capacity", str(capacity))

    async def set_presence(self, agent: str, status: str) -> None:
        if status not in PRESENCE_STATUSES:
            raise ValueError(f"presence is one of {', '.join(PRESENCE_STATUSES)}")
        await self.redis.hset(self.keys.agent_presence, agent,
                              json.dumps({"status": status, "ts": time.time()}))
        await self.publish({"type": "presence", "agent": agent, "status": status})

    async def presence(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.agent_presence)
        now = time.time()
        out = {}
        for agent, value in raw.items():
            data = json.loads(value)
            stale = now - data["ts"] > self.settings.presence_ttl_s
            out[agent] = "offline" if stale else data["status"]
        return out

    async def is_online(self, agent: str) -> bool:
        return (await self.presence()).get(agent) == "online"

    async def online_agents(self, team: str) -> list[str]:
        return [agent for agent, status in (await self.presence()).items()
                if status == "online" and team in await self.agent_teams(agent)]

    # -- events -----------------------------------------------------------------------
    async def emit(self, event: str, ticket: Ticket, **extra: str) -> None:
        """Tell every console (pub/sub) and the operators' webhooks (a stream)."""
        payload = {"type": event, "ticket": ticket.view(), **extra}
        await self.publish(payload)
        if self.settings.webhook_urls:
            await self.redis.xadd(self.keys.webhook_stream,
                                  {"event": event, "ref": ticket.ref,
                                   "body": json.dumps(payload)},
                                  maxlen=100_000, approximate=True)

    async def publish(self, payload: dict) -> None:
        await self.redis.publish(self.keys.handoff_events, json.dumps(payload))

    async def _after_claim(self, ticket: Ticket, event: str) -> None:
        await self._set_owner(ticket.customer_id, agent_owner(ticket.agent or ""))
        if ticket.claimed_at:
            await self.redis.lpush(self.keys.team_wait_samples(ticket.team),
                                   str(ticket.claimed_at - ticket.created_at))
            await self.redis.ltrim(self.keys.team_wait_samples(ticket.team), 0, WAIT_SAMPLES - 1)
        await self.emit(event, ticket)

    async def _set_owner(self, customer_id: str, owner: str) -> None:
        await self.redis.set(self.keys.owner(customer_id), owner)

    async def _set_owner_if(self, customer_id: str, owner: str, *, expected: str) -> None:
        """Set the owner only while it is still `expected` (no key counts as the bot)."""
        await self._compare_and_set(keys=[self.keys.owner(customer_id)],
                                    args=[expected, owner, OWNER_BOT])

    async def _count(self, ts: float, *fields: str, by: float = 1) -> None:
        key = self.keys.stats_day(day_key(ts))
        async with self.redis.pipeline(transaction=False) as pipe:
            for field in fields:
                pipe.hincrbyfloat(key, field, by)
            pipe.expire(key, 400 * 86400)
            await pipe.execute()
