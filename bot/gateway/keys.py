"""The gateway's Redis keys: the inbound and outbox streams, their
deduplication and progress keys, the delay notice, and the language Rasa
last heard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class GatewayKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "outbox_done": "a delivered-flag named by the outbox entry's random id; expires",
    }

    # -- inbound ---------------------------------------------------------------------
    @property
    def inbound_stream(self) -> str:
        return f"{self.prefix}:inbound"

    @property
    def inbound_dead(self) -> str:
        return f"{self.prefix}:inbound:dead"

    def inbound_seen(self, channel: str, external_id: str) -> str:
        return f"{self.prefix}:seen:{channel}:{external_id}"

    def inbound_progress(self, stream_id: str) -> str:
        return f"{self.prefix}:progress:{stream_id}"

    def delay_notice(self, customer_id: str) -> str:
        """Set while the customer was told the assistant is slow (expires)."""
        return f"{self.customer_tag(customer_id)}:delay-notice"

    def rasa_language(self, customer_id: str) -> str:
        """Hash: Rasa sender id -> the `language` slot that Rasa conversation last
        heard from the gateway (expires; re-sent after that)."""
        return f"{self.customer_tag(customer_id)}:rasa-language"

    # -- outbox ----------------------------------------------------------------------
    @property
    def outbox_stream(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def outbox_dead(self) -> str:
        return f"{self.prefix}:outbox:dead"

    def outbox_done(self, outbox_id: str) -> str:
        return f"{self.prefix}:outbox:done:{outbox_id}"


GATEWAY_KEYS = GatewayKeys()
