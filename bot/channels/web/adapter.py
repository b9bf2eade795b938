"""Web chat delivery: frames on the customer's live feed, which every open
widget of that customer is subscribed to. History replays on reconnect, so a
closed tab loses nothing."""

from __future__ import annotations

from bot.channels.base import Recipient
from bot.infra.live import LiveHub
from core.models import TranscriptEntry


class WebChatChannel:
    name = "web"

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub

    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        await self._hub.publish_entry(recipient.customer_id, entry)

    async def typing(self, recipient: Recipient, on: bool) -> None:
        await self._hub.publish(recipient.customer_id, {"type": "typing", "on": on})

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        await self._hub.publish(recipient.customer_id,
                                {"type": "notice", "level": level, "text": text})

    async def close(self) -> None:
        return None  # nothing to release
