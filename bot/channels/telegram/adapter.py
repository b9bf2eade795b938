"""Telegram through aiogram 3: a webhook (or long polling in development) in,
Bot API sendMessage with inline keyboards out.

The only module that imports aiogram. `to_inbound` and `render` are pure; the
route verifies the secret-token header before it reads the body, enqueues and
answers at once. Only private chats are served: in a group the bot would answer
everyone's questions in public.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
    User,
)
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError
from redis.asyncio import Redis

from bot import BadInput
from bot.channels.base import ChannelSendError, Recipient
from bot.gateway.services import Services, services
from bot.gateway.inbound import InboundStream, clean_text
from bot.channels.telegram.render import callback_data, parse_callback_data, render_parts
from core.settings import Settings
from core.keys import KEYS
from core.models import InboundMessage, TranscriptEntry, VerifiedAttribute

log = logging.getLogger(__name__)
router = APIRouter()

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
NON_TEXT_REPLY = "I can only read text messages for now."
CHOOSE_PROMPT = "Please choose an option:"
# Commands the Telegram client offers, as text the assistant understands.
COMMANDS = {"/start": "hello", "/help": "what can you do"}
# Linking by phone number (issue 5): only Telegram can prove a number is the
# user's own, through a request_contact button the user presses themselves.
SHARE_PHONE_COMMAND = "/share_phone"
SHARE_PHONE_BUTTON = "Share my phone number"
SHARE_PHONE_PROMPT = ("To link this chat with the SMS conversation from your phone, tap "
                      "\"Share my phone number\" below. Telegram sends us the number of your "
                      "own account; we use it only to recognise you.")
NOT_YOUR_CONTACT_TEXT = ("That's someone else's contact, so I can't use it. To link by your own "
                         "number, send /share_phone and tap the button.")
SHARED_CONTACT_TEXT = "(shared my phone number)"
# Things a person sends that we cannot read; service messages are just ignored.
MEDIA = frozenset({
    "animation", "audio", "checklist", "contact", "dice", "document", "game", "live_photo",
    "location", "paid_media", "photo", "poll", "sticker", "story", "venue", "video",
    "video_note", "voice",
})


# -- inbound: pure ------------------------------------------------------------------


@dataclass(frozen=True)
class DirectReply:
    """Answer the chat straight away instead of asking the assistant."""

    chat_id: int
    text: str
    reply_markup: ReplyKeyboardMarkup | None = None


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
            return DirectReply(message.chat.id, NON_TEXT_REPLY)
        return None
    if _command(message.text) == SHARE_PHONE_COMMAND:
        return DirectReply(message.chat.id, SHARE_PHONE_PROMPT, share_phone_keyboard())
    try:
        text = clean_text(_command_as_text(message.text), max_chars)
    except BadInput as exc:
        return DirectReply(message.chat.id, exc.message) if exc.code == "too_long" else None
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
    if user is None or contact.user_id is None or contact.user_id != user.id:
        return DirectReply(message.chat.id, NOT_YOUR_CONTACT_TEXT)
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


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    """One button that sends the user's own contact (Telegram asks them first)."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=SHARE_PHONE_BUTTON, request_contact=True)]],
        resize_keyboard=True, one_time_keyboard=True)


def _from_callback(query: CallbackQuery, stash: Mapping[str, str]) -> InboundMessage | None:
    message = query.message
    if message is not None and message.chat.type != "private":
        return None
    if query.data is None:  # game buttons carry no data
        return None
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


# -- outbound: pure -------------------------------------------------------------------


@dataclass(frozen=True)
class TelegramPart:
    text: str  # Telegram HTML
    reply_markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Rendered:
    parts: tuple[TelegramPart, ...]
    # callback token -> payload too long for callback_data, to keep in Redis
    stash: dict[str, str] = field(default_factory=dict)


def render(entry: TranscriptEntry) -> Rendered:
    """An entry as sendMessage calls: Markdown as Telegram HTML split to fit,
    buttons as an inline keyboard (one button a row) on the last part."""
    texts = render_parts(entry.text)
    if not entry.buttons:
        return Rendered(tuple(TelegramPart(t) for t in texts))
    rows, stash = [], {}
    for button in entry.buttons:
        data, token = callback_data(button.payload)
        if token is not None:
            stash[token] = button.payload
        label = button.title.strip() or button.payload
        rows.append([InlineKeyboardButton(text=label, callback_data=data)])
    texts = texts or [html.escape(CHOOSE_PROMPT)]  # Telegram needs text under a keyboard
    keyboard = InlineKeyboardMarkup(inline_keyboard=rows)
    parts = [TelegramPart(t) for t in texts[:-1]] + [TelegramPart(texts[-1], keyboard)]
    return Rendered(tuple(parts), stash)


