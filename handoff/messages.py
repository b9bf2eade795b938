"""What the customer is told about their place in the queue, on any channel, in
their language (the `handoff` catalogue, locale/<language>/LC_MESSAGES/handoff.po).
Pure: the caller passes the customer's language. Short sentences: they are
also sent by SMS, so no typographic quotes or symbols outside GSM-7 either."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_location

from core.i18n import N_, supported, text, translator
from handoff.models import QueueStanding, Ticket
from handoff.teams import Team

# The CSAT buttons: score -> the word beside its stars.
CSAT_SCORES: tuple[tuple[int, str], ...] = (
    (5, N_("Excellent")), (4, N_("Good")), (3, N_("Okay")), (2, N_("Poor")), (1, N_("Bad")))


def claimed_text(agent: str, language: str | None) -> str:
    return text("handoff", language, "{agent} has joined the conversation and will reply here.",
                agent=agent)


def resolved_text(agent: str, language: str | None) -> str:
    return text("handoff", language, "{agent} has handed you back to the assistant. "
                "If anything else comes up, just ask.", agent=agent)


def transferred_text(team: str, standing: str, language: str | None) -> str:
    return text("handoff", language,
                "We've passed your conversation to our {team} team. {standing}",
                team=team, standing=standing).strip()


def team_closed_text(language: str | None) -> str:
    return text("handoff", language,
                "They are closed right now and will reply here when they open.")


def csat_text(language: str | None) -> str:
    return text("handoff", language, "How did we do? Please rate your conversation with our team.")


def csat_thanks_text(language: str | None) -> str:
    return text("handoff", language, "Thank you for your rating!")


def csat_button_title(score: int, language: str | None) -> str:
    word = dict(CSAT_SCORES)[score]
    return f"{score} {'★' * score} {translator('handoff', language).gettext(word)}"


def link_hint(language: str | None) -> str:
    # Before a wait is the moment to offer continuing on another app.
    return text("handoff", language, "To continue on another app, type link.")


def minutes(seconds: float, language: str | None = None) -> str:
    m = max(1, round(seconds / 60))
    if m == 1:
        return text("handoff", language, "about a minute")
    return text("handoff", language, "about {minutes} minutes", minutes=m)


def escalation_text(ticket: Ticket, standing: QueueStanding, team: Team,
                    agent_name: str | None = None, language: str | None = None) -> str:
    ref = text("handoff", language, "Your reference is {ref}.", ref=ticket.ref)
    if ticket.status == "claimed" and agent_name:
        returning = text("handoff", language,
                         "You're back with {agent}, who helped you earlier. "
                         "They'll reply here.", agent=agent_name)
        return f"{returning} {ref}"
    head = text("handoff", language, "I'm passing you to a person on our team.")
    no_need = text("handoff", language, "You don't need to stay online.")
    if not standing.team_open:
        closed = text("handoff", language,
                      "Our team is closed right now; we'll reply here {when}.",
                      when=opening_phrase(standing.opens_at, team, language))
        return f"{head} {ref} {closed} {no_need} {link_hint(language)}"
    if not standing.agents_online:
        nobody = text("handoff", language, "Nobody is available this minute; "
                      "we'll reply here as soon as someone is.")
        return f"{head} {ref} {nobody} {no_need} {link_hint(language)}"
    here = text("handoff", language, "We'll reply right here.")
    position = position_phrase(standing, language)
    return " ".join(p for p in (head, ref, position, here, link_hint(language)) if p)


def position_phrase(standing: QueueStanding, language: str | None = None) -> str:
    if standing.position is None:
        return ""
    if standing.expected_wait_s is None:
        if standing.position == 1:
            return text("handoff", language, "You're next in line.")
        return text("handoff", language, "You're number {position} in the queue.",
                    position=standing.position)
    wait = minutes(standing.expected_wait_s, language)
    if standing.position == 1:
        return text("handoff", language, "You're next in line; the expected wait is {wait}.",
                    wait=wait)
    return text("handoff", language,
                "You're number {position} in the queue; the expected wait is {wait}.",
                position=standing.position, wait=wait)


def update_text(standing: QueueStanding, language: str | None = None) -> str:
    return text("handoff", language, "Update on {ref}: {standing}", ref=standing.ref,
                standing=position_phrase(standing, language))


def reminder_text(standing: QueueStanding, language: str | None = None) -> str:
    """For a waiting customer who writes again."""
    return text("handoff", language, "You're still waiting for a person ({ref}). {standing}",
                ref=standing.ref, standing=position_phrase(standing, language)).strip()


def opening_phrase(opens_at: float | None, team: Team, language: str | None = None) -> str:
    """When the team opens, in its own time zone, with weekday and city in the
    customer's language: "from Monday 09:00 (London time)"."""
    if opens_at is None:
        return text("handoff", language, "as soon as we can")
    locale = supported(language)
    zone = ZoneInfo(team.timezone)
    local = datetime.fromtimestamp(opens_at, zone)
    return text("handoff", language, "from {day} {time} ({city} time)",
                day=format_datetime(local, "EEEE", locale=locale),
                time=format_datetime(local, "HH:mm", locale=locale),
                city=get_timezone_location(zone, locale=locale, return_city=True))
