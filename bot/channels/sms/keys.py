"""The SMS channel's Redis keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class SmsKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "sms_handled": "a flag named by the carrier's message SID; no number or text",
    }
    kept: ClassVar[dict[str, str]] = {
        "sms_opted_out": "carriers require that a number that texted STOP is never messaged "
                         "again until it texts START; erasing the flag would let the next "
                         "agent reply reach a phone that refused us",
    }

    def sms_options(self, phone: str) -> str:
        """The numbered options last offered to a phone ("reply 1, 2 or 3")."""
        return f"{self.prefix}:sms:options:{phone}"

    def sms_opted_out(self, phone: str) -> str:
        return f"{self.prefix}:sms:opted-out:{phone}"

    def sms_handled(self, message_sid: str) -> str:
        """An inbound SMS the gateway answered itself (STOP/START/HELP, media only):
        set once, so a redelivered webhook is not answered twice."""
        return f"{self.prefix}:sms:handled:{message_sid}"

    def sms_sent_parts(self, entry_key: str) -> str:
        """How many SMS of a long, split entry went out (no resend on retry);
        `entry_key` starts with the phone number."""
        return f"{self.prefix}:sms:sent-parts:{entry_key}"


SMS_KEYS = SmsKeys()
