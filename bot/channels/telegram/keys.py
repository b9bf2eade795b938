"""The Telegram channel's Redis keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class TelegramKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "telegram_callback": "a bot button's payload, named by its hash; nothing the user sent",
        "telegram_direct_reply": "a flag named by Telegram's update id; no user id or text",
    }

    def telegram_callback(self, token: str) -> str:
        """Button payloads too long for Telegram's 64-byte callback_data."""
        return f"{self.prefix}:tg:callback:{token}"

    def telegram_direct_reply(self, update_id: str) -> str:
        """Set once a non-text update got its direct reply, so a redelivery does not repeat it."""
        return f"{self.prefix}:tg:replied:{update_id}"

    def telegram_sent_parts(self, entry_key: str) -> str:
        """How many Telegram messages of a long, split entry went out (no resend on retry);
        `entry_key` starts with the chat id."""
        return f"{self.prefix}:tg:sent-parts:{entry_key}"


TELEGRAM_KEYS = TelegramKeys()
