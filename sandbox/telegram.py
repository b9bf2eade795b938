"""A local Telegram: the Bot API subset Front Door uses, and Telegram users.

Bot API: `POST|GET /bot{token}/{method}` with JSON, form-urlencoded (what
aiogram sends) or multipart bodies, answering `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}` like api.telegram.org.
sendMessage parses HTML like Telegram (400 "can't parse entities" for unknown
tags, unbalanced or badly nested tags, bare `<`/`&`/`>`) and stores the plain
text with its entities. Stricter than Telegram in one way: a bare `>` is
rejected too, as the Bot API documentation asks.

Users: `/_sandbox/send` builds a real Update for a private chat and delivers it
like Telegram does: POSTed to the webhook with the secret-token header, or
queued for getUpdates after deleteWebhook. Until setWebhook is called the
gateway's own webhook (settings.base_url + /channels/telegram/webhook) is
registered, as after `frontdoor telegram set-webhook`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import random
import re
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.settings import Settings

router = APIRouter()

WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
FIRST_USER_ID = 700_000_001
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                "upload_voice", "upload_document", "choose_sticker", "find_location",
                "record_video_note", "upload_video_note"}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


# -- Telegram HTML -------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'"
                  r"|[^\s\"'>]+))?)*)\s*>")
_ATTR = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_KINDS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
          "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
          "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link",
          "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    name: str
    kind: str
    start: int
    attrs: dict[str, str]
    in_pre: bool = False  # <code class="language-x"> inside <pre>: no entity of its own


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Telegram HTML to (plain text, entities); ValueError with Telegram's
    description when it cannot be parsed. Offsets are UTF-16 code units."""
    plain: list[str] = []
    units = 0
    stack: list[_Open] = []
    entities: list[dict] = []
    i = 0

    def fail(message: str) -> ValueError:
        return ValueError(f"Bad Request: can't parse entities: {message} at byte offset "
                          f"{len(text[:i].encode())}")

    while i < len(text):
        char = text[i]
        if char == "<":
            match = _TAG.match(text, i)
            if match is None:
                raise fail("Unclosed start tag")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if closing:
                if not stack:
                    raise fail(f'Unexpected end tag "{name}"')
                top = stack.pop()
                if top.name != name:
                    raise fail(f'Can\'t find end tag corresponding to start tag "{top.name}"')
                if units > top.start and not top.in_pre:
                    entities.append(_entity(top, units))
                elif top.in_pre and top.attrs.get("class", "").startswith("language-"):
                    stack[-1].attrs["language"] = top.attrs["class"][len("language-"):]
            else:
                kind = _KINDS.get(name)
                if kind is None:
                    raise fail(f'Unsupported start tag "{name}"')
                attrs = {m.group(1).lower(): html.unescape(next(
                    (g for g in m.groups()[1:] if g is not None), ""))
                    for m in _ATTR.finditer(match.group(3))}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail('Unsupported start tag "span"')
                if name == "a" and not attrs.get("href"):
                    raise fail('Tag "a" must have attribute "href"')
                opened = _Open(name, kind, units, attrs)
                outer = {o.kind for o in stack}
                if kind == "code" and stack and stack[-1].kind == "pre" \
                        and units == stack[-1].start:
                    opened.in_pre = True  # <pre><code class="language-x">
                elif outer & {"code", "pre"}:
                    raise fail(f'Can\'t nest "{name}" inside a code entity')
                elif (kind in ("code", "pre") and outer - {"blockquote"}) or (
                        kind in ("text_link", "custom_emoji")
                        and outer & {"text_link", "custom_emoji"}):
                    raise fail(f'Can\'t nest "{name}" inside "{stack[-1].name}"')
                elif kind == "blockquote" and "blockquote" in outer:
                    raise fail("Blockquotes can't be nested")
                stack.append(opened)
            i = match.end()
            continue
        if char == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                raise fail("Unsupported HTML entity")
            named, dec, hexa = match.groups()
            char = _NAMED[named] if named else chr(int(dec) if dec else int(hexa, 16))
            plain.append(char)
            units += _units(char)
            i = match.end()
            continue
        if char == ">":
            raise fail('Character ">" must be escaped')
        plain.append(char)
        units += _units(char)
        i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return _strip("".join(plain), entities)


