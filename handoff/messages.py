"""What the customer is told about their place in the queue, on any channel.
Short sentences: they are also sent by SMS."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handoff.models import QueueStanding, Ticket
from handoff.teams import Team

CLAIMED_TEXT = "{agent} has joined the conversation and will reply here."
RESOLVED_TEXT = "{agent} has handed you back to the assistant. If anything else comes up, just ask."
TRANSFERRED_TEXT = "We've passed your conversation to our {team} team. {standing}"
CSAT_TEXT = "How did we do? Please rate your conversation with our team."
CSAT_THANKS_TEXT = "Thank you for your rating!"
# Before a wait is the moment to offer continuing on another app.
LINK_HINT = "To continue on another app, type link."
RETURNING_TEXT = "You're back with {agent}, who helped you earlier. They'll reply here."


def minutes(seconds: float) -> str:
    m = max(1, round(seconds / 60))
    return "about a minute" if m == 1 else f"about {m} minutes"


def escalation_text(ticket: Ticket, standing: QueueStanding, team: Team,
                    agent_name: str | None = None) -> str:
    ref = f"Your reference is {ticket.ref}."
    if ticket.status == "claimed" and agent_name:
        return f"{RETURNING_TEXT.format(agent=agent_name)} {ref}"
    head = "I'm passing you to a person on our team."
    if not standing.team_open:
        when = opening_phrase(standing.opens_at, team)
        return (f"{head} {ref} Our team is closed right now; we'll reply here {when}. "
                f"You don't need to stay online. {LINK_HINT}")
    if not standing.agents_online:
        return (f"{head} {ref} Nobody is available this minute; we'll reply here as soon "
                f"as someone is. You don't need to stay online. {LINK_HINT}")
    return (f"{head} {ref} {position_phrase(standing)} We'll reply right here. {LINK_HINT}")


def position_phrase(standing: QueueStanding) -> str:
    if standing.position is None:
        return ""
    place = "next in line" if standing.position == 1 else f"number {standing.position} in the queue"
    wait = f"; the expected wait is {minutes(standing.expected_wait_s)}" \
        if standing.expected_wait_s is not None else ""
    return f"You're {place}{wait}."


def update_text(standing: QueueStanding) -> str:
    return f"Update on {standing.ref}: {position_phrase(standing)}"


def opening_phrase(opens_at: float | None, team: Team) -> str:
    if opens_at is None:
        return "as soon as we can"
    local = datetime.fromtimestamp(opens_at, ZoneInfo(team.timezone))
    return f"from {local:%A %H:%M} ({team.timezone.split('/')[-1].replace('_', ' ')} time)"
