"""Rasa's own keys (endpoints.yml: RedisTrackerStore / RedisLockStore, prefix "rasa")."""

from __future__ import annotations

from dataclasses import dataclass

from core.keys import KeySpace


@dataclass(frozen=True)
class RasaKeys(KeySpace):
    prefix: str = "rasa"

    def rasa_tracker(self, sender_id: str) -> str:
        """Rasa's tracker of one conversation; its sender id is our customer id."""
        return f"{self.prefix}:tracker:{sender_id}"

    def rasa_lock(self, sender_id: str) -> str:
        return f"{self.prefix}:lock:{sender_id}"


RASA_KEYS = RasaKeys()
