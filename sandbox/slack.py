"""A local Slack: the Web API subset the gateway uses, and users who write to the
app with Events API and interactivity requests signed the way Slack signs them.

Web API (https://docs.slack.dev/reference/methods): `/api/{method}` for
auth.test, chat.postMessage, chat.update, users.info and conversations.open;
arguments as query, form or JSON; `Authorization: Bearer <bot token>`.
Answers are `{"ok": true, ...}` or, still with HTTP 200, `{"ok": false,
"error": "..."}` (invalid_auth, channel_not_found, invalid_blocks with an
`errors` list...); a rate limit is HTTP 429 `{"ok": false, "error":
"ratelimited"}` with a Retry-After header. Blocks are checked against Block
Kit's shapes and limits.

Inbound requests go to the gateway's Request URL with X-Slack-Request-Timestamp
and X-Slack-Signature = "v0=" + HMAC-SHA256(signing secret, "v0:{ts}:{body}").

Control API for the /sandbox page and the tests, under /_sandbox/: send (a DM,
or a mention in a channel), retry (Slack's redelivery of the last event, with
X-Slack-Retry-Num), press (a block_actions request for a button), transcript,
calls (the Web API calls received), fail (optionally after letting
some calls through) and reset. State is in memory, per app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from slack_sdk.signature import SignatureVerifier

from core.settings import Settings

router = APIRouter()

EVENTS_PATH = "/channels/slack/events"
TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "frontdoor-sandbox"
APP_ID = "A0FRONTDOOR"
BOT_USER_ID = "U0FRONTDOOR"
BOT_ID = "B0FRONTDOOR"
DEFAULT_CHANNEL = "C0GENERAL"
VERIFICATION_TOKEN = "sandbox-verification-token"  # legacy field Slack still sends
MAX_TEXT = 40_000
_ID_CHARS = string.ascii_uppercase + string.digits


def user_ids(name: str) -> tuple[str, str]:
    """The Slack user id and DM channel id of a sandbox user: alice -> U0ALICE…, D0ALICE…"""
    clean = re.sub(r"[^A-Z0-9]", "", name.upper())[:12] or "USER"
    suffix = hashlib.sha1(name.encode()).hexdigest()[:4].upper()
    return f"U0{clean}{suffix}", f"D0{clean}{suffix}"


def _random_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(length))


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _User:
    name: str
    id: str
    dm: str

    @property
    def real_name(self) -> str:
        return self.name.title()

    @property
    def email(self) -> str:
        return re.sub(r"[^a-z0-9._-]+", ".", self.name.lower()).strip(".") + "@example.com"

    def resource(self) -> dict:
        """A users.info `user` object."""
        return {
            "id": self.id, "team_id": TEAM_ID, "name": self.name, "deleted": False,
            "real_name": self.real_name, "tz": "Europe/London", "is_bot": False,
            "is_admin": False, "is_app_user": False,
            "profile": {"real_name": self.real_name, "display_name": self.name,
                        "real_name_normalized": self.real_name,
                        "display_name_normalized": self.name, "email": self.email,
                        "team": TEAM_ID},
        }


@dataclass
class _Message:
    ts: str
    channel: str
    text: str  # as on the wire: entities escaped
    shown: str  # what the person sees: their own words, or the bot's mrkdwn
    owner: str | None  # the sandbox user whose conversation this is
    user: str | None = None  # the author, for a person's message
    blocks: list[dict] = field(default_factory=list)
    thread_ts: str | None = None

    @property
    def bot(self) -> bool:
        return self.user is None

    def buttons(self) -> list[tuple[str, dict]]:
        """(block_id, element) of every button, in order."""
        return [(block.get("block_id", ""), element) for block in self.blocks
                if block.get("type") == "actions"
                for element in block.get("elements", []) if element.get("type") == "button"]

    def resource(self) -> dict:
        """The message object Slack returns and puts in block_actions payloads."""
        message: dict[str, Any] = {"type": "message", "text": self.text, "ts": self.ts,
                                   "team": TEAM_ID}
        if self.bot:
            message.update(user=BOT_USER_ID, bot_id=BOT_ID, app_id=APP_ID, blocks=self.blocks)
        else:
            message["user"] = self.user
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        return message


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    after: int = 0  # calls to let through before this one fails


@dataclass
class _State:
    users: dict[str, _User] = field(default_factory=dict)
    messages: dict[str, _Message] = field(default_factory=dict)  # ts -> message, in order
    channels: set[str] = field(default_factory=lambda: {DEFAULT_CHANNEL})
    last_event: dict[str, dict] = field(default_factory=dict)  # user -> body, retries, ts
    failures: list[_Failure] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    last_ts: float = 0.0

    def user(self, name: str) -> _User:
        if name not in self.users:
            user_id, dm = user_ids(name)
            self.users[name] = _User(name, user_id, dm)
        return self.users[name]

    def user_by_id(self, user_id: str) -> _User | None:
        return next((u for u in self.users.values() if u.id == user_id), None)

    def owner_of_dm(self, channel: str) -> _User | None:
        return next((u for u in self.users.values() if u.dm == channel), None)

    def next_ts(self) -> str:
        """Message timestamps: unique and increasing, as Slack's are per channel."""
        self.last_ts = max(time.time(), self.last_ts + 0.000001)
        return f"{self.last_ts:.6f}"

    def owner(self, channel: str, thread_ts: str | None) -> str | None:
        dm_user = self.owner_of_dm(channel)
        if dm_user is not None:
            return dm_user.name
        root = self.messages.get(thread_ts or "")
        return root.owner if root is not None and root.channel == channel else None


