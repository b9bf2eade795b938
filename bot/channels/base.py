"""What the router and the outbox need from a channel, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.models import TranscriptEntry


@dataclass(frozen=True)
class Recipient:
    customer_id: str
    channel_user_id: str


class ChannelAdapter(Protocol):
    name: str

    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        """Deliver one message; raise ChannelSendError to have the outbox retry."""

    async def typing(self, recipient: Recipient, on: bool) -> None:
        """Show or hide a typing indicator where the channel has one."""

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        """A transient status (e.g. 'there is a delay'); 'clear' removes it."""

    async def close(self) -> None:
        """Release the platform client (HTTP sessions); called once at shutdown."""


class ChannelSendError(Exception):
    """The platform did not take the message; the outbox retries it later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
