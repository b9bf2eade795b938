"""The Telegram adapter: sends rendered replies through aiogram 3's Bot API
client (sendMessage with inline keyboards), keeps typing alive, and turns a
verified update into an inbound message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

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
    Update,
)
from redis.asyncio import Redis

from bot.channels.base import ChannelSendError, Recipient
from bot.channels.telegram.keys import TELEGRAM_KEYS
from bot.channels.telegram.parse import (
    API_TIMEOUT_S,
    CALLBACK_TTL_S,
    DIRECT_REPLY_TTL_S,
    QUICK_CALL_TIMEOUT_S,
    SENT_PARTS_TTL_S,
    TYPING_MAX_S,
    TYPING_REFRESH_S,
    DirectReply,
    callback_token,
    in_language,
    to_inbound,
)
from bot.channels.telegram.render import TelegramPart, _plain, render
from bot.channels.texts import customer_language, language_of
from bot.gateway.inbound import InboundStream
from core.models import InboundMessage, TranscriptEntry
from core.settings import Settings

log = logging.getLogger(__name__)


# -- the adapter ----------------------------------------



def make_bot(settings: Settings) -> Bot:
    if settings.channels.telegram_bot_token is None:
        raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_BOT_TOKEN)")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.channels.telegram_api_base),
                             timeout=API_TIMEOUT_S)
    return Bot(settings.channels.telegram_bot_token.get_secret_value(), session=session,
               default=DefaultBotProperties(parse_mode=ParseMode.HTML))


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: Settings, redis: Redis) -> None:
        if settings.channels.telegram_webhook_secret is None:
            raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_WEBHOOK_SECRET)")
        self.bot = make_bot(settings)
        self._secret = settings.channels.telegram_webhook_secret.get_secret_value().encode()
        self._token = settings.channels.telegram_bot_token.get_secret_value()  # type: ignore[union-attr]
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
        payload = (await self._redis.get(TELEGRAM_KEYS.telegram_callback(token))
                   if token is not None else None)
        if token is not None and payload is not None:
            stash[token] = payload
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
        if not await self._redis.set(TELEGRAM_KEYS.telegram_direct_reply(str(update_id)), "1",
                                     nx=True, ex=DIRECT_REPLY_TTL_S):
            return  # a redelivered update: answered already
        try:
            language = await language_of(self._redis, "telegram", str(reply.chat_id),
                                         reply.locale)
            reply = in_language(reply, language)
            await self.bot.send_message(reply.chat_id, reply.text, parse_mode=None,
                                        reply_markup=reply.reply_markup,
                                        request_timeout=QUICK_CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a courtesy reply; the webhook still succeeds
            log.warning("direct reply to a Telegram chat failed: %s", self.scrub(exc))

    # -- outbound ---------------------------------------------------------------
    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        rendered = render(entry, await customer_language(self._redis, recipient.customer_id))
        if not rendered.parts:
            log.info("nothing to send to Telegram for entry %s (empty text)", entry.id)
            return
        if rendered.stash:
            async with self._redis.pipeline(transaction=False) as pipe:
                for token, payload in rendered.stash.items():
                    pipe.set(TELEGRAM_KEYS.telegram_callback(token), payload, ex=CALLBACK_TTL_S)
                await pipe.execute()
        chat_id = int(recipient.channel_user_id)
        # A split entry remembers how many parts went out, so an outbox retry
        # after a failure on part 2 does not send part 1 again.
        progress = None
        if len(rendered.parts) > 1:
            entry_key = entry.id or hashlib.sha256(entry.model_dump_json().encode()).hexdigest()
            progress = TELEGRAM_KEYS.telegram_sent_parts(f"{chat_id}:{entry_key}")
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