def _state(request: Request) -> _State:
    state = getattr(request.app.state, "slack_sandbox", None)
    if state is None:
        state = request.app.state.slack_sandbox = _State()
    return state


def _settings(request: Request) -> Settings:
    return request.app.state.settings


# -- Block Kit validation ----------------------------------------------------------


def block_errors(blocks: Any) -> list[str]:
    """Slack's `invalid_blocks` messages for the shapes and limits we emulate."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > 50:
        errors.append("no more than 50 items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{at}]")
            continue
        errors += _unique_id_errors(block.get("block_id"), f"{at}/block_id", block_ids)
        kind = block.get("type")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide either text or fields [json-pointer:{at}]")
            if "text" in block:
                errors += _text_errors(block["text"], f"{at}/text", 3000)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{at}/fields]")
            else:
                for j, item in enumerate(fields):
                    errors += _text_errors(item, f"{at}/fields/{j}", 2000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"must provide at least 1 item [json-pointer:{at}/elements]")
            elif len(elements) > 25:
                errors.append(f"no more than 25 items allowed [json-pointer:{at}/elements]")
            else:
                action_ids: set[str] = set()
                for j, element in enumerate(elements):
                    errors += _button_errors(element, f"{at}/elements/{j}", action_ids)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                errors.append(f"must provide 1 to 10 items [json-pointer:{at}/elements]")
            else:
                for j, element in enumerate(elements):
                    errors += _text_errors(element, f"{at}/elements/{j}", 3000)
        elif kind == "header":
            errors += _text_errors(block.get("text"), f"{at}/text", 150, plain_only=True)
        elif kind != "divider":
            errors.append(f"must be a valid enum value [json-pointer:{at}/type]")
    return errors


def _text_errors(obj: Any, at: str, limit: int, plain_only: bool = False) -> list[str]:
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"must be a valid {' or '.join(kinds)} text object [json-pointer:{at}]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{at}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{at}/text]"]
    if "emoji" in obj and obj["type"] != "plain_text":
        return [f"emoji is only allowed in plain_text [json-pointer:{at}/emoji]"]
    return []


def _unique_id_errors(value: Any, at: str, seen: set[str]) -> list[str]:
    """block_id / action_id: optional, 1 to 255 characters, unique within its scope."""
    if value is None:
        return []
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        return [f"must be 1 to 255 characters [json-pointer:{at}]"]
    if value in seen:
        return [f"duplicate {at.rsplit('/', 1)[-1]} [json-pointer:{at}]"]
    seen.add(value)
    return []


def _button_errors(element: Any, at: str, action_ids: set[str]) -> list[str]:
    if not isinstance(element, dict) or element.get("type") != "button":
        return [f"only buttons are emulated here [json-pointer:{at}/type]"]
    errors = _text_errors(element.get("text"), f"{at}/text", 75, plain_only=True)
    errors += _unique_id_errors(element.get("action_id"), f"{at}/action_id", action_ids)
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        errors.append(f"must be less than 2001 characters [json-pointer:{at}/value]")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be a valid enum value [json-pointer:{at}/style]")
    return errors


def _with_block_ids(blocks: list[dict]) -> list[dict]:
    """Slack gives every block without a block_id a random one."""
    return [block if "block_id" in block else {**block, "block_id": _random_id("", 5)}
            for block in blocks]


def _shown(text: str, blocks: list[dict]) -> str:
    """A bot message as the person reads it: its blocks' mrkdwn, or its text."""
    parts: list[str] = []
    for block in blocks:
        if block.get("type") in ("section", "header") and isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        for item in block.get("fields", []) if block.get("type") == "section" else []:
            parts.append(item.get("text", ""))
        if block.get("type") == "context":
            parts += [e.get("text", "") for e in block.get("elements", []) if "text" in e]
    return "\n".join(parts) if parts else text


