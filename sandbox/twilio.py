"""A local Twilio: the Messages API subset the gateway uses, and phones that
text the gateway with webhooks signed the way Twilio signs them.

Wire format (https://www.twilio.com/docs/messaging/api/message-resource):
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form params To, From,
Body, HTTP Basic auth (account sid : auth token); errors are Twilio's JSON
`{"code", "message", "more_info", "status"}`. Inbound messages are form
webhooks with X-Twilio-Signature = base64 HMAC-SHA1 of the URL plus the
sorted params (RequestValidator.compute_signature).

Opt-out keywords as Twilio handles them by default on a long code: a phone's
STOP is answered by Twilio itself with its standard text, the number goes on
the account's opt-out list, and the Messages API refuses sends to it (error
21610) until it texts START (or YES), which Twilio also answers; HELP gets
Twilio's standard help text. The keyword is still delivered to the webhook.
With `FRONTDOOR_SMS_OWN_KEYWORD_REPLIES=true` (or `/_sandbox/opt-out-handling`
`{"twilio_answers": false}`) the sandbox is a number whose opt-out handling is
off: keywords are only delivered, and the gateway answers them.

Control API for the /sandbox page and the tests, under /_sandbox/: send,
redeliver, transcript, fail, block (the carrier reports the number as
unsubscribed, error 21610), opt-out-handling and reset. State is in memory,
per app.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from twilio.request_validator import RequestValidator

from bot.channels.sms.parse import carrier_answers, keyword
from bot.channels.sms.render import MAX_BODY_CHARS, sms_info
from core.settings import Settings

router = APIRouter()

API_VERSION = "2010-04-01"
INBOUND_PATH = "/channels/sms/inbound"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Twilio's default replies to the opt-out keywords (Messaging > Opt-out management).
TWILIO_STOP_TEXT = ("You have successfully been unsubscribed. You will not receive any more "
                    "messages from this number. Reply START to resubscribe.")
TWILIO_START_TEXT = ("You have successfully been re-subscribed to messages from this number. "
                     "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.")
TWILIO_HELP_TEXT = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None
    after: int = 0  # calls to let through before failing


@dataclass
class _State:
    transcripts: dict[str, list[dict]] = field(default_factory=dict)
    messages: dict[str, dict] = field(default_factory=dict)  # sid -> Message resource
    last_webhook: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> params
    blocked: set[str] = field(default_factory=set)  # numbers unsubscribed at the carrier
    opted_out: set[str] = field(default_factory=set)  # Twilio's opt-out list (texted STOP)
    twilio_answers: bool = True  # Twilio's default opt-out handling is on for the number
    failure: _Failure | None = None


def _new_state(request: Request) -> _State:
    own = _settings(request).channels.sms_own_keyword_replies
    state = request.app.state.twilio_sandbox = _State(twilio_answers=not own)
    return state


def _state(request: Request) -> _State:
    state = getattr(request.app.state, "twilio_sandbox", None)
    return state if state is not None else _new_state(request)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)  # Twilio sids: two letters + 32 hex digits


def _error(status: int, code: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status, headers=headers)


def _add(state: _State, user: str, entry: dict) -> None:
    state.transcripts.setdefault(user, []).append(entry)


# -- the Messages API ------------------------------------------------------------

@router.post(f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json")
async def create_message(account_sid: str, request: Request) -> JSONResponse:
    settings, state = _settings(request), _state(request)
    if not _authenticated(request, settings) or account_sid != settings.channels.twilio_account_sid:
        return _error(401, 20003, "Authenticate",
                      headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
    failure = state.failure
    if failure is not None:
        if failure.after > 0:
            failure.after -= 1
        else:
            failure.times -= 1
            if failure.times <= 0:
                state.failure = None
            headers = ({"Retry-After": str(failure.retry_after)}
                       if failure.retry_after is not None else None)
            message = "Too Many Requests" if failure.status == 429 else "Service unavailable"
            return _error(failure.status, 20000 + failure.status, message, headers)

    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                          keep_blank_values=True))
    to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not sender:
        return _error(400, 21603, "A 'From' phone number is required.")
    if not body:
        return _error(400, 21602, "Message body is required.")
    if not E164.fullmatch(to):
        return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if sender != settings.channels.twilio_from_number:
        return _error(400, 21606,
                      f"The From phone number {sender} is not a valid, SMS-capable "
                      "inbound phone number or short code for your account.")
    if len(body) > MAX_BODY_CHARS:
        return _error(400, 21617,
                      "The concatenated message body exceeds the 1600 character limit.")
    if to in state.blocked or to in state.opted_out:
        return _error(400, 21610, "Attempt to send to unsubscribed recipient")

    info = sms_info(body)
    sid, now = _sid("SM"), time.time()
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"
    resource = {
        "account_sid": account_sid, "api_version": API_VERSION, "body": body,
        "date_created": formatdate(now, usegmt=True), "date_sent": None,
        "date_updated": formatdate(now, usegmt=True), "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": sender,
        "messaging_service_sid": None, "num_media": "0", "num_segments": str(info.segments),
        "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")}, "to": to, "uri": uri,
    }
    state.messages[sid] = resource
    _add(state, to, {"id": sid, "from": "bot", "text": body, "buttons": [], "ts": now,
                     "segments": info.segments, "encoding": info.encoding})
    return JSONResponse(resource, status_code=201)


def _authenticated(request: Request, settings: Settings) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or settings.channels.twilio_auth_token is None:
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = settings.channels.twilio_auth_token.get_secret_value()
    account = settings.channels.twilio_account_sid or ""
    return (hmac.compare_digest(user.encode(), account.encode())
            and hmac.compare_digest(password.encode(), expected.encode()))


# -- the phones: control API -------------------------------------------------------

class SendRequest(BaseModel):
    user: str
    text: str = ""
    media_url: str | None = None  # an MMS picture (the gateway only reads text)


class UserRequest(BaseModel):
    user: str


class FailRequest(BaseModel):
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    after: int = 0


@router.post("/_sandbox/send")
async def sandbox_send(body: SendRequest, request: Request) -> dict:
    settings, state = _settings(request), _state(request)
    if not E164.fullmatch(body.user):
        raise HTTPException(400, "user must be a phone number in E.164 form, e.g. +15551234567")
    sid = _sid("SM")
    params = {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
        "FromCity": "", "Body": body.text, "FromCountry": "",
        "To": settings.channels.twilio_from_number or "",
        "ToZip": "", "NumSegments": str(sms_info(body.text).segments), "MessageSid": sid,
        "AccountSid": settings.channels.twilio_account_sid or "", "From": body.user,
        "ApiVersion": API_VERSION,
    }
    if body.media_url:
        params.update({"NumMedia": "1", "MediaUrl0": body.media_url,
                       "MediaContentType0": "image/jpeg"})
    info = sms_info(body.text)
    _add(state, body.user, {"id": sid, "from": "user", "text": body.text, "buttons": [],
                            "ts": time.time(), "segments": info.segments,
                            "encoding": info.encoding})
    if state.twilio_answers:
        _opt_out_handling(state, body.user, body.text)
    state.last_webhook[body.user] = params
    return {"status": await _deliver(request, params), "message_sid": sid}


def _opt_out_handling(state: _State, user: str, text: str) -> None:
    """Twilio's default keyword handling: it answers, and keeps the opt-out list.
    It knows the carrier keywords only (STOP, HELP, ...; not the German STOPP
    or HILFE, which the gateway answers itself)."""
    if not carrier_answers(text):
        return
    word = keyword(text, user in state.opted_out)
    if word == "stop":
        if user in state.opted_out:
            return
        state.opted_out.add(user)
        reply = TWILIO_STOP_TEXT
    elif word == "start":
        state.opted_out.discard(user)
        reply = TWILIO_START_TEXT
    elif word == "help":
        reply = TWILIO_HELP_TEXT
    else:
        return
    info = sms_info(reply)
    _add(state, user, {"id": _sid("SM"), "from": "bot", "by": "twilio", "text": reply,
                       "buttons": [], "ts": time.time(), "segments": info.segments,
                       "encoding": info.encoding})


class OptOutHandling(BaseModel):
    twilio_answers: bool


@router.post("/_sandbox/opt-out-handling")
async def sandbox_opt_out_handling(body: OptOutHandling, request: Request) -> dict:
    """Twilio's default opt-out handling on (it answers STOP/START/HELP and refuses
    sends to opted-out numbers) or off (Advanced Opt-Out disabled it)."""
    _state(request).twilio_answers = body.twilio_answers
    return {"ok": True}


@router.post("/_sandbox/redeliver")
async def sandbox_redeliver(body: UserRequest, request: Request) -> dict:
    """Twilio delivering the same webhook again (same MessageSid)."""
    params = _state(request).last_webhook.get(body.user)
    if params is None:
        raise HTTPException(404, "this user has sent nothing yet")
    return {"status": await _deliver(request, params), "message_sid": params["MessageSid"]}


async def _deliver(request: Request, params: dict[str, str]) -> int:
    settings = _settings(request)
    url = settings.base_url + INBOUND_PATH
    token = settings.channels.twilio_auth_token.get_secret_value()  # type: ignore[union-attr]
    signature = RequestValidator(token).compute_signature(url, params)
    response = await request.app.state.http.post(
        url, data=params, headers={"X-Twilio-Signature": signature,
                                   "User-Agent": "TwilioProxy/1.1"})
    return response.status_code


@router.get("/_sandbox/transcript")
async def sandbox_transcript(user: str, request: Request) -> list[dict]:
    return list(_state(request).transcripts.get(user, []))


@router.post("/_sandbox/fail")
async def sandbox_fail(body: FailRequest, request: Request) -> dict:
    if not 400 <= body.status <= 599 or body.times < 1:
        raise HTTPException(400, "status must be 4xx/5xx and times >= 1")
    _state(request).failure = _Failure(body.status, body.times, body.retry_after, body.after)
    return {"ok": True}


@router.post("/_sandbox/block")
async def sandbox_block(body: UserRequest, request: Request) -> dict:
    """The carrier has this number as unsubscribed: sends to it fail with 21610."""
    _state(request).blocked.add(body.user)
    return {"ok": True}


@router.post("/_sandbox/reset")
async def sandbox_reset(request: Request) -> dict:
    _new_state(request)
    return {"ok": True}