def _entity(opened: _Open, end: int) -> dict:
    entity = {"offset": opened.start, "length": end - opened.start, "type": opened.kind}
    if opened.kind == "text_link":
        entity["url"] = opened.attrs["href"]
    if opened.kind == "pre" and opened.attrs.get("language"):
        entity["language"] = opened.attrs["language"]
    if opened.kind == "custom_emoji":
        entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
    if opened.kind == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def _strip(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram trims the message; entities move and shrink with it."""
    lead = _units(text) - _units(text.lstrip())
    text = text.strip()
    size = _units(text)
    kept = []
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return text, kept


# -- state ---------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Chat:
    user: str
    id: int
    first_name: str
    last_name: str | None = None
    blocked: bool = False
    language_code: str = "en"  # the user's app language, sent with each of their messages
    next_message_id: int = 1
    messages: dict[int, dict] = field(default_factory=dict)  # message_id -> Message
    transcript: list[dict] = field(default_factory=list)
    last_update: dict | None = None

    def user_object(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name,
                "username": re.sub(r"[^A-Za-z0-9_]", "_", self.user)[:32],
                "language_code": self.language_code}
        if self.last_name:
            user["last_name"] = self.last_name
        return user

    def chat_object(self) -> dict:
        chat = {"id": self.id, "first_name": self.first_name, "type": "private",
                "username": re.sub(r"[^A-Za-z0-9_]", "_", self.user)[:32]}
        if self.last_name:
            chat["last_name"] = self.last_name
        return chat

    def new_message_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id - 1


class TelegramSandbox:
    def __init__(self, settings: Settings) -> None:
        secret = settings.channels.telegram_webhook_secret
        self.settings = settings
        self.chats: dict[str, Chat] = {}
        self.next_update_id = random.randint(100_000_000, 800_000_000)
        self.webhook: dict[str, Any] | None = {
            "url": settings.base_url + WEBHOOK_PATH,
            "secret": secret.get_secret_value() if secret else None,
            "allowed_updates": [],
        }
        self.pending: list[dict] = []  # for getUpdates, while no webhook is set
        self.arrived = asyncio.Event()
        self.callbacks: dict[str, bool] = {}  # callback_query id -> answered
        self.failures: list[tuple[int, int | None]] = []  # (status, retry_after) to answer next
        self.fail_after = 0  # calls still to let through before the failures start
        self.calls: list[dict] = []

    @property
    def bot_user(self) -> dict:
        token = self.settings.channels.telegram_bot_token
        bot_id = int(token.get_secret_value().split(":", 1)[0]) if token else 1
        return {"id": bot_id, "is_bot": True, "first_name": "Front Door",
                "username": "frontdoor_sandbox_bot", "can_join_groups": False,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def chat(self, user: str, first_name: str | None = None,
             last_name: str | None = None) -> Chat:
        if user not in self.chats:
            self.chats[user] = Chat(user, FIRST_USER_ID + len(self.chats),
                                    first_name or user[:64] or "User", last_name)
        return self.chats[user]

    def chat_by_id(self, chat_id: Any) -> Chat:
        try:
            wanted = int(chat_id)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        for chat in self.chats.values():
            if chat.id == wanted:
                return chat
        raise ApiError(400, "Bad Request: chat not found")

    def update(self, **body: Any) -> dict:
        self.next_update_id += 1
        return {"update_id": self.next_update_id, **body}


def _state(request: Request) -> TelegramSandbox:
    app = request.app
    if getattr(app.state, "telegram_sandbox", None) is None:
        app.state.telegram_sandbox = TelegramSandbox(app.state.settings)
    return app.state.telegram_sandbox


def _transcript_line(message: dict, sender: str, text: str) -> dict:
    markup = message.get("reply_markup") or {}
    titles = [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    line = {"id": str(message["message_id"]), "from": sender, "text": text, "buttons": titles,
            "ts": time.time()}
    if markup.get("keyboard"):  # a reply keyboard: what the user's app shows under the input
        line["keyboard"] = [
            {"text": b if isinstance(b, str) else b.get("text", ""),
             "request_contact": bool(not isinstance(b, str) and b.get("request_contact"))}
            for row in markup["keyboard"] for b in row]
    return line


# -- Bot API ----------------------------------------------------------------------------


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if not body:
        return params
    if "json" in ctype:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: parameters must be a JSON object")
        params.update(data)
    elif ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and part.get_filename() is None:
                params[collapse_rfc2231_value(name)] = part.get_content()
    else:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params


def _json_field(value: Any) -> Any:
    """Objects arrive JSON-encoded in form bodies, as objects in JSON bodies."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
    return value


def _flag(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _keyboard(value: Any) -> dict | None:
    if value in (None, ""):
        return None
    markup = _json_field(value)
    if isinstance(markup, dict) and "keyboard" in markup:
        return _reply_keyboard(markup)
    if isinstance(markup, dict) and markup.get("remove_keyboard") is True:
        return {"remove_keyboard": True}
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup "
                            "should be an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline "
                                    "keyboard")
            data = button.get("callback_data")
            if data is None and not button.get("url"):
                raise ApiError(400, "Bad Request: can't find field \"callback_data\"")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def _reply_keyboard(markup: dict) -> dict:
    """A ReplyKeyboardMarkup: buttons under the input field that send their text,
    or (request_contact) the user's own contact."""
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: field \"keyboard\" of the ReplyKeyboardMarkup should "
                            "be an Array of Arrays")
    for row in rows:
        for button in row:
            if isinstance(button, str):
                continue
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
    return {k: markup[k] for k in ("keyboard", "resize_keyboard", "one_time_keyboard")
            if k in markup}


