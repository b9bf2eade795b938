"""Rasa's own keys (endpoints.yml: RedisTrackerStore / RedisLockStore, prefix "rasa"),
and the record of which Rasa conversation holds a customer's current session
(bot/rasa_store/sessions.py)."""

from __future__ import annotations

from dataclasses import dataclass

from core.keys import KeySpace

SESSION_SEPARATOR = "~"


def session_sender(customer_id: str, session: int) -> str:
    """Rasa's sender id of one session of a customer: the customer id itself for
    the first (so conversations from before sessions stay where they were),
    `<customer id>~<n>` for the n-th after it."""
    return customer_id if session == 0 else f"{customer_id}{SESSION_SEPARATOR}{session}"


def customer_of_sender(sender_id: str) -> str:
    return sender_id.split(SESSION_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class RasaKeys(KeySpace):
    prefix: str = "rasa"

    def rasa_tracker(self, sender_id: str) -> str:
        """Rasa's tracker of one conversation: one session of a customer
        (session_sender)."""
        return f"{self.prefix}:tracker:{sender_id}"

    def rasa_lock(self, sender_id: str) -> str:
        return f"{self.prefix}:lock:{sender_id}"

    def rasa_session(self, customer_id: str) -> str:
        """Hash: `n` the customer's current session, `at` when its last turn
        started, `carry` the session whose slots the current one is still to
        inherit, `end` set when a person resolved the conversation (the next turn
        starts a new session). Ours, next to Rasa's keys in Rasa's Redis."""
        return f"{self.prefix}:session:{customer_id}"


RASA_KEYS = RasaKeys()
