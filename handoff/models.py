"""Tickets and what the console and the customer are told about them."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.cards import reason_label

TicketStatus = Literal["queued", "claimed", "resolved"]
PRIORITY_NAMES = {1: "normal", 2: "high", 3: "urgent"}


class Summary(BaseModel):
    """What the assistant understood before it handed over (from the Rasa tracker)."""

    model_config = ConfigDict(frozen=True)

    intents: list[str] = []
    slots: dict[str, object] = {}
    articles_tried: list[dict] = []  # {id, version, title, decision}
    last_customer_text: str = ""


class Ticket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: str
    customer_id: str
    status: TicketStatus
    reason: str
    priority: int = 1
    team: str
    channel: str  # where the customer escalated from
    display_name: str = ""
    language: str | None = None  # the customer's language when they escalated (en | de)
    created_at: float
    sla_due_at: float
    claimed_at: float | None = None
    agent: str | None = None
    first_reply_at: float | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    requeues: int = 0
    csat: int | None = None
    summary: Summary = Field(default_factory=Summary)

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Ticket:
        fields = dict(raw)
        summary = json.loads(fields.pop("summary", "{}") or "{}")
        clean = {k: v for k, v in fields.items() if v != "" and k in cls.model_fields}
        return cls.model_validate({**clean, "summary": summary})

    def to_hash(self) -> dict[str, str]:
        data = self.model_dump(exclude={"summary"}, exclude_none=True)
        return {**{k: str(v) for k, v in data.items()},
                "summary": self.summary.model_dump_json()}

    def view(self) -> dict:
        """What the console shows in the queue (JSON-safe)."""
        return {**self.model_dump(), "priority_name": PRIORITY_NAMES.get(self.priority,
                                                                         str(self.priority)),
                "reason_label": reason_label(self.reason)}


class QueueStanding(BaseModel):
    """Where a waiting customer stands, as they are told it."""

    ref: str
    position: int | None  # 1 = next; None once claimed or resolved
    expected_wait_s: float | None
    team_open: bool
    agents_online: int
    opens_at: float | None = None  # when the team opens next, if closed
