"""The Slack adapter: slack-bolt verifies and acks events; replies go out with
chat.postMessage and Block Kit buttons; users.info supplies names and
verified emails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Coroutine, Mapping
from typing import Any

import aiohttp
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import BadInput
from bot.channels.base import ChannelSendError, Recipient
from bot.channels.slack.keys import SLACK_KEYS, SlackKeys
from bot.channels.slack.parse import (
    _INBOUND,
    _TIMESTAMP,
    _TRANSIENT_ERRORS,
    API_TIMEOUT_S,
    HANDLED_EVENT_TTL_S,
    MAX_BODY_BYTES,
    PRESSED_TTL_S,
    REPLAY_WINDOW_S,
    REPLY_TO_TTL_S,
    SENT_PARTS_TTL_S,
    USER_LOOKUP_TIMEOUT_S,
    USER_NAME_TTL_S,
    ReplyTarget,
    display_name_of,
    reply_target,
    to_inbound,
    verified_email_of,
)
from bot.channels.slack.render import escape, mark_chosen, render
from bot.channels.texts import customer_language, language_of, say
from bot.gateway.inbound import InboundStream
from core.bodies import read_bounded
from core.models import InboundMessage, TranscriptEntry, VerifiedAttribute
from core.settings import Settings

log = logging.getLogger(__name__)


# -- the adapter ----------------------------------------



class SlackChannel:
    name = "slack"

    def __init__(self, settings: Settings, redis: Redis, keys: SlackKeys = SLACK_KEYS) -> None:
        channels = settings.channels
        if channels.slack_bot_token is None or channels.slack_signing_secret is None:
            raise ValueError("the Slack channel needs slack_bot_token and slack_signing_secret")
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._tasks: set[asyncio.Task] = set()
        token = channels.slack_bot_token.get_secret_value()
        secret = channels.slack_signing_secret.get_secret_value()
        base_url = channels.slack_api_base.rstrip("/") + "/"
        self._verifier = SignatureVerifier(secret)
        # Our own calls; retries are the outbox's job, so the SDK makes none.
        self._web = AsyncWebClient(token=token, base_url=base_url, timeout=int(API_TIMEOUT_S),
                                   retry_handlers=[])

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            # Instead of Bolt's single-team authorization: that one calls
            # auth.test on the first request, and when Slack answers it with an
            # error it acks the event with a 200 and drops it.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        self.app = AsyncApp(
            signing_secret=secret,
            # Only a template for Bolt's per-request clients (token from
            # authorize); our listeners use self._web.
            client=AsyncWebClient(base_url=base_url, timeout=int(API_TIMEOUT_S), retry_handlers=[]),
            authorize=authorize,
            request_verification_enabled=True,
            # Ack after the listener: it only appends to Redis, so the answer
            # stays fast, and Slack retries if the append failed.
            process_before_response=True,
            raise_error_for_unhandled_request=False,
        )
        self.app.event(re.compile(".*"))(self._on_event)
        self.app.action(re.compile(".*"))(self._on_action)
        self._handler = AsyncSlackRequestHandler(self.app)

    # -- inbound -------------------------------------------------------------------

    def verified(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature over the raw body, within the 5-minute window."""
        timestamp = headers.get("x-slack-request-timestamp") or ""
        signature = headers.get("x-slack-signature") or ""
        if not _TIMESTAMP.fullmatch(timestamp) or not signature:
            return False
        try:
            return self._verifier.is_valid(body, timestamp, signature)
        except UnicodeDecodeError:
            return False

    async def handle(self, request: Request, inbound: InboundStream) -> Response:
        # Slack always sends Content-Length: 411 without it, 413 over the limit,
        # and the read itself stops at the limit (a chunked body included).
        body = await read_bounded(request, MAX_BODY_BYTES)
        if not self.verified(body, request.headers):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        seen = self._keys.slack_request_seen(request.headers["x-slack-signature"])
        # Remembered for as long as the signature stays acceptable (a timestamp
        # ahead of our clock keeps it valid for longer than 5 minutes).
        ahead = max(0, int(request.headers["x-slack-request-timestamp"]) - int(time.time()))
        if not await self._redis.set(seen, "1", nx=True, ex=REPLAY_WINDOW_S + ahead + 1):
            log.warning("a Slack request was replayed within its window: acknowledged, ignored")
            return Response(status_code=200)
        try:
            response = await self._handler.handle(request, {_INBOUND: inbound})
        except Exception:
            await self._redis.delete(seen)
            raise
        if response.status_code >= 500:
            await self._redis.delete(seen)  # Slack's retry of this request must get through
        return response

    async def _on_event(self, body: dict, request: AsyncBoltRequest,
                        context: AsyncBoltContext) -> None:
        event_id = str(body.get("event_id") or "")
        handled = self._keys.slack_handled_event(event_id)
        if (event_id and request.headers.get("x-slack-retry-num")
                and await self._redis.exists(handled)):
            log.info("Slack retried event %s, which is already on the stream", event_id)
            return
        try:
            message = to_inbound(body, max_chars=self._settings.max_message_chars)
        except BadInput as exc:
            target = reply_target(body)
            if target and await self._redis.set(handled, "1", nx=True, ex=HANDLED_EVENT_TTL_S):
                user = str((body.get("event") or {}).get("user") or "")
                language = await language_of(self._redis, "slack", user)
                self._spawn(self._say(target, say(language, exc.message)))
            return
        if message is None:
            return
        await self._take(message, reply_target(body), context)
        if event_id:
            await self._redis.set(handled, "1", ex=HANDLED_EVENT_TTL_S)

    async def _on_action(self, ack: AsyncAck, body: dict, context: AsyncBoltContext) -> None:
        try:
            message = to_inbound(body, max_chars=self._settings.max_message_chars)
        except BadInput:
            message = None
        container = body.get("container") or {}
        pressed = None
        if message is not None and container.get("channel_id") and container.get("message_ts"):
            pressed = self._keys.slack_pressed(container["channel_id"], container["message_ts"])
            if not await self._redis.set(pressed, message.external_id, nx=True, ex=PRESSED_TTL_S):
                message = None  # a second press on the same message (a double click)
        if message is not None:
            try:
                await self._take(message, reply_target(body), context)
            except Exception:
                if pressed:
                    await self._redis.delete(pressed)  # the press failed: it may be pressed again
                raise
            self._spawn(self._mark_chosen(body, message.text))
        await ack()

    async def _take(self, message: InboundMessage, target: ReplyTarget | None,
                    context: AsyncBoltContext) -> None:
        """Remember where to answer, name the user, append to the inbound stream."""
        user = message.channel_user_id
        if target is not None:
            await self._redis.set(self._keys.slack_reply_to(user),
                                  json.dumps({"channel": target.channel,
                                              "thread_ts": target.thread_ts}),
                                  ex=REPLY_TO_TTL_S)
        name, email = await self._profile(user)
        # Slack verifies profile emails: one links this user to a customer who
        # proved the same address elsewhere (bot/customers/verified.py).
        verified = (VerifiedAttribute(kind="email", value=email),) if email else ()
        await context[_INBOUND].append(message.model_copy(
            update={"display_name": name, "verified": verified}))

    async def _profile(self, user_id: str) -> tuple[str | None, str | None]:
        """(name, verified email) from users.info, cached for a day; a failure
        costs the name and email, never the message."""
        name_key, email_key = self._keys.slack_user_name(user_id), \
            self._keys.slack_user_email(user_id)
        name, email = await self._redis.mget(name_key, email_key)
        if name is not None and email is not None:
            return name or None, email or None
        try:
            response = await asyncio.wait_for(self._api().users_info(user=user_id),
                                              USER_LOOKUP_TIMEOUT_S)
            user = response.get("user") or {}
        except Exception as exc:  # noqa: BLE001 - any failure here only loses the name
            log.warning("users.info for %s failed: %s", user_id, _describe(exc))
            return None, None
        name, email = display_name_of(user), verified_email_of(user)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(name_key, name, ex=USER_NAME_TTL_S)
            pipe.set(email_key, email or "", ex=USER_NAME_TTL_S)
            await pipe.execute()
        return name or None, email

    async def _mark_chosen(self, body: Mapping[str, Any], title: str) -> None:
        """Replace the pressed message's buttons by "You chose: ...", so they
        cannot be pressed again."""
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if not (channel and ts and message.get("blocks")):
            return
        user = str((body.get("user") or {}).get("id") or "")
        language = await language_of(self._redis, "slack", user)
        try:
            await self._api().chat_update(channel=channel, ts=ts,
                                          text=message.get("text") or escape(title),
                                          blocks=mark_chosen(message["blocks"], title, language))
        except Exception as exc:  # noqa: BLE001 - cosmetic; the choice is already taken
            log.warning("could not mark the choice on Slack message %s: %s", ts, _describe(exc))

    async def _say(self, target: ReplyTarget, text: str) -> None:
        """A short plain answer from the gateway itself (not the assistant)."""
        try:
            await self._api().chat_postMessage(channel=target.channel, thread_ts=target.thread_ts,
                                               text=escape(text))
        except Exception as exc:  # noqa: BLE001
            log.warning("could not answer on Slack %s: %s", target.channel, _describe(exc))

    # -- outbound ----------------------------------------------------------------

    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        messages = render(entry, await customer_language(self._redis, recipient.customer_id))
        if not messages:
            return
        # A long entry goes out as several messages; on a retry, skip the ones
        # already posted.
        progress = (self._keys.slack_sent_parts(entry.id)
                    if entry.id and len(messages) > 1 else None)
        try:
            target = await self._target(recipient.channel_user_id)
            done = int(await self._redis.get(progress) or 0) if progress else 0
            for index in range(done, len(messages)):
                await self._api().chat_postMessage(channel=target.channel,
                                                   thread_ts=target.thread_ts, **messages[index])
                if progress:
                    await self._redis.set(progress, index + 1, ex=SENT_PARTS_TTL_S)
        except SlackApiError as exc:
            _raise_if_transient(exc)
            log.warning("Slack refused a message for customer %s (%s); dropped",
                        recipient.customer_id, _describe(exc))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ChannelSendError(f"Slack unreachable: {_describe(exc)}") from exc

    async def _target(self, user_id: str) -> ReplyTarget:
        stored = await self._redis.get(self._keys.slack_reply_to(user_id))
        if stored:
            data = json.loads(stored)
            return ReplyTarget(data["channel"], data.get("thread_ts"))
        # Nothing stored (expired, or an agent writes first): the user's DM.
        opened = await self._api().conversations_open(users=user_id)
        target = ReplyTarget(opened["channel"]["id"])
        await self._redis.set(self._keys.slack_reply_to(user_id),
                              json.dumps({"channel": target.channel, "thread_ts": None}),
                              ex=REPLY_TO_TTL_S)
        return target

    async def typing(self, recipient: Recipient, on: bool) -> None:
        """Slack has no typing indicator a bot can set over the Web API."""

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        """Web chat only."""

    # -- plumbing ------------------------------------------------------------------

    def _api(self) -> AsyncWebClient:
        # One aiohttp session for all calls (made here: it needs a running loop).
        if self._web.session is None or self._web.session.closed:
            self._web.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_S))
        return self._web

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._web.session is not None and not self._web.session.closed:
            await self._web.session.close()


def _raise_if_transient(exc: SlackApiError) -> None:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = data.get("error")
    if response.status_code == 429 or error == "ratelimited":
        raise ChannelSendError("Slack rate limit",
                               retry_after=_retry_after(response.headers)) from exc
    if response.status_code >= 500 or error in _TRANSIENT_ERRORS:
        raise ChannelSendError(f"Slack answered {response.status_code} {error or ''}".strip()) \
            from exc


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return f"HTTP {exc.response.status_code} {data.get('error', '')}".strip()
    return exc.__class__.__name__ + (f": {exc}" if str(exc) else "")

