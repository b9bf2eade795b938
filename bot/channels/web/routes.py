"""HTTP and WebSocket routes of the web chat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketState

from bot import BadInput, SessionInvalid
from bot.channels.texts import customer_language, from_accept_language, say
from bot.channels.web.labels import labels, widget_config
from bot.channels.web.parse import (
    ButtonFrame,
    LanguageFrame,
    MessageFrame,
    PingFrame,
    StateFrame,
    parse_client_frame,
)
from bot.gateway.inbound import clean_text
from bot.gateway.services import Services, services, services_ws
from bot.infra import metrics
from bot.rendering.web import entry_view, markdown_to_html
from core import web_assets
from core.addresses import client_address
from core.bodies import read_bounded
from core.i18n import DEFAULT_LANGUAGE, N_, supported
from core.models import InboundMessage
from core.webauth import origin_allowed, page_csp
from knowledge import ArticleNotFound

log = logging.getLogger(__name__)
router = APIRouter()
STATIC = Path(__file__).parent / "static"
CLOSE_UNKNOWN_SESSION = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_RATE_LIMITED = 4429  # the widget reconnects later, with its usual backoff
RATE_WINDOW_S = 10.0
MAX_SESSION_BYTES = 4096  # {"token": "..."}: a few hundred bytes
CLOSE_TRY_AGAIN = 1013  # the widget reconnects and re-sends what was not acknowledged
STORE_ATTEMPT_S = 2.0  # one try at Redis while a message waits to be stored
STORE_RETRY_S = 1.0
STORE_GIVE_UP_S = 60.0
STORE_DELAY_TEXT = N_("Sorry, we're experiencing a short delay. Your message will be sent "
                      "as soon as we can take it.")
TOO_MANY_CONNECTIONS_TEXT = N_("Too many connections from your address; "
                               "reconnecting in a moment.")
TOO_FAST_TEXT = N_("You're sending messages very fast; please wait a moment.")
T = TypeVar("T")


class SessionRequest(BaseModel):
    token: str | None = None


class SessionResponse(BaseModel):
    token: str
    # The language the widget should speak: the customer's, once they have one,
    # else the browser's (Accept-Language), else English.
    language: str = DEFAULT_LANGUAGE


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    base = str(request.base_url).rstrip("/")
    html = svc.templates.get_template("index.html").render(
        widget_url=f"{base}/webchat/widget.js", base_url=base
    )
    return HTMLResponse(html, headers={
        "Content-Security-Policy": page_csp(request, images=svc.settings.image_hosts),
        "X-Content-Type-Options": "nosniff"})


@router.get("/help/{article_id}", response_class=HTMLResponse, include_in_schema=False)
async def help_article(article_id: str, request: Request, lang: str = "",
                       svc: Services = Depends(services)) -> HTMLResponse:
    """A published article as a public page: where the widget's "Help article"
    card links to, in the language the customer was shown it (`lang`)."""
    try:
        article = await svc.kb_editor.store.get(article_id[:80])
    except ArticleNotFound:
        article = None
    if article is None or article.status != "published":
        raise HTTPException(404, "no such help article")
    language = supported(lang) if lang else browser_language(request)
    shown = language if article.has(language) else article.language
    text = article.text(shown)
    base = str(request.base_url).rstrip("/")
    html = svc.templates.get_template("help.html").render(
        language=shown, title=text.title, answer_html=markdown_to_html(text.answer_for("web")),
        kicker=labels(shown)["help_article"], widget_url=f"{base}/webchat/widget.js",
        base_url=base)
    return HTMLResponse(html, headers={
        "Content-Security-Policy": page_csp(request, images=svc.settings.image_hosts),
        "X-Content-Type-Options": "nosniff"})


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/webchat/{name}", include_in_schema=False)
async def widget_asset(name: str, request: Request) -> Response:
    if name not in ("widget.js", "widget.css", "page.css"):
        raise HTTPException(404)
    media = "text/javascript" if name.endswith(".js") else "text/css"
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Access-Control-Allow-Origin": "*"}
    if name == "widget.js":  # with the shared scripts in front: one <script> tag embeds it
        # ... and its labels, starting in the browser's language (the session
        # then says the customer's, if they have one).
        config = widget_config(browser_language(request))
        headers["Vary"] = "Accept-Language"
        return Response(web_assets.bundle(STATIC / name, config), media_type=media,
                        headers=headers)
    return FileResponse(STATIC / name, media_type=media, headers=headers)


def browser_language(connection: HTTPConnection) -> str:
    """The supported language the browser prefers (Accept-Language), else English."""
    return from_accept_language(connection.headers.get("accept-language")) or DEFAULT_LANGUAGE


def _cors_origin(request: Request, svc: Services) -> str | None:
    """The widget may open a session from a page on one of
    FRONTDOOR_ALLOWED_ORIGINS: that Origin, to echo back; any other, None."""
    origin = request.headers.get("origin")
    return origin if origin is not None and origin in svc.settings.allowed_origins else None


@router.options("/webchat/session", include_in_schema=False, status_code=204)
async def session_preflight(request: Request, svc: Services = Depends(services)) -> Response:
    """CORS preflight for the embedded widget: allowed origins only, no credentials."""
    origin = _cors_origin(request, svc)
    if origin is None:
        raise HTTPException(403, "this origin may not embed the web chat")
    return Response(status_code=204, headers={
        "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600",
        "Vary": "Origin"})


@router.post("/webchat/session", response_model=SessionResponse, tags=["web chat"],
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": SessionRequest.model_json_schema()}}}})
async def open_session(request: Request, response: Response,
                       svc: Services = Depends(services)) -> SessionResponse:
    """Keep a still-valid session token, or issue a new one (a new visitor).
    Counted per client address first: past the limit, 429 with Retry-After.
    Readable cross-origin from FRONTDOOR_ALLOWED_ORIGINS only (no credentials:
    the token is in the body, never a cookie)."""
    wait_s = await svc.visitor_limits.count("session", client_address(request, svc.settings))
    if wait_s:
        raise HTTPException(429, "Too many chat sessions from your address; "
                                 "please try again in a moment.",
                            headers={"Retry-After": str(wait_s)})
    response.headers["Vary"] = "Origin"
    origin = _cors_origin(request, svc)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    # Read here, bounded while reading, rather than by FastAPI (which reads any size).
    raw = await read_bounded(request, MAX_SESSION_BYTES, require_length=False)
    try:
        body = SessionRequest.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise HTTPException(422, "expected a JSON object with an optional token") from exc
    if body.token:
        with contextlib.suppress(SessionInvalid):
            visitor = svc.sessions.visitor(body.token)
            customer = await svc.identities.find("web", visitor)
            language = await customer_language(svc.redis, customer) or browser_language(request)
            return SessionResponse(token=body.token, language=language)
    return SessionResponse(token=svc.sessions.new_token(), language=browser_language(request))


@router.websocket("/webchat/ws")
async def chat_socket(websocket: WebSocket, token: str = "",
                      svc: Services = Depends(services_ws)) -> None:
    if not origin_allowed(websocket, svc.settings.allowed_origins):
        await websocket.close(code=CLOSE_FORBIDDEN_ORIGIN)
        return
    await websocket.accept()
    address = client_address(websocket, svc.settings)
    wait_s = await svc.visitor_limits.count("connect", address)
    if wait_s:
        await websocket.send_json({"type": "error", "code": "rate_limited", "client_id": None,
                                   "retry_after": wait_s,
                                   "text": say(browser_language(websocket),
                                               TOO_MANY_CONNECTIONS_TEXT)})
        await websocket.close(code=CLOSE_RATE_LIMITED, reason="rate limited")
        return
    try:
        visitor = svc.sessions.visitor(token)
    except SessionInvalid as exc:
        await websocket.close(code=CLOSE_UNKNOWN_SESSION, reason=str(exc)[:100])
        return
    # Only looked up: a visitor who never writes leaves nothing in Redis.
    current = _Current(await svc.identities.find("web", visitor), browser_language(websocket))
    metrics.WEBCHAT_CONNECTIONS.inc()
    try:
        pusher = asyncio.create_task(_push(websocket, svc, visitor, current))
        current.pusher = pusher
        waiter = asyncio.create_task(current.subscribed.wait())
        try:
            # The history goes out first; a socket that closed before it did is done.
            await asyncio.wait({waiter, pusher}, return_when=asyncio.FIRST_COMPLETED)
            if current.subscribed.is_set():
                await _receive(websocket, svc, visitor, address, current)
        finally:
            waiter.cancel()
            pusher.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        metrics.WEBCHAT_CONNECTIONS.dec()


class _Current:
    """The customer this visitor is right now: none until their first message
    creates one; it changes when the visitor's identity is linked to (or
    unmerged from) another customer."""

    def __init__(self, customer_id: str | None, browser_language: str) -> None:
        self.customer_id = customer_id
        self.browser_language = browser_language
        self.language: str | None = None  # the language the widget was last told
        self.subscribed = asyncio.Event()  # the first history went out
        self.created = asyncio.Event()  # a customer appeared (the first message)
        self.following = asyncio.Event()  # the pusher follows `customer_id`
        self.pusher: asyncio.Task | None = None

    async def speaks(self, svc: Services) -> str:
        """The widget's language: the customer's, if they have one, else the
        browser's. Asked on every entry pushed, so one round trip: the customer
        followed is current (a merge sends a "moved" frame first)."""
        known = await svc.languages.known(self.customer_id) if self.customer_id else None
        return known or self.browser_language

    async def customer(self, svc: Services, visitor: str) -> str:
        """The visitor's customer, created now if this is their first message; the
        socket follows it before the message goes in, so no reply is missed."""
        if self.customer_id is not None:
            return self.customer_id
        self.customer_id = await svc.identities.resolve("web", visitor, None)
        self.following.clear()
        self.created.set()
        following = asyncio.create_task(self.following.wait())
        try:
            await asyncio.wait({following, *([self.pusher] if self.pusher else [])},
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            following.cancel()
        return self.customer_id


async def _push(websocket: WebSocket, svc: Services, visitor: str, current: _Current) -> None:
    """Live frames of the visitor's customer, after a full history. A visitor with
    no customer yet gets an empty history, and the socket follows the customer
    their first message creates. A "moved" frame (bot/customers/merge.py) means a
    merge or unmerge touched that customer: the visitor is looked up again and, if
    they now belong to another customer, the socket follows them there with that
    customer's history."""
    while True:
        customer_id = current.customer_id
        if customer_id is None:
            await websocket.send_json({"type": "history", "entries": [], "language": None})
            await _greet(websocket, svc)
            current.subscribed.set()
            await current.created.wait()
            continue
        async with svc.hub.subscribe(customer_id) as frames:
            history = await svc.transcripts.history(customer_id, svc.settings.history_limit)
            await websocket.send_json({"type": "history",
                                       "entries": [entry_view(e) for e in history],
                                       "language": await svc.languages.get(customer_id)})
            current.subscribed.set()
            current.following.set()
            # The widget speaks the customer's language (the browser's until
            # they have one), and follows it when it changes (below).
            current.language = await current.speaks(svc)
            await websocket.send_json({"type": "language", "language": current.language})
            await _send_state(websocket, svc, customer_id)
            if not history:
                await _greet(websocket, svc)
            while True:
                frame = await frames.get()
                if websocket.application_state != WebSocketState.CONNECTED:
                    return
                if frame.get("type") == "moved":
                    now = await svc.identities.find("web", visitor)
                    if now != customer_id:
                        current.customer_id = now
                        current.following.clear()
                        if now is None:  # erased: a new customer only if they write again
                            current.created.clear()
                        break
                    continue
                if frame.get("type") == "entry" and frame["entry"].get("author") != "bot":
                    # The customer's language may have changed with this turn
                    # (detected, or chosen): the widget's labels follow it. A
                    # customer's message carries it (the router knows it); the
                    # assistant's replies never change it.
                    language = frame.get("language") or await current.speaks(svc)
                    if language != current.language:
                        current.language = language
                        await websocket.send_json({"type": "language", "language": language})
                await websocket.send_json(frame)