# -- Web API -----------------------------------------------------------------------


async def _arguments(request: Request) -> dict:
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if raw and content_type.startswith("application/json"):
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        args.update(parsed)
    elif raw and content_type.startswith("application/x-www-form-urlencoded"):
        args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    if isinstance(args.get("blocks"), str):  # form-encoded blocks are a JSON string
        args["blocks"] = json.loads(args["blocks"])
    return args


def _authorized(request: Request, args: dict) -> str | None:
    """None when the bot token is right, else Slack's error code."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else args.get("token")
    if not token:
        return "not_authed"
    expected = _settings(request).channels.slack_bot_token
    if expected is None or not hmac.compare_digest(str(token).encode(),
                                                   expected.get_secret_value().encode()):
        return "invalid_auth"
    return None


def _fail(error: str, **extra: Any) -> dict:
    return {"ok": False, "error": error, **extra}


@router.api_route("/api/{method}", methods=["GET", "POST"])
async def web_api(method: str, request: Request) -> JSONResponse:
    state = _state(request)
    try:
        args = await _arguments(request)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse(_fail("invalid_json"))
    state.calls.append({"method": method,
                        "args": {k: v for k, v in args.items() if k != "token"}})
    if state.failures and state.failures[0].after > 0:
        state.failures[0].after -= 1
    elif state.failures:
        failure = state.failures.pop(0)
        if failure.status == 429:
            return JSONResponse(_fail("ratelimited"), status_code=429,
                                headers={"Retry-After": str(failure.retry_after or 1)})
        return JSONResponse(_fail("internal_error"), status_code=failure.status)
    if error := _authorized(request, args):
        return JSONResponse(_fail(error))
    handler = _METHODS.get(method)
    if handler is None:
        return JSONResponse(_fail("unknown_method"))
    return JSONResponse(handler(state, args))


def _auth_test(state: _State, args: dict) -> dict:
    return {"ok": True, "url": f"https://{TEAM_DOMAIN}.slack.com/", "team": "Front Door Sandbox",
            "user": "frontdoor", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
            "is_enterprise_install": False}


def _resolve_channel(state: _State, channel: Any) -> str | None:
    channel = str(channel or "")
    if channel.startswith(("U", "W")):  # posting to a user id goes to their DM
        user = state.user_by_id(channel)
        return user.dm if user else None
    if state.owner_of_dm(channel) is not None or channel in state.channels:
        return channel
    return None


def _message_errors(args: dict) -> dict | None:
    blocks, text = args.get("blocks"), args.get("text")
    if not blocks and not text:
        return _fail("no_text")
    if text is not None and len(str(text)) > MAX_TEXT:
        return _fail("msg_too_long")
    if blocks is not None and (errors := block_errors(blocks)):
        return _fail("invalid_blocks", errors=errors,
                     response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
    return None


def _post_message(state: _State, args: dict) -> dict:
    channel = _resolve_channel(state, args.get("channel"))
    if channel is None:
        return _fail("channel_not_found")
    if problem := _message_errors(args):
        return problem
    blocks = _with_block_ids(args.get("blocks") or [])
    text = str(args.get("text") or "")
    thread_ts = args.get("thread_ts") or None
    message = _Message(ts=state.next_ts(), channel=channel, text=text,
                       shown=_shown(text, blocks), owner=state.owner(channel, thread_ts),
                       blocks=blocks, thread_ts=thread_ts)
    state.messages[message.ts] = message
    return {"ok": True, "channel": channel, "ts": message.ts, "message": message.resource()}


def _update(state: _State, args: dict) -> dict:
    channel = _resolve_channel(state, args.get("channel"))
    if channel is None:
        return _fail("channel_not_found")
    message = state.messages.get(str(args.get("ts") or ""))
    if message is None or message.channel != channel:
        return _fail("message_not_found")
    if not message.bot:
        return _fail("cant_update_message")
    if problem := _message_errors(args):
        return problem
    if "blocks" in args:
        message.blocks = _with_block_ids(args.get("blocks") or [])
    if args.get("text") is not None:
        message.text = str(args["text"])
    message.shown = _shown(message.text, message.blocks)
    return {"ok": True, "channel": channel, "ts": message.ts, "text": message.text,
            "message": message.resource()}


def _users_info(state: _State, args: dict) -> dict:
    user = state.user_by_id(str(args.get("user") or ""))
    return {"ok": True, "user": user.resource()} if user else _fail("user_not_found")


def _conversations_open(state: _State, args: dict) -> dict:
    if args.get("channel"):
        channel = _resolve_channel(state, args["channel"])
        return {"ok": True, "channel": {"id": channel}} if channel else _fail("channel_not_found")
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if len(users) != 1:
        return _fail("not_enough_users" if not users else "method_not_supported_for_channel_type")
    user = state.user_by_id(users[0])
    return {"ok": True, "channel": {"id": user.dm}} if user else _fail("user_not_found")


_METHODS = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "users.info": _users_info,
    "conversations.open": _conversations_open,
}


# -- inbound: signed requests to the gateway ------------------------------------------


async def _deliver(request: Request, body: bytes, content_type: str,
                   timestamp: int | None = None, headers: dict | None = None) -> int:
    settings = _settings(request)
    if settings.channels.slack_signing_secret is None:
        raise HTTPException(503, "no Slack signing secret configured")
    ts = str(timestamp or int(time.time()))
    signature = SignatureVerifier(settings.channels.slack_signing_secret.get_secret_value()) \
        .generate_signature(timestamp=ts, body=body)
    response = await request.app.state.http.post(
        settings.base_url + EVENTS_PATH, content=body,
        headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                 "X-Slack-Signature": signature,
                 "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)", **(headers or {})})
    return response.status_code


class SendBody(BaseModel):
    user: str = Field(min_length=1, max_length=80)
    text: str = Field(default="", max_length=MAX_TEXT)
    mention: bool = False  # an app_mention in `channel` instead of a DM
    channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,20}$")
    thread_ts: str | None = None
    file: str | None = Field(default=None, max_length=200)  # share a file (file_share)


@router.post("/_sandbox/send")
async def send(body: SendBody, request: Request) -> dict:
    state = _state(request)
    user = state.user(body.user)
    ts = state.next_ts()
    wire = escape(body.text)
    if body.mention:
        channel = body.channel or DEFAULT_CHANNEL
        state.channels.add(channel)
        event: dict[str, Any] = {"type": "app_mention", "user": user.id,
                                 "text": f"<@{BOT_USER_ID}> {wire}".rstrip(), "ts": ts,
                                 "team": TEAM_ID, "channel": channel, "event_ts": ts}
    else:
        channel = user.dm
        event = {"type": "message", "user": user.id, "text": wire, "ts": ts, "team": TEAM_ID,
                 "channel": channel, "event_ts": ts, "channel_type": "im"}
    event["client_msg_id"] = str(uuid.uuid4())
    if body.text:
        event["blocks"] = [{"type": "rich_text", "block_id": _random_id("", 5), "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": body.text}]}]}]
    if body.thread_ts:
        event["thread_ts"] = body.thread_ts
    if body.file:
        event.update(subtype="file_share", upload=False, display_as_bot=False, files=[
            {"id": _random_id("F"), "name": body.file, "title": body.file,
             "filetype": body.file.rsplit(".", 1)[-1].lower(), "size": 1024, "user": user.id}])
    envelope = {
        "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "context_team_id": TEAM_ID,
        "context_enterprise_id": None, "api_app_id": APP_ID, "event": event,
        "type": "event_callback", "event_id": _random_id("Ev0"), "event_time": int(float(ts)),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False, "event_context": "4-" + secrets.token_urlsafe(24),
    }
    shown = body.text + (f"\n[file: {body.file}]" if body.file else "")
    state.messages[ts] = _Message(ts=ts, channel=channel, text=event["text"], shown=shown.strip(),
                                  owner=user.name, user=user.id, thread_ts=body.thread_ts)
    raw = json.dumps(envelope).encode()
    sent_at = int(time.time())
    state.last_event[user.name] = {"body": raw, "retries": 0, "sent_at": sent_at}
    status = await _deliver(request, raw, "application/json", sent_at)
    return {"status": status, "event_id": envelope["event_id"], "ts": ts, "user_id": user.id,
            "channel": channel}


class UserBody(BaseModel):
    user: str


@router.post("/_sandbox/retry")
async def retry(body: UserBody, request: Request) -> dict:
    """Slack's redelivery of the user's last event: same body (same event_id),
    a new timestamp and signature, X-Slack-Retry-Num counting up."""
    last = _state(request).last_event.get(body.user)
    if last is None:
        raise HTTPException(404, "no event from this user yet")
    last["retries"] += 1
    last["sent_at"] = max(int(time.time()), last["sent_at"] + 1)
    status = await _deliver(request, last["body"], "application/json", last["sent_at"],
                            {"X-Slack-Retry-Num": str(last["retries"]),
                             "X-Slack-Retry-Reason": "http_timeout"})
    return {"status": status, "event_id": json.loads(last["body"])["event_id"],
            "retry_num": last["retries"]}


class PressBody(BaseModel):
    user: str
    message_id: str
    index: int = Field(ge=0)


@router.post("/_sandbox/press")
async def press(body: PressBody, request: Request) -> dict:
    state = _state(request)
    message = state.messages.get(body.message_id)
    buttons = message.buttons() if message is not None else []
    if message is None or body.index >= len(buttons):
        raise HTTPException(404, "no such button on that message")
    user = state.user(body.user)
    block_id, element = buttons[body.index]
    action = {"action_id": element.get("action_id") or _random_id("", 5), "block_id": block_id,
              "text": element["text"], "type": "button", "action_ts": state.next_ts()}
    if "value" in element:
        action["value"] = element["value"]
    container = {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                 "is_ephemeral": False}
    if message.thread_ts:
        container["thread_ts"] = message.thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID, "token": VERIFICATION_TOKEN, "container": container,
        "trigger_id": f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**12)}."
                      f"{secrets.token_hex(16)}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel,
                    "name": "directmessage" if message.channel.startswith("D") else "general"},
        "message": message.resource(), "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/{secrets.randbelow(10**12)}/"
                        f"{secrets.token_urlsafe(18)}",
        "actions": [action],
    }
    form = urlencode({"payload": json.dumps(payload)}).encode()
    status = await _deliver(request, form, "application/x-www-form-urlencoded")
    return {"status": status, "action_ts": action["action_ts"]}


@router.get("/_sandbox/transcript")
async def transcript(user: str, request: Request) -> list[dict]:
    """The user's conversation with the app: their DM, and the threads they
    started by mentioning it. Bot text is mrkdwn, as Slack would render it."""
    return [{"id": m.ts, "from": "bot" if m.bot else "user", "text": m.shown,
             "buttons": [element["text"]["text"] for _, element in m.buttons()],
             "ts": float(m.ts), "channel": m.channel, "thread_ts": m.thread_ts}
            for m in _state(request).messages.values() if m.owner == user]


@router.get("/_sandbox/calls")
async def calls(request: Request) -> list[dict]:
    """The Web API calls received, oldest first (token left out)."""
    return _state(request).calls


class FailBody(BaseModel):
    status: int = Field(ge=429, le=599)
    times: int = Field(default=1, ge=1, le=100)
    retry_after: int | None = Field(default=None, ge=0, le=3600)
    after: int = Field(default=0, ge=0, le=100)  # let this many calls through first


@router.post("/_sandbox/fail")
async def fail(body: FailBody, request: Request) -> dict:
    """The next `times` Web API calls fail: 429 ratelimited, or a 5xx."""
    if body.status != 429 and body.status < 500:
        raise HTTPException(422, "status must be 429 or 5xx")
    failures = [_Failure(body.status, body.retry_after) for _ in range(body.times)]
    failures[0].after = body.after
    _state(request).failures.extend(failures)
    return {"ok": True}


@router.post("/_sandbox/reset")
async def reset(request: Request) -> dict:
    request.app.state.slack_sandbox = _State()
    return {"ok": True}
