"""Twilio SMS webhooks to inbound messages, pure: opt-out keywords (STOP,
START, HELP), numbered options chosen by digit, media-only messages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from twilio.twiml.messaging_response import MessagingResponse

from bot import BadInput
from bot.channels.sms.render import option_numbers
from bot.gateway.inbound import clean_text
from core.i18n import N_
from core.models import Button, InboundMessage

log = logging.getLogger(__name__)


INBOUND_PATH = "/channels/sms/inbound"
EMPTY_TWIML = str(MessagingResponse())  # '<?xml ...?><Response />'
MAX_WEBHOOK_BYTES = 64 * 1024  # a Twilio SMS webhook is a few hundred bytes
OPTIONS_TTL_S = 24 * 3600
HANDLED_TTL_S = 24 * 3600
SENT_PARTS_TTL_S = 7 * 24 * 3600  # as long as the outbox remembers a delivered id
SEND_TIMEOUT_S = 10.0
ERROR_UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"

# Carrier keywords (CTIA; Twilio's defaults), matched against the whole trimmed message.
CARRIER_STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
CARRIER_START_WORDS = frozenset({"START", "UNSTOP"})
YES = "YES"  # opts back in only while opted out; otherwise it is an answer to the bot
CARRIER_HELP_WORDS = frozenset({"HELP", "INFO"})
# German customers' words for the same. Twilio's opt-out handling does not know
# them, so the gateway always answers these itself (STOP and START stay what
# carriers require, and work in German too).
GERMAN_STOP_WORDS = frozenset({"STOPP", "ABMELDEN"})
GERMAN_HELP_WORDS = frozenset({"HILFE"})
STOP_WORDS = CARRIER_STOP_WORDS | GERMAN_STOP_WORDS
START_WORDS = CARRIER_START_WORDS
HELP_WORDS = CARRIER_HELP_WORDS | GERMAN_HELP_WORDS
CARRIER_WORDS = CARRIER_STOP_WORDS | CARRIER_START_WORDS | CARRIER_HELP_WORDS | {YES}

# Our own answers to the keywords (English msgids of the channels catalogue),
# sent with FRONTDOOR_SMS_OWN_KEYWORD_REPLIES (numbers whose Twilio opt-out
# handling is off), and always for the German words; otherwise Twilio answers.
OPT_OUT_TEXT = N_("You have been unsubscribed from Brightside messages. "
                  "Reply START to resubscribe.")
OPT_IN_TEXT = N_("You have been resubscribed to Brightside messages. "
                 "Reply HELP for help or STOP to unsubscribe.")
HELP_TEXT = N_("Brightside help: text us your question and we'll answer. To talk to a person "
               "call 0800 555 0142 or email help@brightside.example. Reply STOP to unsubscribe.")
MEDIA_ONLY_TEXT = N_("Sorry, we can only read text messages. Please type your question.")

Keyword = Literal["stop", "start", "help"]


# -- pure: inbound ----------------------------------------


def carrier_answers(body: str) -> bool:
    """Whether Twilio's default opt-out handling answers this keyword itself."""
    return body.strip().upper() in CARRIER_WORDS


def keyword(body: str, opted_out: bool) -> Keyword | None:
    word = body.strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS or (word == YES and opted_out):
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


def to_inbound(params: Mapping[str, str], options: Sequence[Button] = (),
               max_chars: int = 2000) -> InboundMessage:
    """A verified Twilio webhook as an InboundMessage. A bare number that
    matches one of the options last offered to this phone is that button.
    Raises BadInput for what cannot go to the assistant."""
    sid, phone = params.get("MessageSid", ""), params.get("From", "")
    if not sid or not phone:
        raise BadInput("malformed", "MessageSid and From are required.")
    body = params.get("Body", "")
    if not body.strip() and _num_media(params) > 0:
        raise BadInput("unsupported", MEDIA_ONLY_TEXT)  # a picture without words
    choice = _chosen(body, options)
    if choice is not None:
        return InboundMessage(channel="sms", channel_user_id=phone, external_id=sid,
                              text=clean_text(choice.title, max_chars),
                              button_payload=choice.payload)
    return InboundMessage(channel="sms", channel_user_id=phone, external_id=sid,
                          text=clean_text(body, max_chars))


def _chosen(body: str, options: Sequence[Button]) -> Button | None:
    choice = body.strip()
    if not re.fullmatch(r"[1-9][0-9]?", choice):
        return None
    numbers = option_numbers([option.title for option in options])
    return options[numbers.index(int(choice))] if int(choice) in numbers else None


def _num_media(params: Mapping[str, str]) -> int:
    try:
        return int(params.get("NumMedia", "0") or 0)
    except ValueError:
        return 0