async def _send_state(websocket: WebSocket, svc: Services, customer_id: str | None) -> None:
    """Who the customer is talking to (the widget's header); with Redis away the
    header keeps what it had, the chat goes on."""
    try:
        state = await svc.gateway.state(customer_id)
    except (RedisError, OSError) as exc:
        log.warning("web chat: no conversation state: %r", exc)
        return
    await websocket.send_json(state)


async def _greet(websocket: WebSocket, svc: Services) -> None:
    """A new conversation: the suggested topics under the widget's greeting (its
    text is a label), in every language (knowledge/topics.py)."""
    try:
        topics = await svc.topics.for_widget()
    except (RedisError, OSError) as exc:  # a greeting without topics, not a broken chat
        log.warning("web chat: no suggested topics: %r", exc)
        topics = []
    await websocket.send_json({"type": "topics", "topics": topics})


async def _receive(websocket: WebSocket, svc: Services, visitor: str, address: str,
                   current: _Current) -> None:
    recent: list[float] = []
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        client_id = None
        waiting = _Waiting(websocket, current.language or current.browser_language)
        try:
            if received.get("text") is None:
                raise BadInput("bad_frame", N_("The chat only understands text frames."))
            frame = parse_client_frame(received["text"], svc.settings.max_frame_bytes)
            if isinstance(frame, PingFrame):
                await websocket.send_json({"type": "pong"})
                continue
            if isinstance(frame, LanguageFrame):
                await _choose_language(websocket, svc, visitor, current, frame, waiting)
                continue
            now = time.monotonic()
            recent = [t for t in recent if now - t < RATE_WINDOW_S] + [now]
            if isinstance(frame, StateFrame):  # counted with the messages: it reads Redis
                if len(recent) <= svc.settings.rate_limit_per_10s:
                    await _send_state(websocket, svc, current.customer_id)
                continue
            client_id = frame.client_id
            if len(recent) > svc.settings.rate_limit_per_10s:
                raise BadInput("rate_limited", TOO_FAST_TEXT)
            # One budget for every socket from the address.
            if await waiting.redis(partial(svc.visitor_limits.count, "message", address)):
                raise BadInput("rate_limited", TOO_FAST_TEXT)
            if isinstance(frame, ButtonFrame):
                # No customer yet: nothing was offered to them.
                await waiting.redis(partial(_check_button_offered, svc, current.customer_id,
                                            frame.payload))
            message = _inbound(frame, visitor, svc.settings.max_message_chars)
        except BadInput as exc:
            metrics.REJECTED.labels(channel="web", code=exc.code).inc()
            text = say(current.language or current.browser_language, exc.message)
            await websocket.send_json({"type": "error", "code": exc.code, "text": text,
                                       "client_id": client_id})
            continue
        # the first message creates the customer
        await waiting.redis(partial(current.customer, svc, visitor))
        await waiting.redis(partial(svc.inbound.append, message))
        # Acknowledged only once stored: the widget re-sends an unacknowledged
        # message on reconnect (same client id, so it is taken once).
        await websocket.send_json({"type": "ack", "client_id": frame.client_id})
        await waiting.done()


