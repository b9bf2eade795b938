"""Response models of the agent console's API (handoff/api.py): what each route
returns today, declared so /docs shows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.responses import CustomerProfile, EntryView
from handoff.models import QueueStanding, Ticket


class CustomerCard(BaseModel):
    """Who is behind a ticket, as its queue card says it (handoff/cards.py)."""

    name: str  # their name, else the channel's handle for them
    handle: str  # "Web visitor", a masked phone, a Slack name…; "" when it is the name
    channels: list[str]  # every channel they are known on, the ticket's included
    reason_label: str  # "Asked for a person"
    last_text: str  # the last thing they wrote, clipped (untrusted: show as text)


class TicketView(Ticket):
    """A ticket as the console shows it (Ticket.view)."""

    priority_name: str  # "normal", "high", "urgent"
    reason_label: str = ""  # the reason as people read it: "Asked for a person"
    card: CustomerCard | None = None  # in the queue lists (GET /api/agent/queue)


class QueuedTicket(TicketView):
    position: int  # 1 = next in its team's queue
    waiting_s: float


class HeldTicket(TicketView):
    waiting_s: float


class QueueView(BaseModel):
    queued: list[QueuedTicket]  # every team's waiting tickets, most urgent first
    mine: list[HeldTicket]
    others: list[TicketView]  # held by other agents
    presence: dict[str, str]  # agent -> "online", "away" or "offline"
    teams: dict[str, str]  # team key -> name


class Note(BaseModel):
    """An internal note on a ticket (never shown to the customer)."""

    model_config = ConfigDict(extra="allow")  # read back from a Redis stream

    author: str
    text: str
    ts: str  # seconds since the epoch, as stored


class TicketDetail(BaseModel):
    ticket: TicketView
    standing: QueueStanding
    customer: CustomerProfile
    transcript: list[EntryView]  # oldest first, every channel
    notes: list[Note]
    previous_tickets: list[TicketView]  # the customer's other tickets


class CannedAnswer(BaseModel):
    id: str
    title: str
    answer: str  # Markdown
    html: str = ""  # the answer rendered as the transcript renders it (safe HTML)
    language: str = "en"  # of this title and answer (one entry per language)


class Presence(BaseModel):
    agent: str
    status: str


class ChannelReport(BaseModel):
    conversations: int
    escalations: int
    containment_rate: float | None  # None: no conversations
    escalation_rate: float | None
    first_reply_avg_s: float | None
    handling_avg_s: float | None
    csat_avg: float | None
    csat_n: int
    sla_breached: int


class Report(BaseModel):
    """Containment, escalations, reply and handling times and CSAT over `days` days."""

    days: int
    conversations: int
    escalations: int
    containment_rate: float | None
    escalation_rate: float | None
    reasons: dict[str, int]  # escalation reason -> count
    first_reply_avg_s: float | None
    handling_avg_s: float | None
    csat_avg: float | None
    sla_breached: int
    per_channel: dict[str, ChannelReport]