def _plain(telegram_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", telegram_html))


# -- the adapter ------------------------------------------------------------------------


def make_bot(settings: Settings) -> Bot:
    if settings.telegram_bot_token is None:
        raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_BOT_TOKEN)")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base),
                             timeout=API_TIMEOUT_S)
    return Bot(settings.telegram_bot_token.get_secret_value(), session=session,
               default=DefaultBotProperties(parse_mode=ParseMode.HTML))


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: Settings, redis: Redis) -> None:
        if settings.telegram_webhook_secret is None:
            raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_WEBHOOK_SECRET)")
        self.bot = make_bot(settings)
        self._secret = settings.telegram_webhook_secret.get_secret_value().encode()
        self._token = settings.telegram_bot_token.get_secret_value()  # type: ignore[union-attr]
        self._max_chars = settings.max_message_chars
        self._redis = redis
        self._typing: dict[int, asyncio.Task] = {}

    # -- inbound --------------------------------------------------------------
    def verify(self, secret_header: str | None) -> bool:
        return secret_header is not None and hmac.compare_digest(
            secret_header.encode(), self._secret)

    async def process(self, update: Update, inbound: InboundStream) -> None:
        """One update from the webhook or from getUpdates."""
        stash = {}
        token = callback_token(update)
        if token is not None and (
                payload := await self._redis.get(KEYS.telegram_callback(token))) is not None:
            stash[token] = payload.decode()
        result = to_inbound(update, max_chars=self._max_chars, stash=stash)
        if isinstance(result, InboundMessage):
            await inbound.append(result)
        elif isinstance(result, DirectReply):
            await self._reply_once(update.update_id, result)
        if update.callback_query is not None:
            await self._answer_callback(update.callback_query.id)

    async def _answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner. The message is already enqueued, so a
        failure here costs only the spinner."""
        try:
            await self.bot.answer_callback_query(query_id, request_timeout=QUICK_CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            log.warning("answerCallbackQuery failed: %s", self.scrub(exc))

    async def _reply_once(self, update_id: int, reply: DirectReply) -> None:
        if not await self._redis.set(KEYS.telegram_direct_reply(str(update_id)), "1",
                                     nx=True, ex=DIRECT_REPLY_TTL_S):
            return  # a redelivered update: answered already
        try:
            await self.bot.send_message(reply.chat_id, reply.text, parse_mode=None,
                                        reply_markup=reply.reply_markup,
                                        request_timeout=QUICK_CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a courtesy reply; the webhook still succeeds
            log.warning("direct reply to a Telegram chat failed: %s", self.scrub(exc))

    # -- outbound ---------------------------------------------------------------
    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        rendered = render(entry)
        if not rendered.parts:
            log.info("nothing to send to Telegram for entry %s (empty text)", entry.id)
            return
        if rendered.stash:
            async with self._redis.pipeline(transaction=False) as pipe:
                for token, payload in rendered.stash.items():
                    pipe.set(KEYS.telegram_callback(token), payload, ex=CALLBACK_TTL_S)
                await pipe.execute()
        chat_id = int(recipient.channel_user_id)
        # A split entry remembers how many parts went out, so an outbox retry
        # after a failure on part 2 does not send part 1 again.
        progress = None
        if len(rendered.parts) > 1:
            entry_key = entry.id or hashlib.sha256(entry.model_dump_json().encode()).hexdigest()
            progress = KEYS.telegram_sent_parts(f"{chat_id}:{entry_key}")
        done = int(await self._redis.get(progress) or 0) if progress else 0
        for index, part in enumerate(rendered.parts[done:], done):
            try:
                await self._send_part(chat_id, part)
            except TelegramForbiddenError as exc:
                # Blocked by the user (or deactivated): retrying cannot help.
                log.info("telegram chat %s refuses messages (%s); dropped", chat_id, exc.message)
                return
            if progress:
                await self._redis.set(progress, index + 1, ex=SENT_PARTS_TTL_S)

    async def _send_part(self, chat_id: int, part: TelegramPart) -> None:
        try:
            await self._call(self.bot.send_message(chat_id, part.text,
                                                   reply_markup=part.reply_markup))
        except TelegramBadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise  # permanent (e.g. chat not found): the outbox dead-letters it
            log.error("telegram rejected our HTML (%s); sending it as plain text", exc.message)
            await self._call(self.bot.send_message(chat_id, _plain(part.text), parse_mode=None,
                                                   reply_markup=part.reply_markup))

    async def _call(self, request):
        """Await a Bot API call, turning what is worth retrying into ChannelSendError."""
        try:
            return await request
        except TelegramRetryAfter as exc:
            raise ChannelSendError(f"telegram rate limit: {exc.message}",
                                   retry_after=exc.retry_after) from exc
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError, aiohttp.ClientError,
                TimeoutError) as exc:
            raise ChannelSendError(f"telegram unavailable: {self.scrub(exc)}") from exc

    async def typing(self, recipient: Recipient, on: bool) -> None:
        chat_id = int(recipient.channel_user_id)
        if (task := self._typing.pop(chat_id, None)) is not None:
            task.cancel()
        if on:
            await self._chat_action(chat_id)
            task = asyncio.create_task(self._keep_typing(chat_id))
            self._typing[chat_id] = task
            task.add_done_callback(
                lambda t: self._typing.pop(chat_id) if self._typing.get(chat_id) is t else None)

    async def _keep_typing(self, chat_id: int) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + TYPING_MAX_S
        while loop.time() < until:
            await asyncio.sleep(TYPING_REFRESH_S)
            await self._chat_action(chat_id)

    async def _chat_action(self, chat_id: int) -> None:
        try:
            await self.bot.send_chat_action(chat_id, "typing",
                                            request_timeout=QUICK_CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a typing indicator is never worth an error
            log.debug("sendChatAction failed: %s", self.scrub(exc))

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        return None  # Telegram has no transient banner; delays are told in the transcript

    async def close(self) -> None:
        for task in self._typing.values():
            task.cancel()
        self._typing.clear()
        await self.bot.session.close()

    def scrub(self, exc: BaseException) -> str:
        """An error message without the bot token (it is part of every API URL)."""
        return str(exc).replace(self._token, "<token>")


# -- webhook route -------------------------------------------------------------------------


@router.post(WEBHOOK_PATH, tags=["telegram"])
async def telegram_webhook(request: Request, svc: Services = Depends(services)) -> dict:
    channel = svc.channels.get("telegram")
    if not isinstance(channel, TelegramChannel):
        raise HTTPException(404, "The Telegram channel is not enabled.")
    # Authenticity first: nothing of the body is read for a forged request.
    if not channel.verify(request.headers.get(SECRET_HEADER)):
        raise HTTPException(403, "Missing or wrong secret token.")
    if int(request.headers.get("content-length") or 0) > MAX_UPDATE_BYTES:
        raise HTTPException(413, "Update too large.")
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        raise HTTPException(413, "Update too large.")
    try:
        update = parse_update(body)
    except BadInput as exc:
        raise HTTPException(400, exc.message) from None
    await channel.process(update, svc.inbound)
    return {"ok": True}


# -- operations: webhook registration and long polling ---------------------------------------


async def set_webhook(settings: Settings, url: str) -> None:
    """Point Telegram at our webhook (`frontdoor telegram set-webhook URL`)."""
    if settings.telegram_webhook_secret is None:
        raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_WEBHOOK_SECRET)")
    bot = make_bot(settings)
    try:
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret.get_secret_value(),
                              allowed_updates=ALLOWED_UPDATES)
    finally:
        await bot.session.close()


async def poll_forever(settings: Settings, inbound: InboundStream, redis: Redis,
                       *, poll_timeout: int = 25) -> None:
    """Development without a public URL: delete the webhook and long-poll
    getUpdates, feeding every update through the same path as the webhook. An
    update is confirmed (offset moves past it) only once it is enqueued."""
    channel = TelegramChannel(settings, redis)
    offset: int | None = None
    webhook_deleted = False
    backoff = 1.0
    try:
        while True:
            try:
                if not webhook_deleted:  # getUpdates is refused while a webhook is set
                    await channel.bot.delete_webhook(drop_pending_updates=False)
                    webhook_deleted = True
                updates = await channel.bot.get_updates(
                    offset=offset, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES,
                    request_timeout=poll_timeout + 10)
                for update in updates:
                    await channel.process(update, inbound)
                    offset = update.update_id + 1
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
            except Exception as exc:  # noqa: BLE001 - keep polling through outages
                log.warning("telegram polling failed (%s); retrying in %.0fs",
                            channel.scrub(exc), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        await channel.close()