def send_message(sandbox: TelegramSandbox, params: dict) -> dict:
    chat = sandbox.chat_by_id(params.get("chat_id"))
    if chat.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    raw = str(params.get("text") or "")
    parse_mode = str(params.get("parse_mode") or "")
    if parse_mode.lower() == "html":
        try:
            text, entities = parse_html(raw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    elif parse_mode:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in the sandbox")
    else:
        text, entities = raw.strip(), []
    if not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if _units(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    message: dict[str, Any] = {"message_id": chat.new_message_id(), "from": sandbox.bot_user,
                               "chat": chat.chat_object(), "date": int(time.time()),
                               "text": text}
    if entities:
        message["entities"] = entities
    if (markup := _keyboard(params.get("reply_markup"))) is not None:
        message["reply_markup"] = markup
    chat.messages[message["message_id"]] = message
    chat.transcript.append(_transcript_line(message, "bot", text))
    return message


def send_chat_action(sandbox: TelegramSandbox, params: dict) -> bool:
    chat = sandbox.chat_by_id(params.get("chat_id"))
    if chat.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if params.get("action") not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    return True


def answer_callback_query(sandbox: TelegramSandbox, params: dict) -> bool:
    query_id = str(params.get("callback_query_id") or "")
    if sandbox.callbacks.get(query_id) is not False:
        raise ApiError(400, "Bad Request: query is too old and response timeout expired or "
                            "query ID is invalid")
    sandbox.callbacks[query_id] = True
    return True


def set_webhook(sandbox: TelegramSandbox, params: dict) -> bool:
    url = str(params.get("url") or "")
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
    allowed = _json_field(params.get("allowed_updates") or "[]")
    sandbox.webhook = {"url": url, "secret": secret, "allowed_updates": allowed} if url else None
    return True


def delete_webhook(sandbox: TelegramSandbox, params: dict) -> bool:
    sandbox.webhook = None
    if _flag(params.get("drop_pending_updates")):
        sandbox.pending.clear()
    return True


def get_webhook_info(sandbox: TelegramSandbox, params: dict) -> dict:
    info = {"url": sandbox.webhook["url"] if sandbox.webhook else "",
            "has_custom_certificate": False, "pending_update_count": len(sandbox.pending)}
    if sandbox.webhook:
        info.update(max_connections=40, ip_address="127.0.0.1")
        if sandbox.webhook["allowed_updates"]:
            info["allowed_updates"] = sandbox.webhook["allowed_updates"]
    return info


async def get_updates(sandbox: TelegramSandbox, params: dict) -> list[dict]:
    if sandbox.webhook:
        raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                            "use deleteWebhook to delete the webhook first")
    offset = int(params.get("offset") or 0)
    limit = min(max(int(params.get("limit") or 100), 1), 100)
    timeout = min(float(params.get("timeout") or 0), 50.0)
    if offset > 0:  # confirms every update before it
        sandbox.pending = [u for u in sandbox.pending if u["update_id"] >= offset]
    if not sandbox.pending and timeout > 0:
        sandbox.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sandbox.arrived.wait(), timeout)
    return sandbox.pending[:limit]