async def _choose_language(websocket: WebSocket, svc: Services, visitor: str,
                           current: _Current, frame: LanguageFrame, waiting: _Waiting) -> None:
    """The widget's language setting: the customer's language on every channel
    from now on (an explicit choice, source "widget"); confirmed with a language
    frame. Choosing one makes the visitor a customer, as a first message does."""
    customer_id = await waiting.redis(partial(current.customer, svc, visitor))
    chosen = await waiting.redis(partial(svc.languages.choose, customer_id, frame.language,
                                         "widget"))
    await websocket.send_json({"type": "language", "language": chosen})
    await waiting.done()


class _Waiting:
    """A message that cannot be stored yet (Redis away): the customer is told
    within seconds by a notice, the message is retried for a while, and past
    that the socket closes without acknowledging it, so the widget re-sends it."""

    def __init__(self, websocket: WebSocket, language: str) -> None:
        self._websocket = websocket
        self._language = language
        self._told = False

    async def redis(self, step: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + STORE_GIVE_UP_S
        while True:
            try:
                return await asyncio.wait_for(step(), STORE_ATTEMPT_S)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("web chat: a message cannot be stored yet: %r", exc)
            if not self._told:
                self._told = True
                metrics.WEBCHAT_STORE_DELAYS.inc()
                await self._websocket.send_json({"type": "notice", "level": "warning",
                                                 "text": say(self._language, STORE_DELAY_TEXT)})
            if time.monotonic() > deadline:
                await self._websocket.close(code=CLOSE_TRY_AGAIN, reason="try again later")
                raise WebSocketDisconnect(CLOSE_TRY_AGAIN)
            await asyncio.sleep(STORE_RETRY_S)

    async def done(self) -> None:
        if self._told:
            await self._websocket.send_json({"type": "notice", "level": "clear", "text": ""})


async def _check_button_offered(svc: Services, customer_id: str | None, payload: str) -> None:
    """A button payload goes to Rasa as an intent, so only payloads the assistant
    actually offered this customer are accepted, never a forged one."""
    if customer_id is None or not await svc.transcripts.offered(customer_id, payload):
        raise BadInput("stale_button", N_("That option is no longer available; "
                                          "please type your question."))


def _inbound(frame: MessageFrame | ButtonFrame, visitor: str, max_chars: int) -> InboundMessage:
    # The external id is scoped to the visitor, so one visitor's ids can never
    # collide with (or pre-empt) another's in deduplication.
    external_id = f"{visitor}:{frame.client_id}"
    if isinstance(frame, ButtonFrame):
        return InboundMessage(channel="web", channel_user_id=visitor, external_id=external_id,
                              text=clean_text(frame.title or frame.payload, max_chars),
                              button_payload=frame.payload)
    return InboundMessage(channel="web", channel_user_id=visitor, external_id=external_id,
                          text=clean_text(frame.text, max_chars))


