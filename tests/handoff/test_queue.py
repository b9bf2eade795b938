"""The agent queue against a real Redis: ordering, atomic claims, capacity,
re-queue, transfer, idempotent resolve, and the owner moving with the ticket."""

import asyncio
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

import pytest

from core.settings import HandoffSettings
from handoff import AtCapacity, TicketStateError
from handoff.service import HandoffService


@pytest.fixture
def service(redis) -> HandoffService:
    return HandoffService(redis, HandoffSettings(claim_timeout_s=0.3))


async def owner(redis, customer_id: str) -> str:
    return await redis.get(f"fd:{{{customer_id}}}:owner")


async def test_escalation_opens_one_ticket_and_hands_the_conversation_to_the_queue(
        service, redis):
    ticket, standing = await service.escalate("c_a", "telegram", "asked_for_human")
    assert ticket.ref.startswith("FD-") and len(ticket.ref) == 7
    assert ticket.status == "queued" and await owner(redis, "c_a") == "queue"
    assert standing.position == 1
    again, _ = await service.escalate("c_a", "sms", "asked_for_human")
    assert again.ref == ticket.ref  # asking twice does not open a second ticket


async def test_the_queue_serves_priority_first_then_the_longest_waiting(service):
    first, _ = await service.escalate("c_1", "web", "fallback")
    second, _ = await service.escalate("c_2", "web", "fallback")
    urgent, _ = await service.escalate("c_3", "web", "complaint", priority=3)
    assert await service.queue.waiting("support") == [urgent.ref, first.ref, second.ref]
    assert (await service.standing(second)).position == 3


async def test_two_agents_claiming_at_once_get_exactly_one_winner(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "asked_for_human")
    results = await asyncio.gather(*(service.claim(ticket.ref, agent)
                                     for agent in ("ann", "bob", "cat", "dan")),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, TicketStateError) for r in results if isinstance(r, Exception))
    assert await owner(redis, "c_a") == f"agent:{winners[0].agent}"
    assert await service.queue.waiting("support") == []


async def test_an_agent_at_capacity_cannot_claim_more(service):
    await service.set_profile("ann", capacity=1)
    one, _ = await service.escalate("c_1", "web", "fallback")
    two, _ = await service.escalate("c_2", "web", "fallback")
    await service.claim(one.ref, "ann")
    with pytest.raises(AtCapacity):
        await service.claim(two.ref, "ann")
    assert (await service.queue.get(two.ref)).status == "queued"