_METHODS = {
    "getme": lambda sandbox, params: sandbox.bot_user,
    "sendmessage": send_message,
    "sendchataction": send_chat_action,
    "answercallbackquery": answer_callback_query,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "getupdates": get_updates,
}
_DESCRIPTIONS = {"setwebhook": "Webhook was set", "deletewebhook": "Webhook was deleted"}


def _error(code: int, description: str, parameters: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    headers = {}
    if parameters:
        body["parameters"] = parameters
        if "retry_after" in parameters:
            headers["Retry-After"] = str(parameters["retry_after"])
    return JSONResponse(body, status_code=code, headers=headers)


@router.api_route("/bot{token}/{method}", methods=["GET", "POST"])
async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
    sandbox = _state(request)
    expected = sandbox.settings.channels.telegram_bot_token
    if expected is None or not hmac.compare_digest(token.encode(),
                                                   expected.get_secret_value().encode()):
        return _error(401, "Unauthorized")
    name = method.lower()
    handler = _METHODS.get(name)
    if handler is None:
        return _error(404, "Not Found: method not found")
    try:
        params = await _params(request)
    except (ApiError, ValueError) as exc:
        return _error(400, getattr(exc, "description", "Bad Request: can't parse parameters"))
    sandbox.calls.append({"method": method, "params": {
        k: v for k, v in params.items() if k != "secret_token"}, "ts": time.time()})
    if sandbox.failures and name != "getupdates" and sandbox.fail_after > 0:
        sandbox.fail_after -= 1
    elif sandbox.failures and name != "getupdates":
        status, retry_after = sandbox.failures.pop(0)
        if status == 429:
            wait = retry_after if retry_after is not None else 1
            return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        return _error(status, "Internal Server Error")
    try:
        result = handler(sandbox, params)
        if asyncio.iscoroutine(result):
            result = await result
    except ApiError as exc:
        return _error(exc.code, exc.description, exc.parameters)
    except (TypeError, ValueError):
        return _error(400, f"Bad Request: invalid parameters for {method}")
    body: dict[str, Any] = {"ok": True, "result": result}
    if name in _DESCRIPTIONS:
        body["description"] = _DESCRIPTIONS[name]
    return JSONResponse(body)


# -- users (control API) -------------------------------------------------------------------


class SendBody(BaseModel):
    user: str
    text: str = ""
    # what the user sends: text, or something the bot can't read, or an edit of
    # their last message, or a message in a group the bot is in
    # contact: the user's own contact (what a request_contact button sends), with
    # `phone`; contact_other: someone else's contact card with `phone`
    kind: str = "text"  # text | sticker | photo | voice | document | edit | group | contact...
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language_code: str | None = None  # the user's app language (kept for later messages)


class UserBody(BaseModel):
    user: str


class PressBody(BaseModel):
    user: str
    message_id: str
    index: int
    # A forged press: a client may send any callback_data for a message (the
    # Bot API's own clients do not, MTProto ones can); the bot must not trust it.
    data: str | None = None


class FailBody(BaseModel):
    status: int
    times: int = 1
    retry_after: int | None = None
    after: int = 0  # let this many calls succeed first (e.g. fail part 2 of a split message)


class BlockBody(BaseModel):
    user: str
    blocked: bool = True


_MEDIA = {
    "sticker": ("sticker", {"width": 512, "height": 512, "emoji": "👍", "set_name": "Sandbox",
                            "is_animated": False, "is_video": False, "type": "regular"}),
    "voice": ("voice", {"duration": 3, "mime_type": "audio/ogg", "file_size": 8123}),
    "document": ("document", {"file_name": "receipt.pdf", "mime_type": "application/pdf",
                              "file_size": 48213}),
}


def _file(kind: str) -> dict:
    suffix = "".join(random.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", k=24))
    return {"file_id": f"AgAC{kind[:3]}{suffix}", "file_unique_id": f"AQAD{suffix[:10]}"}


def _user_message(chat: Chat, body: SendBody) -> tuple[dict, str]:
    """A Message from the user, and what their own app shows for it."""
    message: dict[str, Any] = {"message_id": chat.new_message_id(), "from": chat.user_object(),
                               "chat": chat.chat_object(), "date": int(time.time())}
    if body.kind == "text":
        message["text"] = body.text
        if body.text.startswith("/"):
            command = body.text.split(" ", 1)[0]
            message["entities"] = [{"offset": 0, "length": _units(command),
                                    "type": "bot_command"}]
        return message, body.text
    if body.kind == "photo":
        message["photo"] = [{**_file("photo"), "width": w, "height": h, "file_size": w * 40}
                            for w, h in ((90, 67), (320, 240), (1280, 960))]
        if body.text:
            message["caption"] = body.text
        return message, "[photo]"
    if body.kind in ("contact", "contact_other"):
        if not body.phone:
            raise HTTPException(422, "a contact needs a phone")
        # Telegram sends the number without "+"; user_id only for a Telegram user's
        # own contact, or a saved contact who is on Telegram (a different id).
        contact: dict[str, Any] = {"phone_number": body.phone.lstrip("+"),
                                   "first_name": chat.first_name}
        contact["user_id"] = chat.id if body.kind == "contact" else chat.id + 10_000_000
        message["contact"] = contact
        return message, f"[contact: {body.phone}]"
    if body.kind in _MEDIA:
        key, extra = _MEDIA[body.kind]
        message[key] = {**_file(key), **extra}
        return message, f"[{body.kind}]"
    raise HTTPException(422, f"unknown kind {body.kind!r}")


async def _deliver(request: Request, sandbox: TelegramSandbox, update: dict) -> dict:
    """Deliver like Telegram: to the webhook with its secret, else queue for getUpdates."""
    kind = next(k for k in update if k != "update_id")
    webhook = sandbox.webhook
    allowed = (webhook or {}).get("allowed_updates") or []
    if allowed and kind not in allowed:
        return {"status": 204, "filtered": True, "update_id": update["update_id"]}
    if webhook is None:
        sandbox.pending.append(update)
        sandbox.arrived.set()
        # no webhook call to report: 202 = waiting for the bot's getUpdates
        return {"status": 202, "queued": True, "update_id": update["update_id"]}
    headers = {"Content-Type": "application/json"}
    if webhook["secret"]:
        headers[SECRET_HEADER] = webhook["secret"]
    http: httpx.AsyncClient = request.app.state.http
    try:
        response = await http.post(webhook["url"], content=json.dumps(update), headers=headers)
    except httpx.HTTPError as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}",
                "update_id": update["update_id"]}
    return {"status": response.status_code, "update_id": update["update_id"]}


