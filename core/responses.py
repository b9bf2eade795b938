"""Response models shared by more than one package: staff users, transcript
entries as the web shows them, and a customer's profile (the gateway serves it
to handoff/ through its port). Routes declare them with `response_model=` so
/docs shows every JSON shape; they describe what the code returns today.

Records stored as JSON in Redis (a linked identity, a verified attribute, a
merge) are TypedDicts: their optional keys are absent rather than null, and any
other key a record carries passes through (extra="allow").
"""

from __future__ import annotations

from typing import NotRequired

from pydantic import BaseModel, ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from core.models import ArticleRef, Author, Button, Channel


class StaffUserView(BaseModel):
    """A staff account as the API shows it (never the password hash)."""

    username: str
    display_name: str
    roles: list[str]
    created_at: float


class EntryView(BaseModel):
    """A transcript entry as the web shows it (bot/rendering/web.py entry_view):
    what a bot or agent wrote also comes as sanitised HTML."""

    model_config = ConfigDict(extra="allow")  # read back from stored JSON

    id: str
    ts: float
    channel: Channel
    author: Author
    text: str
    buttons: list[Button] = []
    article: ArticleRef | None = None
    decision: str | None = None
    client_id: str | None = None
    language: str | None = None  # a customer message's detected language (en | de)
    html: str | None


@with_config(ConfigDict(extra="allow"))
class Identity(TypedDict):
    """A channel identity linked to a customer, and how it got there."""

    channel: str
    channel_user_id: str
    linked_at: float
    how: str  # "first_contact", "code", "verified", "agent", ...
    by: NotRequired[str]  # the staff member who linked it
    first_seen: NotRequired[float]  # when it was first linked, if it moved since


@with_config(ConfigDict(extra="allow"))
class VerifiedAttributeRecord(TypedDict):
    """A phone number or email address the platform proved belongs to the customer."""

    kind: str
    value: str
    source: str
    verified_at: float


@with_config(ConfigDict(extra="allow"))
class MergeRecord(TypedDict):
    """A customer merged into another, as stored (an unmerge reads it back)."""

    source: str
    target: str
    how: str
    by: str | None
    at: float
    identities: list[str]  # "<channel>:<user id>" that moved
    attributes: list[str]  # verified attributes the target did not have
    entries: int  # transcript entries copied


class ChannelUser(BaseModel):
    channel: str
    channel_user_id: str


class PinnedChannel(BaseModel):
    channel: str
    channel_user_id: str | None


class MergedFrom(BaseModel):
    customer_id: str
    at: float
    how: str
    by: str | None
    identities: list[str]
    entries: int


class CustomerProfile(BaseModel):
    """Profile, verified attributes, linked identities and merges of a customer."""

    customer_id: str
    display_name: str
    created_at: float | None
    first_channel: str | None
    last_channel: str | None
    last_seen: float | None
    merged_into: str | None
    reply_channel: PinnedChannel | None  # pinned by an agent
    reply_target: ChannelUser | None  # where a reply goes now
    identities: list[Identity]
    verified_attributes: list[VerifiedAttributeRecord]
    merged_from: list[MergedFrom]
    tickets: list[str]
    language: str = "en"  # the customer's language (bot/customers/language.py)
    language_source: str | None = None  # detected | customer | widget | agent; None: default
