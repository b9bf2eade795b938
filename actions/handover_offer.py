"""The offer of a person after repeated misses (issue 16 item 2): instead of
handing over unasked, the assistant asks "Shall I pass you to a person, or
would you like to rephrase?" with two buttons. A ticket is opened only when the
customer accepts (the button, or a "yes" to the offer), asks for a person in
their own words, or a human-only topic comes up (docs/handoff.md)."""

from __future__ import annotations

from rasa_sdk import Tracker

from core.i18n import text
from knowledge.answers.replies import Reply

# The payloads are intents: the button press reaches Rasa as that intent.
TALK_TO_PERSON_PAYLOAD = "/request_human"
REPHRASE_PAYLOAD = "/rephrase"


def offer_reply(repeat: int, language: str | None) -> Reply:
    """The offer after a miss; `repeat` counts the offers made in a row before
    this one. The wording alternates so a customer who keeps trying does not
    read the same sentence again and again; from the second offer on, every
    other one leads with the person."""
    if repeat % 2 == 0:
        said = text("actions", language, "I couldn't find that. Shall I pass you to a person, "
                                         "or would you like to rephrase?")
    else:
        said = text("actions", language, "I still couldn't find an answer to that. A person "
                                         "on our team can help: shall I pass you over? Or "
                                         "try putting it another way.")
    buttons = [
        {"title": text("actions", language, "Talk to a person"),
         "payload": TALK_TO_PERSON_PAYLOAD},
        {"title": text("actions", language, "I'll rephrase"), "payload": REPHRASE_PAYLOAD},
    ]
    return Reply(text=said, buttons=buttons, note={"decision": "fallback", "offer": True})


def person_was_offered(tracker: Tracker) -> bool:
    """Whether the assistant's last message offered a person (so a
    "yes" accepts and a "no" declines it)."""
    for event in reversed(tracker.events):
        if event.get("event") != "bot":
            continue  # the assistant's last message is the one the customer answers
        note = ((event.get("data") or {}).get("custom") or {}).get("frontdoor") or {}
        return bool(note.get("offer"))
    return False


def offered_for(tracker: Tracker) -> str | None:
    """The customer's message that the assistant's last message (an offer of a
    person) answered; None when the last message was no offer, or the message
    was a button press."""
    offer_seen = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "bot" and not offer_seen:
            note = ((event.get("data") or {}).get("custom") or {}).get("frontdoor") or {}
            if not note.get("offer"):
                return None
            offer_seen = True
        elif kind == "user" and offer_seen:
            said = (event.get("text") or "").strip()
            return None if not said or said.startswith("/") else said
    return None
