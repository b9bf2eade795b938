"""Customers who already have N earlier messages, for `frontdoor bench chat
--history N`, written through the product's own interfaces rather than as
hand-made keys:

- the front door's transcript: `TranscriptStore.append`, as the router writes it;
- Rasa's memory: Rasa's HTTP tracker events API (`POST /conversations/<sender>/
  tracker/events`), into the conversation the gateway would use for the
  customer's next turn (`RasaClient.sender_id`).

The events are those of a real conversation (the utterance script once,
through Rasa), repeated with earlier timestamps: one Rasa session per script
(as after an idle hour each time), all in the one conversation a customer had
before Rasa sessions were split (the worst case: today's loyal customer). One
POST per customer, so 5,000 messages load in seconds, where replaying them turn
by turn would take minutes per customer.

N counts transcript messages, the customer's and the bot's."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import httpx

from bot.customers.transcript import TranscriptStore
from core.models import TranscriptEntry

SESSION_GAP_S = 2 * 3600  # between two repeats of the script: a new Rasa session each
TURN_GAP_S = 10.0


@dataclass(frozen=True)
class Template:
    """A real conversation's events: the session start, then one list per turn."""

    head: list[dict]
    turns: list[list[dict]]

    @classmethod
    def from_events(cls, events: list[dict]) -> Template:
        users = [i for i, e in enumerate(events) if e.get("event") == "user"]
        if not users:
            raise ValueError("the template conversation has no user message")
        starts = [i for i, e in enumerate(events[:users[0]])
                  if e.get("event") == "action" and e.get("name") == "action_session_start"]
        head = events[starts[-1] if starts else 0:users[0]]
        ends = [*users[1:], len(events)]
        return cls(head, [events[a:b] for a, b in zip(users, ends, strict=True)])


@dataclass(frozen=True)
class History:
    events: list[dict]  # for Rasa's tracker events API
    entries: list[TranscriptEntry]  # for the front door's transcript


def build_history(template: Template, messages: int, now: float | None = None) -> History:
    """At least `messages` transcript messages (whole turns), ending a day ago."""
    now = time.time() if now is None else now
    picked: list[list[dict]] = []
    count = 0
    while count < messages:
        turn = template.turns[len(picked) % len(template.turns)]
        picked.append(turn)
        count += sum(1 for e in turn if e.get("event") in ("user", "bot"))
    per_session = len(template.turns)
    sessions = -(-len(picked) // per_session)
    t = now - 86400 - sessions * SESSION_GAP_S - (len(picked) + 1) * TURN_GAP_S
    events: list[dict] = []
    entries: list[TranscriptEntry] = []
    for k, turn in enumerate(picked):
        if k % per_session == 0:
            t += SESSION_GAP_S
            for event in template.head:
                events.append(_at(event, t))
        t += TURN_GAP_S
        for j, event in enumerate(turn):
            stamp = t + j * 0.01
            events.append(_at(event, stamp))
            if event.get("event") == "user":
                entries.append(TranscriptEntry(ts=stamp, channel="web", author="customer",
                                               text=event.get("text") or ""))
            elif event.get("event") == "bot" and event.get("text"):
                entries.append(TranscriptEntry(ts=stamp, channel="web", author="bot",
                                               text=event["text"]))
    return History(events, entries)


def _at(event: dict, timestamp: float) -> dict:
    copied = copy.deepcopy(event)
    copied["timestamp"] = timestamp
    return copied


async def load_history(http: httpx.AsyncClient, rasa_url: str, token: str, sender: str,
                       customer_id: str, transcripts: TranscriptStore, history: History
                       ) -> None:
    """Write `history` for one customer: Rasa's conversation `sender`, and the
    transcript."""
    response = await http.post(f"{rasa_url}/conversations/{sender}/tracker/events",
                               params={"token": token, "include_events": "NONE"},
                               json=history.events, timeout=600)
    response.raise_for_status()
    for entry in history.entries:
        await transcripts.append(customer_id, entry)
