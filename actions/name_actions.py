"""action_remember_name: keep the customer's name in a slot; action_say_name:
say it back. Both answer in the customer's language (the `language` slot the
gateway sets), with texts from the `actions` catalogue.

Rasa's sender id is the customer id, so the slot follows the customer to every
channel they link. The name is parsed here with a pattern rather than by NLU
entity extraction: DIET's entity recognition is off (see config.yml) and names
are open-ended; a pattern is predictable and keeps anything but letters,
apostrophes and hyphens out of the slot (it is shown back in Markdown).
German phrasings ("ich heiße Anna", "ich bin der Jonas", "nennen Sie mich Max")
are parsed whatever the slot says: customers mix languages."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from core.i18n import text

_WORD = r"[^\W\d_][^\W\d_'\-]*(?:['\-][^\W\d_]+)*"
_LEAD = re.compile(
    r"\b(?:my (?:first )?name(?:'s| is)|name's|the name is|i'?m called|i am called|"
    r"(?:you can )?call me|"
    # German: "ich heiße", "mein (Vor)name ist", "ich bin (der|die)", "nenn(t) mich",
    # "hier ist/spricht" (before the English "i'm", which would match "im").
    r"ich hei(?:ß|ss)e?|mein (?:vor)?name ist|ich bin(?: der| die)?|"
    r"(?:man )?nennt? mich|nennen sie mich|hier (?:ist|spricht)|"
    r"i'?m|i am|it'?s|this is)\s+(" + _WORD + r")(?:\s+(" + _WORD + r"))?",
    re.IGNORECASE)
# "Sie können mich Petra nennen", "du kannst mich Max nennen"
_CALL_ME_DE = re.compile(r"\bmich\s+(" + _WORD + r")(?:\s+(" + _WORD + r"))?\s+nennen\b",
                         re.IGNORECASE)
_HERE = re.compile(r"^\s*(" + _WORD + r")\s+(?:here|hier)\b", re.IGNORECASE)
# Words that follow a name without being part of it ("I'm Ada and ...").
_NOT_NAMES = {"and", "but", "here", "from", "with", "please", "thanks", "i", "my", "a", "the",
              "looking", "trying", "calling", "writing", "not", "so", "just", "again"}
_NOT_NAMES |= {"und", "aber", "hier", "von", "aus", "mit", "bitte", "danke", "ich", "mein",
               "meine", "der", "die", "das", "ein", "eine", "nicht", "so", "nur", "wieder",
               "auf", "am", "im", "in", "auch", "noch", "schon", "gerade", "grad", "kunde",
               "kundin", "neu", "sehr", "echt", "total", "ja", "nein", "wegen"}
MAX_NAME_CHARS = 40


def parse_name(text: str) -> str | None:
    """The name in "my name is Ada", "I'm Ada Lovelace", "call me ada", "Ada here"."""
    match = _LEAD.search(text) or _CALL_ME_DE.search(text) or _HERE.search(text)
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
        language = tracker.get_slot("language")
        name = parse_name((tracker.latest_message or {}).get("text") or "")
        if name is None:
            dispatcher.utter_message(text=text(
                "actions", language,
                "Sorry, I didn't catch your name. You can say, for example, \"my name is Sam\"."))
            return []
        dispatcher.utter_message(text=text("actions", language,
                                           "Nice to meet you, {name}! How can I help?",
                                           name=name))
        return [SlotSet("customer_name", name)]


class ActionSayName(Action):
    def name(self) -> str:
        return "action_say_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        language = tracker.get_slot("language")
        name = tracker.get_slot("customer_name")
        if not name:
            dispatcher.utter_message(text=text(
                "actions", language,
                "I don't know your name yet. You can tell me, for example \"my name is Sam\"."))
        else:
            dispatcher.utter_message(text=text("actions", language,
                                               "You're {name}! How can I help?", name=name))
        return []