@router.post("/_sandbox/send")
async def user_sends(body: SendBody, request: Request) -> dict:
    sandbox = _state(request)
    chat = sandbox.chat(body.user, body.first_name, body.last_name)
    if body.language_code:
        chat.language_code = body.language_code
    if body.kind == "edit":
        last = next((m for m in reversed(chat.messages.values())
                     if m["from"]["id"] == chat.id and "text" in m), None)
        if last is None:
            raise HTTPException(409, "this user has no text message to edit")
        edited = {**last, "text": body.text, "edit_date": int(time.time())}
        chat.messages[last["message_id"]] = edited
        for line in chat.transcript:
            if line["id"] == str(last["message_id"]):
                line["text"] = body.text
        update = sandbox.update(edited_message=edited)
    elif body.kind == "group":
        update = sandbox.update(message={
            "message_id": chat.new_message_id(), "from": chat.user_object(),
            "chat": {"id": -4_000_000_000 - chat.id, "title": "Sandbox group", "type": "group"},
            "date": int(time.time()), "text": body.text})
    else:
        message, shown = _user_message(chat, body)
        chat.messages[message["message_id"]] = message
        chat.transcript.append(_transcript_line(message, "user", shown))
        update = sandbox.update(message=message)
    chat.last_update = update
    return await _deliver(request, sandbox, update)


