"""Response models of the customer API (bot/customers/api.py): what each route
returns today, declared so /docs shows it."""

from __future__ import annotations

from pydantic import BaseModel

from core.models import TranscriptEntry
from core.responses import ChannelUser, Identity, MergeRecord, VerifiedAttributeRecord


class CustomerFound(BaseModel):
    customer_id: str


class CustomerTranscript(BaseModel):
    customer_id: str
    entries: list[TranscriptEntry]  # oldest first, across channels


class Merged(BaseModel):
    customer_id: str
    merged: str  # the customer that went away
    identities: list[str]  # "<channel>:<user id>" that moved
    entries_copied: int


class Unmerged(BaseModel):
    customer_id: str
    restored: str
    identities: list[str]
    entries_removed: int


class ReplyChannel(BaseModel):
    customer_id: str
    pinned: bool
    reply_target: ChannelUser


class CustomerLanguage(BaseModel):
    customer_id: str
    language: str  # en | de
    source: str | None  # detected | customer | widget | agent


class ExportedCustomer(BaseModel):
    """Everything stored about one customer."""

    customer_id: str
    profile: dict[str, str]  # the customer's hash as stored
    language: dict[str, str] = {}  # the customer's language as stored: language, source, at
    identities: list[Identity]
    verified_attributes: list[VerifiedAttributeRecord]
    merges: list[MergeRecord]
    owner: str | None  # who holds the conversation: the bot, the queue or an agent
    transcript: list[TranscriptEntry]
    tickets: list[dict[str, str]]  # each ticket's hash as stored, with its "ref"
    assistant_memory: dict | None  # the assistant's tracker, as stored
    sms_opted_out: list[str]


class CustomerExport(BaseModel):
    customer_id: str
    exported_at: float
    customers: list[ExportedCustomer]  # the customer and everyone merged into them
