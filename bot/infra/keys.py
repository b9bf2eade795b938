"""The live hub's pub/sub channels (bot/infra/live.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class LiveKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "live": "a pub/sub channel: messages pass through, nothing is stored",
        "live_log": "a pub/sub channel: messages pass through, nothing is stored",
    }

    def live(self, customer_id: str) -> str:
        """Pub/sub channel carrying live frames (entries, typing, notices) for one customer."""
        return f"{self.prefix}:live:{{{customer_id}}}"

    def live_log(self, customer_id: str) -> str:
        """Pub/sub channel of every transcript entry of one customer, for the agent
        console (whatever the channel; the customer's own live channel only
        carries what their web chat shows)."""
        return f"{self.prefix}:live:{{{customer_id}}}:log"


LIVE_KEYS = LiveKeys()
