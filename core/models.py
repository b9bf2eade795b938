"""The messages and transcript entries every package speaks.

They are frozen pydantic models so they validate on the way in from Redis or
the wire and can be handed between tasks without defensive copies.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["web", "telegram", "slack", "sms"]
Author = Literal["customer", "bot", "agent", "system"]

# Conversation owners (docs/architecture.md#owner). While the owner is not BOT, Rasa never sees
# the customer's messages.
OWNER_BOT = "bot"
OWNER_QUEUE = "queue"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Button(Frozen):
    title: str
    payload: str


class ArticleRef(Frozen):
    """Which knowledge article (and which version of it) a bot message showed."""

    id: str
    version: int
    title: str = ""
    language: str = "en"  # the language the customer was shown it in


class VerifiedAttribute(Frozen):
    """A phone number or email address the platform itself proved belongs to the
    sender (never something the customer typed): see bot/customers/verified.py."""

    kind: Literal["phone", "email"]
    value: str


class InboundMessage(Frozen):
    """A customer's message, normalised from any channel."""

    channel: Channel
    channel_user_id: str
    external_id: str  # the channel's own message id; (channel, external_id) is unique
    text: str = ""
    button_payload: str | None = None  # set when the customer pressed a button
    display_name: str | None = None
    locale: str | None = None
    received_at: float = Field(default_factory=time.time)
    # Set only by channel adapters, from what the platform vouches for.
    verified: tuple[VerifiedAttribute, ...] = ()
    # A Telegram contact of the user's own, shared instead of text: the gateway
    # answers it (linking by phone number); the assistant never sees it.
    shared_contact: bool = False


class OutboundMessage(Frozen):
    """One assistant (or agent/system) message for one customer on one channel."""

    text: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    article: ArticleRef | None = None
    decision: str | None = None  # knowledge policy outcome, when the knowledge action spoke
    author: Author = "bot"


class TranscriptEntry(Frozen):
    """One line of a customer's transcript, across every channel."""

    id: str = ""  # the Redis stream id, assigned on append
    ts: float = Field(default_factory=time.time)
    channel: Channel
    author: Author
    text: str
    buttons: tuple[Button, ...] = ()
    article: ArticleRef | None = None
    decision: str | None = None  # knowledge policy outcome: answer / clarify / fallback
    client_id: str | None = None  # web chat: the widget's id for the message it sent
    language: str | None = None  # a customer message's detected language (None: unsure)
    # Read from the transcript stream, never stored in the body: the customer
    # this entry was copied from when their transcript was merged in.
    merged_from: str | None = None
