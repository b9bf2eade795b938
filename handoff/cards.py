"""What a queue card says about the customer behind a ticket, so an agent can
choose before claiming: who (a name, else the channel's handle for them), on
which channels, why, what they asked last.

Pure: the facts come from the gateway through the `Gateway` port
(handoff/ports.py, `customer_card`); this module only decides how they read.
Customer text stays text here: the console shows it with textContent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handoff.models import Ticket

LAST_TEXT_CHARS = 160  # what fits a card's two lines; the whole text is in the transcript
CHANNEL_ORDER = ("web", "telegram", "slack", "sms")
CHANNEL_NAMES = {"web": "Web chat", "telegram": "Telegram", "slack": "Slack", "sms": "SMS"}

# Every escalation reason the product records (actions/handoff_actions.py and
# actions/knowledge_actions.py), as an agent or an operator reads it; a
# human-only topic is "topic:<tag>". Unknown keys read as their words.
REASON_LABELS = {
    "asked_for_human": "Asked for a person",
    "repeated_fallback": "The assistant could not answer",
    "fallback": "The assistant could not answer",
    "negative_sentiment": "Upset customer",
    "sentiment": "Upset customer",
    "returning": "Returning customer",
    "offer_accepted": "Accepted the offer of a person",
}
TOPIC_LABELS = {"complaint": "Complaint", "cancellation": "Cancellation"}


def reason_label(reason: str) -> str:
    """`asked_for_human` -> "Asked for a person"; `topic:complaint` -> "Needs a
    person: Complaint"; an unknown key reads as its words."""
    if reason in REASON_LABELS:
        return REASON_LABELS[reason]
    if reason.startswith("topic:"):
        topic = reason.split(":", 1)[1]
        return f"Needs a person: {TOPIC_LABELS.get(topic, _words(topic))}"
    return _words(reason) or "Unknown"


def _words(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def mask_phone(number: str) -> str:
    """+4915112345678 -> "+49 ••• 5678": enough to tell two customers apart,
    not enough to call them from a screenshot."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 6:
        return "•••"
    prefix = "+" + digits[:2] if number.strip().startswith("+") else digits[:2]
    return f"{prefix} ••• {digits[-4:]}"


def handle(channel: str, channel_user_id: str, display_name: str = "") -> str:
    """How a channel knows the person: the Telegram name (the channel gives
    the @username when a user has no name), the Slack name, a masked phone for
    SMS, "Web visitor" for web chat."""
    if channel == "sms":
        return mask_phone(channel_user_id)
    if channel == "web":
        return "Web visitor"
    if channel == "telegram":
        return display_name or "Telegram user"
    if channel == "slack":
        return display_name or "Slack user"
    return display_name or channel


def clip(text: str, limit: int = LAST_TEXT_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word where it can be."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip(" ,.;:") + "…"


def card(ticket: Ticket, facts: dict) -> dict:
    """The card's view of the customer. `facts` is the gateway's
    `customer_card`: {display_name, identities: [{channel, channel_user_id}],
    last_text, last_channel}."""
    identities = facts.get("identities") or []
    channels = sorted({i["channel"] for i in identities} | {ticket.channel},
                      key=lambda c: CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 99)
    name = (ticket.display_name or facts.get("display_name") or "").strip()
    main = facts.get("last_channel") or ticket.channel
    mine = [i for i in identities if i["channel"] == main] or \
        [i for i in identities if i["channel"] == ticket.channel]
    handle_text = handle(main, mine[0]["channel_user_id"], name) if mine \
        else handle(ticket.channel, "", name)
    last_text = facts.get("last_text") or ticket.summary.last_customer_text
    shown = name or handle_text
    return {
        "name": shown,
        "handle": handle_text if handle_text != shown else "",
        "channels": channels,
        "reason_label": reason_label(ticket.reason),
        "last_text": clip(last_text) if last_text else "",
    }
