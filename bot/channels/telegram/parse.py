"""Telegram updates to inbound messages, pure: text, commands, button presses,
shared contacts (only the sender's own) and what is refused. Only private chats
are served: in a group the bot would answer everyone's questions in public.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from aiogram.types import (
    CallbackQuery,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
    User,
)
from pydantic import ValidationError

from bot import BadInput
from bot.channels.telegram.render import parse_callback_data
from bot.channels.texts import say
from bot.gateway.inbound import clean_text
from core.i18n import N_
from core.models import InboundMessage, VerifiedAttribute

log = logging.getLogger(__name__)


WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CALLBACK_TTL_S = 30 * 86400
DIRECT_REPLY_TTL_S = 86400
SENT_PARTS_TTL_S = 7 * 86400  # as long as the outbox remembers a delivered id
MAX_UPDATE_BYTES = 1 << 20
# Calls made while Telegram waits for the webhook's answer, or a typing
# indicator: never worth holding anything up for long.
QUICK_CALL_TIMEOUT_S = 5
API_TIMEOUT_S = 30
TYPING_REFRESH_S = 4.5  # Telegram shows a chat action for about 5 seconds
TYPING_MAX_S = 60.0
NON_TEXT_REPLY = N_("I can only read text messages for now.")
# Commands the Telegram client offers, as text the assistant understands.
COMMANDS = {"/start": "hello", "/help": "what can you do"}
# Linking by phone number: only Telegram can prove a number is the
# user's own, through a request_contact button the user presses themselves.
SHARE_PHONE_COMMAND = "/share_phone"
SHARE_PHONE_BUTTON = N_("Share my phone number")
SHARE_PHONE_PROMPT = N_("To link this chat with the SMS conversation from your phone, tap "
                        "\"Share my phone number\" below. Telegram sends us the number of your "
                        "own account; we use it only to recognise you.")
NOT_YOUR_CONTACT_TEXT = N_("That's someone else's contact, so I can't use it. To link by your own "
                           "number, send /share_phone and tap the button.")
SHARED_CONTACT_TEXT = "(shared my phone number)"
# Things a person sends that we cannot read; service messages are just ignored.
MEDIA = frozenset({
    "animation", "audio", "checklist", "contact", "dice", "document", "game", "live_photo",
    "location", "paid_media", "photo", "poll", "sticker", "story", "venue", "video",
    "video_note", "voice",
})


# -- inbound: pure ----------------------------------------



@dataclass(frozen=True)
class DirectReply:
    """Answer the chat straight away instead of asking the assistant."""

    chat_id: int
    text: str  # English: the adapter says it in the customer's language (in_language)
    reply_markup: ReplyKeyboardMarkup | None = None
    # The Telegram user's app language: what to answer in when we do not know
    # the customer's own language yet.
    locale: str | None = field(default=None, compare=False)


def in_language(reply: DirectReply, language: str) -> DirectReply:
    """The reply worded in `language` (its keyboard too: only the share-phone
    button is ever sent with a direct reply)."""
    markup = share_phone_keyboard(language) if reply.reply_markup is not None else None
    return replace(reply, text=say(language, reply.text), reply_markup=markup)


def parse_update(body: bytes) -> Update:
    """The webhook body as an Update, or BadInput saying what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadInput("malformed_update", "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise BadInput("malformed_update", "A Telegram update is a JSON object.")
    try:
        return Update.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "update"
        raise BadInput("malformed_update",
                       f"Not a Telegram update: {where}: {first['msg']}.") from None


def callback_token(update: Update) -> str | None:
    """The Redis token a pressed button refers to, when its payload was too long
    for callback_data."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    kind, value = parse_callback_data(query.data)
    return value if kind == "token" else None


def to_inbound(update: Update, *, max_chars: int = 2000,
               stash: Mapping[str, str] | None = None) -> InboundMessage | DirectReply | None:
    """What an update means for us: a message for the assistant, a direct reply,
    or nothing (edits, groups, service messages, update types we do not use).
    `stash` maps callback tokens to the payloads stored for them."""
    if update.message is not None:
        return _from_message(update.update_id, update.message, max_chars)
    if update.callback_query is not None:
        return _from_callback(update.callback_query, stash or {})
    return None


def _from_message(update_id: int, message: Message, max_chars: int
                  ) -> InboundMessage | DirectReply | None:
    if message.chat.type != "private":
        return None
    if message.contact is not None:
        return _from_contact(update_id, message)
    if message.text is None:
        if message.content_type in MEDIA:
            return DirectReply(message.chat.id, NON_TEXT_REPLY, locale=_locale(message))
        return None
    if _command(message.text) == SHARE_PHONE_COMMAND:
        return DirectReply(message.chat.id, SHARE_PHONE_PROMPT, share_phone_keyboard(),
                           locale=_locale(message))
    try:
        text = clean_text(_command_as_text(message.text), max_chars)
    except BadInput as exc:
        return DirectReply(message.chat.id, exc.message, locale=_locale(message)) \
            if exc.code == "too_long" else None
    user = message.from_user
    return InboundMessage(
        channel="telegram",
        channel_user_id=str(message.chat.id),
        external_id=str(update_id),  # Telegram redelivers an update with the same id
        text=text,
        display_name=_display_name(user) or _display_name(message.chat),
        locale=user.language_code if user else None,
    )


def _command(text: str) -> str:
    word, _, _rest = text.strip().partition(" ")
    return word.split("@", 1)[0].lower()  # "/help@frontdoor_bot" in a client's menu


def _command_as_text(text: str) -> str:
    return COMMANDS.get(_command(text), text)


def _from_contact(update_id: int, message: Message) -> InboundMessage | DirectReply:
    """A shared contact proves a phone number only when it is the sender's own
    account (what the request_contact button sends): anyone can forward someone
    else's contact card, or type a number into a new one (then user_id is absent)."""
    contact, user = message.contact, message.from_user
    assert contact is not None  # only contact messages come here
    if user is None or contact.user_id is None or contact.user_id != user.id:
        return DirectReply(message.chat.id, NOT_YOUR_CONTACT_TEXT, locale=_locale(message))
    return InboundMessage(
        channel="telegram",
        channel_user_id=str(message.chat.id),
        external_id=str(update_id),
        text=SHARED_CONTACT_TEXT,
        display_name=_display_name(user),
        locale=user.language_code,
        verified=(VerifiedAttribute(kind="phone", value=contact.phone_number),),
        shared_contact=True,
    )


def _locale(message: Message) -> str | None:
    return message.from_user.language_code if message.from_user else None


def share_phone_keyboard(language: str | None = None) -> ReplyKeyboardMarkup:
    """One button that sends the user's own contact (Telegram asks them first)."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=say(language, SHARE_PHONE_BUTTON),
                                  request_contact=True)]],
        resize_keyboard=True, one_time_keyboard=True)


def _from_callback(query: CallbackQuery, stash: Mapping[str, str]) -> InboundMessage | None:
    message = query.message
    if message is not None and message.chat.type != "private":
        return None
    if query.data is None:  # game buttons carry no data
        return None
    if isinstance(message, Message) and not _on_keyboard(message, query.data):
        # Data the bot never put on that message's keyboard (a client can send
        # any callback_data for any message): answered, but not a button press.
        log.warning("telegram: callback data that was not offered on its message")
        return None
    # Too old for Telegram to include the message: the router still accepts only
    # payloads offered to this customer.
    kind, value = parse_callback_data(query.data)
    payload = value if kind == "payload" else stash.get(value)
    title = _button_title(message, query.data)
    if payload is None and not title:
        return None
    return InboundMessage(
        channel="telegram",
        channel_user_id=str(message.chat.id if message is not None else query.from_user.id),
        external_id=f"cb:{query.id}",
        text=title or payload or "",
        # An expired long payload: the title alone still reads as a message.
        button_payload=payload,
        display_name=_display_name(query.from_user),
        locale=query.from_user.language_code,
    )


def _on_keyboard(message: Message, data: str) -> bool:
    """Whether `data` is the callback_data of a button on the message's keyboard."""
    markup = message.reply_markup
    return any(button.callback_data == data
               for row in getattr(markup, "inline_keyboard", None) or () for button in row)


def _button_title(message: object, data: str) -> str:
    """The pressed button's label, from the keyboard of the message it sits on
    (absent when the message is too old for Telegram to include)."""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            if button.callback_data == data:
                return button.text.strip()
    return ""


def _display_name(who: User | object | None) -> str | None:
    if who is None:
        return None
    name = " ".join(p for p in (getattr(who, "first_name", None),
                                getattr(who, "last_name", None)) if p)
    return name or getattr(who, "username", None) or None
