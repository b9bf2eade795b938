"""An in-memory channel that collects what would be sent: for tests and for
trying the router without any platform."""

from __future__ import annotations

from bot.channels.base import ChannelSendError, Recipient
from core.models import TranscriptEntry


class InMemoryChannel:
    def __init__(self, name: str = "web", fail_times: int = 0) -> None:
        self.name = name
        self.sent: list[tuple[Recipient, TranscriptEntry]] = []
        self.typing_events: list[tuple[Recipient, bool]] = []
        self.notices: list[tuple[Recipient, str, str]] = []
        self._fail_times = fail_times
        self.attempts = 0

    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        self.attempts += 1
        if self._fail_times > 0:
            self._fail_times -= 1
            raise ChannelSendError("simulated platform failure")
        self.sent.append((recipient, entry))

    async def typing(self, recipient: Recipient, on: bool) -> None:
        self.typing_events.append((recipient, on))

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        self.notices.append((recipient, level, text))

    async def close(self) -> None:
        return None  # nothing to release
