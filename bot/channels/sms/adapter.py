"""The SMS adapter: sends through Twilio's Messages REST API (twilio's async
client), honours opt-outs, and verifies X-Twilio-Signature over our public URL.

STOP, START and HELP have one responder. By default Twilio's opt-out handling
answers them (as it does on a long code unless Advanced Opt-Out turns it off)
and refuses any message of ours to a number that texted STOP (error 21610), so
the gateway records the opt-out and opt-in silently and answers nothing.
`FRONTDOOR_SMS_OWN_KEYWORD_REPLIES=true`, for numbers whose Twilio opt-out
handling is off, makes the gateway send its own texts (parse.py) instead.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

import aiohttp
from fastapi import HTTPException, Request
from redis.asyncio import Redis
from starlette.datastructures import MultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import BadInput
from bot.channels.base import ChannelSendError, Recipient
from bot.channels.sms.keys import SMS_KEYS
from bot.channels.sms.parse import (
    ERROR_UNSUBSCRIBED,
    HANDLED_TTL_S,
    HELP_TEXT,
    INBOUND_PATH,
    MAX_WEBHOOK_BYTES,
    OPT_IN_TEXT,
    OPT_OUT_TEXT,
    OPTIONS_TTL_S,
    SEND_TIMEOUT_S,
    SENT_PARTS_TTL_S,
    Keyword,
    carrier_answers,
    keyword,
    to_inbound,
)
from bot.channels.sms.render import _mask, plain, render
from bot.channels.texts import customer_language, language_of, say
from bot.infra import metrics
from core.bodies import read_bounded
from core.models import Button, InboundMessage, TranscriptEntry
from core.settings import Settings

log = logging.getLogger(__name__)


# -- the Twilio REST client ----------------------------------------


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class _TwilioHttp(AsyncTwilioHttpClient):
    """Twilio's own aiohttp client with a default timeout, and a 429 surfacing
    with its Retry-After (TwilioRestException keeps no headers)."""

    async def request(self, method, url, params=None, data=None, headers=None, auth=None,
                      timeout=None, allow_redirects=False) -> TwilioResponse:
        response = await super().request(method, url, params, data, headers, auth,
                                         timeout or self.timeout, allow_redirects)
        if response.status_code == 429:
            raise _RateLimited(_retry_after(response.headers))
        return response


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:  # the HTTP-date form
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds)


# -- the adapter ----------------------------------------


class SmsChannel:
    name = "sms"

    def __init__(self, settings: Settings, redis: Redis) -> None:
        if not settings.channels.sms_enabled:
            raise ValueError("SMS needs twilio_account_sid, twilio_auth_token and "
                             "twilio_from_number")
        self._settings = settings
        self._redis = redis
        self._account_sid: str = settings.channels.twilio_account_sid  # type: ignore[assignment]
        self._from: str = settings.channels.twilio_from_number  # type: ignore[assignment]
        token = settings.channels.twilio_auth_token.get_secret_value()  # type: ignore[union-attr]
        self._validator = RequestValidator(token)
        self._client: Client | None = None
        self._own_replies = settings.channels.sms_own_keyword_replies

    # -- inbound ------------------------------------------------------------------

    async def verified_params(self, request: Request) -> MultiDict:
        """The webhook's form params, or 403 if Twilio did not sign them (or they
        were signed for another account). The form is decoded only because the
        signature covers its params; nothing in it is used before this passes."""
        # Twilio always sends Content-Length: 411 without it, 413 over the limit,
        # and the read itself stops at the limit (a chunked body included).
        raw = await read_bounded(request, MAX_WEBHOOK_BYTES)
        signature = request.headers.get("X-Twilio-Signature", "")
        try:
            params = MultiDict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                                         errors="strict"))
        except (UnicodeDecodeError, ValueError):
            params = None
        # Twilio signs the URL it was configured with: our public base URL.
        url = self._settings.base_url + INBOUND_PATH
        if request.url.query:
            url += "?" + request.url.query
        if params is None or not signature or not self._validator.validate(url, params, signature):
            metrics.REJECTED.labels(channel="sms", code="bad_signature").inc()
            raise HTTPException(403, "invalid Twilio signature")
        if not hmac.compare_digest(params.get("AccountSid", "").encode(),
                                   self._account_sid.encode()):
            metrics.REJECTED.labels(channel="sms", code="wrong_account").inc()
            raise HTTPException(403, "unknown AccountSid")
        return params

    async def receive(self, params: Mapping[str, str], max_chars: int) -> InboundMessage | None:
        """The message for the assistant, or None when it was a keyword, came
        from an opted-out phone, or could not be taken (then the phone is told why)."""
        phone, sid = params.get("From", ""), params.get("MessageSid", "")
        if not phone or not sid:
            raise BadInput("malformed", "MessageSid and From are required.")
        opted_out = await self.is_opted_out(phone)
        body = params.get("Body", "")
        word = keyword(body, opted_out)
        if word is not None:
            if await self._first_answer(sid):
                # A German keyword gets our answer: Twilio does not know it.
                german = not carrier_answers(body)
                await self._keyword(word, phone, answer=self._own_replies or german,
                                    hint="de" if german else None)
            return None
        if opted_out:
            log.info("message from opted-out %s not taken", _mask(phone))
            return None
        try:
            message = to_inbound(params, await self._options(phone), max_chars)
        except BadInput as exc:
            metrics.REJECTED.labels(channel="sms", code=exc.code).inc()
            if exc.code != "empty" and await self._first_answer(sid):
                await self._reply(phone, exc.message)
            return None
        if message.button_payload is not None:
            # A choice uses the options up (as a pressed button retires its row):
            # the same digit later is a message of its own, e.g. a "5" after the
            # rating was given goes to the assistant.
            await self._redis.delete(SMS_KEYS.sms_options(phone))
        return message

    async def _keyword(self, word: Keyword, phone: str, *, answer: bool,
                       hint: str | None = None) -> None:
        """Record an opt-out or opt-in. Twilio has already answered the phone
        (and refuses a reply of ours to STOP), unless we answer this keyword
        ourselves (`answer`): in the language of the number's customer, else
        `hint` (a German keyword is answered in German), else English."""
        key = SMS_KEYS.sms_opted_out(phone)
        responder = "we confirm" if answer else "Twilio's opt-out handling answers"
        if word == "stop":
            # One confirmation per opt-out: a second STOP gets no more messages.
            if await self._redis.set(key, str(time.time()), nx=True):
                log.info("%s opted out of SMS (%s)", _mask(phone), responder)
                if answer:
                    await self._reply(phone, OPT_OUT_TEXT, hint)
        elif word == "start":
            if await self._redis.delete(key):
                log.info("%s opted back in to SMS (%s)", _mask(phone), responder)
            if answer:
                await self._reply(phone, OPT_IN_TEXT, hint)
        elif answer:  # HELP is answered even while opted out (CTIA)
            await self._reply(phone, HELP_TEXT, hint)
        else:
            log.info("HELP from %s: Twilio's opt-out handling answers it", _mask(phone))

    async def _first_answer(self, sid: str) -> bool:
        return bool(await self._redis.set(SMS_KEYS.sms_handled(sid), "1", nx=True,
                                          ex=HANDLED_TTL_S))

    async def _reply(self, phone: str, text: str, hint: str | None = None) -> None:
        """A direct answer from the gateway, in the language of the number's
        customer (English for a number we do not know yet); a failure is logged,
        never raised, so the webhook still succeeds (the opt-out itself is
        already recorded)."""
        text = say(await language_of(self._redis, "sms", phone, hint), text)
        try:
            await self._deliver(phone, text)
        except ChannelSendError as exc:
            log.warning("could not answer %s: %s", _mask(phone), exc)

    async def is_opted_out(self, phone: str) -> bool:
        return bool(await self._redis.exists(SMS_KEYS.sms_opted_out(phone)))

    async def _options(self, phone: str) -> list[Button]:
        raw = await self._redis.get(SMS_KEYS.sms_options(phone))
        if not raw:
            return []
        try:
            return [Button.model_validate(b) for b in json.loads(raw)]
        except (ValueError, TypeError):
            return []

    # -- outbound -----------------------------------------------------------------

    async def send(self, recipient: Recipient, entry: TranscriptEntry) -> None:
        phone = recipient.channel_user_id
        if await self.is_opted_out(phone):
            # Dropped for good, not retried: Twilio would refuse it (21610).
            log.warning("message %s to %s not sent: the number opted out of SMS (texted "
                        "STOP) and gets nothing until it texts START", entry.id or "",
                        _mask(phone))
            return
        parts = render(entry, await customer_language(self._redis, recipient.customer_id))
        if entry.buttons:
            await self._redis.set(
                SMS_KEYS.sms_options(phone),
                json.dumps([{"title": plain(b.title), "payload": b.payload}
                            for b in entry.buttons]),
                ex=OPTIONS_TTL_S)
        # Parts already delivered are counted, so an outbox retry after a failure
        # on part 3 does not send parts 1 and 2 again.
        sent_key = SMS_KEYS.sms_sent_parts(f"{phone}:{entry.id or entry.ts}")
        done = int(await self._redis.get(sent_key) or 0) if len(parts) > 1 else 0
        for index, body in enumerate(parts[done:], start=done):
            if not await self._deliver(phone, body):
                return  # refused for good: the rest would be refused too
            if len(parts) > 1:
                await self._redis.set(sent_key, index + 1, ex=SENT_PARTS_TTL_S)

    async def _deliver(self, phone: str, body: str) -> bool:
        """One Messages API call. True when Twilio took it; False when it refused
        it for good (dropped and logged); ChannelSendError when worth retrying."""
        try:
            message = await self._rest().messages.create_async(to=phone, from_=self._from,
                                                               body=body)
        except _RateLimited as exc:
            raise ChannelSendError("Twilio rate limit (429)", retry_after=exc.retry_after) from exc
        except (TwilioRestException, TwilioServiceException) as exc:
            status, code = exc.status, exc.code
            if status == 429:
                raise ChannelSendError("Twilio rate limit (429)") from exc
            if status >= 500:
                raise ChannelSendError(f"Twilio error {status} ({code})") from exc
            if code == ERROR_UNSUBSCRIBED:
                await self._redis.set(SMS_KEYS.sms_opted_out(phone), str(time.time()))
                log.warning("message to %s not sent: Twilio reports the number unsubscribed "
                            "(21610, it texted STOP); recorded as opted out, dropped",
                            _mask(phone))
                return False
            log.error("Twilio refused a message to %s: HTTP %s, error %s; dropped",
                      _mask(phone), status, code)
            return False
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ChannelSendError(f"Twilio unreachable: {type(exc).__name__}") from exc
        log.debug("sms %s queued to %s", message.sid, _mask(phone))
        return True

    def _rest(self) -> Client:
        if self._client is None:  # made on first use, inside the event loop aiohttp needs
            token = self._settings.channels.twilio_auth_token.get_secret_value()  # type: ignore[union-attr]
            client = Client(self._account_sid, token,
                            http_client=_TwilioHttp(timeout=SEND_TIMEOUT_S))
            # The API domain's base URL is the library's own knob for its address:
            # the real api.twilio.com in production, the sandbox in the demo and tests.
            client.api.base_url = self._settings.channels.twilio_api_base.rstrip("/")
            self._client = client
        return self._client

    async def typing(self, recipient: Recipient, on: bool) -> None:
        """SMS has no typing indicator."""

    async def notice(self, recipient: Recipient, level: str, text: str) -> None:
        """Transient notices are for the web widget only."""

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None
