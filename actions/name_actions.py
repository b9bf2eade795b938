"""action_remember_name: keep the customer's name in a slot.

Rasa's sender id is the customer id, so the slot follows the customer to every
channel they link. The name is parsed here with a pattern rather than by NLU
entity extraction: DIET's entity recognition is off (see config.yml) and names
are open-ended; a pattern is predictable and keeps anything but letters,
apostrophes and hyphens out of the slot (it is shown back in Markdown)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

_WORD = r"[^\W\d_][^\W\d_'\-]*(?:['\-][^\W\d_]+)*"
_LEAD = re.compile(
    r"\b(?:my (?:first )?name(?:'s| is)|name's|the name is|i'?m called|i am called|"
    r"(?:you can )?call me|i'?m|i am|it'?s|this is)\s+(" + _WORD + r")(?:\s+(" + _WORD + r"))?",
    re.IGNORECASE)
_HERE = re.compile(r"^\s*(" + _WORD + r")\s+here\b", re.IGNORECASE)
# Words that follow a name without being part of it ("I'm Ada and ...").
_NOT_NAMES = {"and", "but", "here", "from", "with", "please", "thanks", "i", "my", "a", "the",
              "looking", "trying", "calling", "writing", "not", "so", "just", "again"}
MAX_NAME_CHARS = 40


def parse_name(text: str) -> str | None:
    """The name in "my name is Ada", "I'm Ada Lovelace", "call me ada", "Ada here"."""
    match = _LEAD.search(text) or _HERE.search(text)
    if match is None:
        return None
    words = [w for w in match.groups() if w]
    if words[0].lower() in _NOT_NAMES:
        return None
    if len(words) > 1 and (words[1].lower() in _NOT_NAMES or not words[1][0].isupper()):
        words = words[:1]
    name = " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in words)
    return name[:MAX_NAME_CHARS]


class ActionRememberName(Action):
    def name(self) -> str:
        return "action_remember_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        name = parse_name((tracker.latest_message or {}).get("text") or "")
        if name is None:
            dispatcher.utter_message(text="Sorry, I didn't catch your name. You can say, "
                                          "for example, \"my name is Sam\".")
            return []
        dispatcher.utter_message(text=f"Nice to meet you, {name}! How can I help?")
        return [SlotSet("customer_name", name)]