@router.post("/_sandbox/redeliver")
async def redeliver(body: UserBody, request: Request) -> dict:
    """Telegram retries an update its webhook did not acknowledge, same update_id."""
    sandbox = _state(request)
    chat = sandbox.chats.get(body.user)
    if chat is None or chat.last_update is None:
        raise HTTPException(404, "nothing to redeliver for this user")
    return await _deliver(request, sandbox, chat.last_update)


@router.post("/_sandbox/press")
async def user_presses(body: PressBody, request: Request) -> dict:
    sandbox = _state(request)
    chat = sandbox.chats.get(body.user)
    message = chat.messages.get(int(body.message_id)) if chat and body.message_id.isdigit() \
        else None
    if chat is None or message is None or message["from"]["id"] == chat.id:
        raise HTTPException(404, "no such bot message in this user's chat")
    buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
               for b in row]
    if not 0 <= body.index < len(buttons) or "callback_data" not in buttons[body.index]:
        raise HTTPException(422, "no such button")
    query_id = str(random.randint(10**17, 10**19))
    sandbox.callbacks[query_id] = False
    update = sandbox.update(callback_query={
        "id": query_id, "from": chat.user_object(), "message": message,
        "chat_instance": str(abs(hash((chat.id, "sandbox"))) % 10**19),
        "data": buttons[body.index]["callback_data"] if body.data is None else body.data})
    chat.last_update = update
    return {**await _deliver(request, sandbox, update), "callback_query_id": query_id}


@router.get("/_sandbox/transcript")
async def transcript(user: str, request: Request) -> list[dict]:
    chat = _state(request).chats.get(user)
    return list(chat.transcript) if chat else []


@router.post("/_sandbox/fail")
async def fail_next(body: FailBody, request: Request) -> dict:
    if body.status not in (429, 500, 502, 503):
        raise HTTPException(422, "status must be 429 or a 5xx")
    sandbox = _state(request)
    sandbox.failures.extend([(body.status, body.retry_after)] * body.times)
    sandbox.fail_after = body.after
    return {"ok": True}


@router.post("/_sandbox/block")
async def block(body: BlockBody, request: Request) -> dict:
    """The user blocks (or unblocks) the bot: sendMessage answers 403."""
    _state(request).chat(body.user).blocked = body.blocked
    return {"ok": True}


@router.get("/_sandbox/calls")
async def calls(request: Request) -> list[dict]:
    """Every Bot API call the bot made, oldest first (secret tokens left out)."""
    return _state(request).calls


@router.get("/_sandbox/callbacks")
async def callback_answers(request: Request) -> dict[str, bool]:
    """callback_query id -> answered, for every button press so far."""
    return _state(request).callbacks


@router.post("/_sandbox/reset")
async def reset(request: Request) -> dict:
    request.app.state.telegram_sandbox = TelegramSandbox(request.app.state.settings)
    return {"ok": True}