async def test_a_claim_without_a_reply_goes_back_to_the_queue(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    await asyncio.sleep(0.35)
    requeued = await service.expire_claims()
    assert [t.ref for t in requeued] == [ticket.ref]
    back = await service.queue.get(ticket.ref)
    assert back.status == "queued" and back.agent is None and back.requeues == 1
    assert await owner(redis, "c_a") == "queue"
    assert await service.queue.held_by("ann") == []


async def test_a_reply_stops_the_claim_timer(service):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    await service.agent_replied(ticket.ref)
    await asyncio.sleep(0.35)
    assert await service.expire_claims() == []
    assert (await service.queue.get(ticket.ref)).status == "claimed"


async def test_transfer_to_a_team_and_to_an_agent(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    moved, standing = await service.transfer_to_team(ticket.ref, "billing", by="ann")
    assert moved.team == "billing" and moved.status == "queued" and standing.position == 1
    assert await service.queue.waiting("billing") == [ticket.ref]
    assert await service.queue.held_by("ann") == []
    given = await service.assign(ticket.ref, "bob")
    assert given.agent == "bob" and await service.queue.waiting("billing") == []
    assert await owner(redis, "c_a") == "agent:bob"


async def test_resolve_hands_back_to_the_bot_once(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    resolved, first = await service.resolve(ticket.ref, "ann")
    again, second = await service.resolve(ticket.ref, "ann")
    assert first and not second and resolved.status == again.status == "resolved"
    assert await owner(redis, "c_a") == "bot"
    assert await service.queue.held_by("ann") == []
    new, _ = await service.escalate("c_a", "web", "asked_for_human")
    assert new.ref != ticket.ref  # a resolved ticket is closed; the next is a new one


async def test_an_escalation_retried_after_a_crash_hands_the_conversation_over(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await redis.set(service.keys.owner("c_a"), "bot")  # crashed before the hand-over
    again, _ = await service.escalate("c_a", "web", "fallback")
    assert again.ref == ticket.ref and await owner(redis, "c_a") == "queue"
    await service.claim(ticket.ref, "ann")
    await service.escalate("c_a", "web", "fallback")  # asked again while ann has it
    assert await owner(redis, "c_a") == "agent:ann"


async def test_a_resolve_retried_after_a_crash_hands_the_conversation_back(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    await service.resolve(ticket.ref, "ann")
    await redis.set(service.keys.owner("c_a"), "agent:ann")  # crashed before handing back
    _, first = await service.resolve(ticket.ref, "ann")
    assert not first and await owner(redis, "c_a") == "bot"
    await service.escalate("c_a", "web", "asked_for_human")
    await service.resolve(ticket.ref, "ann")  # a late retry of the old one
    assert await owner(redis, "c_a") == "queue"  # the newer ticket keeps it


async def test_asking_for_a_person_again_soon_reaches_the_same_online_agent(service, redis):
    ticket, _ = await service.escalate("c_a", "web", "fallback")
    await service.claim(ticket.ref, "ann")
    await service.resolve(ticket.ref, "ann")
    await service.set_presence("ann", "online")
    again, standing = await service.escalate("c_a", "web", "asked_for_human")
    assert again.status == "claimed" and again.agent == "ann" and standing.position is None
    await service.resolve(again.ref, "ann")
    await service.set_presence("ann", "offline")
    third, _ = await service.escalate("c_a", "web", "asked_for_human")
    assert third.status == "queued"


async def test_expected_wait_comes_from_recent_waits_and_online_agents(service, redis):
    await service.set_presence("ann", "online")
    await service.set_presence("bob", "online")
    for wait in (60, 120, 90):
        await redis.lpush("fd:{handoff}:waits:support", wait)
    await service.escalate("c_1", "web", "fallback")
    _second, standing = await service.escalate("c_2", "web", "fallback")
    assert standing.position == 2 and standing.agents_online == 2
    assert standing.expected_wait_s == pytest.approx(90 * 2 / 2)


async def test_a_ticket_routed_to_a_closed_team_says_when_it_opens(redis, tmp_path):
    today = datetime.now(UTC).date()
    teams = tmp_path / "teams.yml"
    teams.write_text(f"""
default_team: weekdays
teams:
  weekdays:
    name: Closed today (a holiday), open from 09:00 every other day
    timezone: UTC
    hours: {{mon: "09:00-17:00", tue: "09:00-17:00", wed: "09:00-17:00", thu: "09:00-17:00",
             fri: "09:00-17:00", sat: "09:00-17:00", sun: "09:00-17:00"}}
    holidays: ["{today.isoformat()}"]
topics:
  complaint: {{team: weekdays, priority: 2}}
""")
    service = HandoffService(redis, HandoffSettings(teams_file=teams))
    ticket, standing = await service.escalate("c_a", "sms", "complaint", topic="complaint")
    assert ticket.team == "weekdays" and not standing.team_open
    tomorrow_nine = datetime.combine(today + timedelta(days=1), dt_time(9), tzinfo=UTC)
    assert standing.opens_at == tomorrow_nine.timestamp()
    assert standing.expected_wait_s is None


async def test_a_first_reply_after_the_sla_deadline_counts_as_breached(service, redis):
    ticket, _ = await service.escalate("c_a", "slack", "fallback", priority=3)
    await redis.hset(f"fd:{{handoff}}:ticket:{ticket.ref}", "sla_due_at", "1")  # long past
    await service.claim(ticket.ref, "ann")
    await service.agent_replied(ticket.ref)
    await service.agent_replied(ticket.ref)  # only the first reply counts
    from handoff.reports import report

    assert (await report(redis))["per_channel"]["slack"]["sla_breached"] == 1
