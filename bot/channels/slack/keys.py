"""The Slack channel's Redis keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class SlackKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "slack_handled_event": "a flag named by Slack's event id; no user id or text",
        "slack_request_seen": "a flag named by a request signature (replay protection)",
        "slack_sent_parts": "a count named by a transcript entry id; no user id or text",
    }

    def _user(self, user_id: str) -> str:
        """`fd:slack:{<user id>}`: a user's cached profile, one slot (read with one MGET)."""
        return f"{self.prefix}:slack:{{{user_id}}}"

    def slack_handled_event(self, event_id: str) -> str:
        return f"{self.prefix}:slack:event:{event_id}"

    def slack_reply_to(self, user_id: str) -> str:
        """Where replies to a Slack user go: their DM, or the thread they mentioned us in."""
        return f"{self.prefix}:slack:reply-to:{user_id}"

    def slack_request_seen(self, signature: str) -> str:
        """A signed request already taken (replay protection within the 5-minute window)."""
        return f"{self.prefix}:slack:request:{signature}"

    def slack_user_name(self, user_id: str) -> str:
        """Cached display name from users.info."""
        return f"{self._user(user_id)}:name"

    def slack_user_email(self, user_id: str) -> str:
        """Cached profile email from users.info (Slack verified it); "" when none."""
        return f"{self._user(user_id)}:email"

    def slack_pressed(self, channel_id: str, message_ts: str) -> str:
        """A bot message whose buttons were already pressed once."""
        return f"{self.prefix}:slack:pressed:{channel_id}:{message_ts}"

    def slack_sent_parts(self, entry_id: str) -> str:
        """How many Slack messages of a long, split entry went out (no resend on retry)."""
        return f"{self.prefix}:slack:sent-parts:{entry_id}"


SLACK_KEYS = SlackKeys()
