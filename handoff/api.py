"""The agent console's API (REST under /api/agent, live over /agent/ws), the
console page at /agent and the reports at /reports.

State changes go through HandoffService (atomic in Redis); messages to the
customer go through the gateway port, which renders them for the customer's
channel and logs them to the unified transcript."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from core import web_assets
from core.responses import EntryView
from core.settings import Settings
from core.staff import StaffStore, StaffUser, UnknownUser
from core.webauth import (
    origin_allowed,
    require_staff,
    require_staff_page,
    staff_for_websocket,
    staff_page,
    staff_templates,
)
from handoff import AtCapacity, HandoffError, TicketNotFound, TicketStateError, UnknownTeam
from handoff.cards import CHANNEL_NAMES, card, reason_label
from handoff.messages import (
    claimed_text,
    position_phrase,
    resolved_text,
    team_closed_text,
    transferred_text,
)
from handoff.models import Ticket
from handoff.ports import Gateway
from handoff.queue import ANY_HOLDER
from handoff.reports import report
from handoff.responses import (
    CannedAnswer,
    Note,
    Presence,
    QueueView,
    Report,
    TicketDetail,
    TicketView,
)
from handoff.service import HandoffService

log = logging.getLogger(__name__)
router = APIRouter(tags=["agent console"])
HERE = Path(__file__).parent
templates = staff_templates(HERE / "templates")
templates.filters["reason_label"] = reason_label  # asked_for_human -> "Asked for a person"
templates.filters["channel_label"] = lambda channel: CHANNEL_NAMES.get(channel, channel)
STATIC_FILES = ("agent.js", "agent.css", "reports.css", *web_assets.NAMES)
agent_only = require_staff("agent")
MAX_REPLY_CHARS = 4000
CLOSE_FORBIDDEN_ORIGIN = 4403


class HandoffServices(Protocol):
    """What the console's routes need of the app's services: the handoff service
    and the gateway behind the `Gateway` port (the gateway's services satisfy it),
    and the settings (the console socket's allowed origins)."""

    settings: Settings
    handoff: HandoffService
    gateway: Gateway


def _services(connection: HTTPConnection) -> HandoffServices:
    return connection.app.state.services


def handoff(request: Request) -> HandoffService:
    return _services(request).handoff


def gateway(request: Request) -> Gateway:
    return _services(request).gateway


class ReplyBody(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    channel: str | None = None  # default: the channel the customer used last


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)


class TransferBody(BaseModel):
    agent: str | None = None
    team: str | None = None


class ResolveBody(BaseModel):
    csat: bool = True


class PresenceBody(BaseModel):
    status: str


async def _ticket(service: HandoffService, ref: str) -> Ticket:
    try:
        return await service.queue.get(ref)
    except TicketNotFound:
        raise HTTPException(404, f"no ticket {ref}") from None


def _held_by(ticket: Ticket, user: StaffUser) -> None:
    if ticket.agent != user.username and not user.has("admin"):
        raise HTTPException(409, f"{ticket.ref} is not yours: claim it first")


async def _view(ticket: Ticket, gw: Gateway | None) -> dict:
    """Ticket.view, with the customer's language looked up for a ticket that was
    opened without one (before languages, or by a caller that did not say)."""
    view = ticket.view()
    if view.get("language") is None and gw is not None:
        view["language"] = await gw.language(ticket.customer_id)
    return view


async def _card_view(ticket: Ticket, gw: Gateway | None) -> dict:
    """_view with the queue card's customer facts (handoff/cards.py)."""
    view = await _view(ticket, gw)
    facts: dict = {}
    if gw is not None:
        with contextlib.suppress(LookupError):
            facts = await gw.customer_card(ticket.customer_id)
    view["card"] = card(ticket, facts)
    return view


async def queue_view(service: HandoffService, me: str, gw: Gateway | None = None) -> dict:
    """Waiting tickets of every team (the console filters), with position and
    waiting time; the tickets held by me and by others; each with its card.
    The tickets' views are built concurrently: each card is a handful of Redis
    round trips, and a busy queue has a hundred cards (docs/handoff.md)."""
    now = time.time()
    waiting: list[tuple[str, int]] = []
    for team in service.teams.teams:
        waiting += [(ref, position) for position, ref in
                    enumerate(await service.queue.waiting(team), start=1)]
    presence = await service.presence()
    others_refs = [ref for agent in presence if agent != me
                   for ref in await service.queue.held_by(agent)]

    async def views(refs: list[str]) -> list[tuple[Ticket, dict] | None]:
        async def one(ref: str) -> tuple[Ticket, dict] | None:
            ticket = await service.queue.find(ref)
            return None if ticket is None else (ticket, await _card_view(ticket, gw))
        return list(await asyncio.gather(*(one(ref) for ref in refs)))

    queued_views, mine_views, others_views = await asyncio.gather(
        views([ref for ref, _ in waiting]), views(await service.queue.held_by(me)),
        views(others_refs))
    queued = [{**view, "position": position, "waiting_s": now - ticket.created_at}
              for (_, position), found in zip(waiting, queued_views, strict=True)
              if found is not None for ticket, view in [found]]
    mine = [{**view, "waiting_s": now - ticket.created_at}
            for found in mine_views if found is not None for ticket, view in [found]]
    others = [view for found in others_views if found is not None for _, view in [found]]
    queued.sort(key=lambda t: (-t["priority"], t["created_at"]))
    return {"queued": queued, "mine": mine, "others": others, "presence": presence,
            "teams": {k: v.name for k, v in service.teams.teams.items()}}


@router.get("/agent", response_class=HTMLResponse, include_in_schema=False)
async def console_page(request: Request,
                       user: StaffUser = Depends(require_staff_page("agent"))) -> HTMLResponse:
    return staff_page(request, "agent.html", templates, user=user)


@router.get("/agent/static/{name}", include_in_schema=False)
async def console_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(web_assets.path(name, HERE / "static"))


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(request: Request,
                       user: StaffUser = Depends(require_staff_page("agent")),
                       service: HandoffService = Depends(handoff)) -> HTMLResponse:
    return staff_page(request, "reports.html", templates, user=user,
                      report=await report(service.redis, days=7))


@router.get("/api/reports", response_model=Report)
async def reports_api(days: int = 7, _: StaffUser = Depends(agent_only),
                      service: HandoffService = Depends(handoff)) -> dict:
    if not 1 <= days <= 366:
        raise HTTPException(422, "days is between 1 and 366")
    return await report(service.redis, days=days)


@router.get("/api/agent/queue", response_model=QueueView)
async def get_queue(user: StaffUser = Depends(agent_only),
                    service: HandoffService = Depends(handoff),
                    gw: Gateway = Depends(gateway)) -> dict:
    return await queue_view(service, user.username, gw)


@router.get("/api/agent/tickets/{ref}", response_model=TicketDetail)
async def get_ticket(ref: str, _: StaffUser = Depends(agent_only),
                     service: HandoffService = Depends(handoff),
                     gw: Gateway = Depends(gateway)) -> dict:
    ticket = await _ticket(service, ref)
    previous = []
    for other_ref in await service.queue.of_customer(ticket.customer_id):
        if other_ref != ref and (other := await service.queue.find(other_ref)) is not None:
            previous.append(other.view())
    notes = await service.redis.xrange(service.keys.ticket_notes(ref))
    return {
        "ticket": await _view(ticket, gw),
        "standing": (await service.standing(ticket)).model_dump(),
        "customer": await gw.profile(ticket.customer_id),
        "transcript": await gw.timeline(ticket.customer_id),
        "notes": [fields for _, fields in notes],
        "previous_tickets": previous,
    }


@router.get("/api/agent/canned", response_model=list[CannedAnswer])
async def canned_answers(q: str = "", language: str | None = None,
                         _: StaffUser = Depends(agent_only),
                         gw: Gateway = Depends(gateway)) -> list[dict]:
    """Knowledge answers to paste into a reply: {id, title, answer, language}, one
    entry per language of at most 10 articles, `language` (the customer's) first."""
    if len(q) > 200:
        raise HTTPException(422, "the search is at most 200 characters")
    return await gw.search_answers(q, limit=10, language=language)


@router.post("/api/agent/tickets/{ref}/claim", response_model=TicketView)
async def claim(ref: str, user: StaffUser = Depends(agent_only),
                service: HandoffService = Depends(handoff),
                gw: Gateway = Depends(gateway)) -> dict:
    await _ticket(service, ref)
    try:
        ticket = await service.claim(ref, user.username)
    except TicketStateError:
        raise HTTPException(409, f"{ref} was already taken") from None
    except AtCapacity:
        raise HTTPException(409, "you already hold your maximum of conversations") from None
    await _tell(gw, ticket.customer_id, partial(claimed_text, user.display_name))
    return ticket.view()


@router.post("/api/agent/tickets/{ref}/reply", response_model=EntryView)
async def reply(ref: str, body: ReplyBody, user: StaffUser = Depends(agent_only),
                service: HandoffService = Depends(handoff),
                gw: Gateway = Depends(gateway)) -> dict:
    ticket = await _ticket(service, ref)
    _held_by(ticket, user)
    if ticket.status != "claimed":
        raise HTTPException(409, f"{ref} is {ticket.status}")
    try:
        entry = await gw.deliver(ticket.customer_id, body.text, author="agent",
                                 channel=body.channel)
    except LookupError as exc:
        raise HTTPException(422, str(exc)) from None
    await service.agent_replied(ref)
    return entry


@router.post("/api/agent/tickets/{ref}/notes", status_code=201, response_model=Note)
async def add_note(ref: str, body: NoteBody, user: StaffUser = Depends(agent_only),
                   service: HandoffService = Depends(handoff)) -> dict:
    ticket = await _ticket(service, ref)
    note = {"author": user.username, "text": body.text, "ts": str(time.time())}
    await service.redis.xadd(service.keys.ticket_notes(ref), note)
    await service.publish({"type": "ticket.note", "ticket": ticket.view(), "note": note})
    return note


@router.post("/api/agent/tickets/{ref}/release", response_model=TicketView)
async def release(ref: str, user: StaffUser = Depends(agent_only),
                  service: HandoffService = Depends(handoff)) -> dict:
    try:
        return (await service.release(ref, user.username)).view()
    except TicketNotFound:
        raise HTTPException(404, f"no ticket {ref}") from None
    except TicketStateError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/api/agent/tickets/{ref}/transfer", response_model=TicketView)
async def transfer(ref: str, body: TransferBody, user: StaffUser = Depends(agent_only),
                   service: HandoffService = Depends(handoff),
                   gw: Gateway = Depends(gateway)) -> dict:
    ticket = await _ticket(service, ref)
    if (body.agent is None) == (body.team is None):
        raise HTTPException(422, "give either an agent or a team")
    # Only the holder (or an admin) moves a claimed ticket; the queue re-checks it
    # atomically, so a ticket claimed meanwhile by someone else is not moved either.
    if ticket.status == "claimed":
        _held_by(ticket, user)
    holder = ANY_HOLDER if user.has("admin") else ticket.agent or ""
    try:
        if body.team is not None:
            moved, standing = await service.transfer_to_team(ref, body.team, by=user.username,
                                                             holder=holder)
            team_name = service.teams.team(body.team).name
            await _tell(gw, ticket.customer_id, lambda language: transferred_text(
                team_name, position_phrase(standing, language) if standing.team_open
                else team_closed_text(language), language))
        else:
            assert body.agent is not None  # exactly one of the two, checked above
            await _known_agent(service, body.agent)
            moved = await service.assign(ref, body.agent, holder=holder)
            await _tell(gw, ticket.customer_id,
                        partial(claimed_text, await gw.agent_name(body.agent)))
    except UnknownTeam:
        raise HTTPException(422, f"no team {body.team!r}") from None
    except AtCapacity:
        raise HTTPException(409, f"{body.agent} already holds their maximum") from None
    except HandoffError as exc:
        raise HTTPException(409, str(exc)) from None
    return moved.view()


async def _tell(gw: Gateway, customer_id: str, compose: Callable[[str], str]) -> None:
    """Tell the customer, in their language (`compose(language)` writes the
    text), best effort: the ticket change stands even if the customer can no
    longer be reached (e.g. their data was erased)."""
    try:
        await gw.tell(customer_id, compose(await gw.language(customer_id)))
    except LookupError as exc:
        log.warning("could not tell %s: %s", customer_id, exc)


async def _known_agent(service: HandoffService, username: str) -> None:
    try:
        user = await StaffStore(service.redis).get(username)
    except UnknownUser:
        raise HTTPException(422, f"no agent {username!r}") from None
    if not user.has("agent"):
        raise HTTPException(422, f"no agent {username!r}")


@router.post("/api/agent/tickets/{ref}/resolve", response_model=TicketView)
async def resolve(ref: str, body: ResolveBody | None = None,
                  user: StaffUser = Depends(agent_only),
                  service: HandoffService = Depends(handoff),
                  gw: Gateway = Depends(gateway)) -> dict:
    ticket = await _ticket(service, ref)
    if ticket.status == "claimed":
        _held_by(ticket, user)
    ticket, first = await service.resolve(ref, user.username)
    if first:  # a repeated resolve (double click, retry) tells the customer nothing twice
        with contextlib.suppress(Exception):
            await gw.reset_dialogue(ticket.customer_id)
        await _tell(gw, ticket.customer_id, partial(resolved_text, user.display_name))
        if (body is None or body.csat) and service.settings.csat:
            with contextlib.suppress(LookupError):
                await gw.ask_csat(ticket.customer_id, ref)
    return ticket.view()


@router.put("/api/agent/presence", response_model=Presence)
async def set_presence(body: PresenceBody, user: StaffUser = Depends(agent_only),
                       service: HandoffService = Depends(handoff)) -> dict:
    try:
        await service.set_presence(user.username, body.status)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"agent": user.username, "status": body.status}


@router.websocket("/agent/ws")
async def console_socket(websocket: WebSocket) -> None:
    """Live queue events for one console; also the entries of the customer the
    agent is looking at ({"type": "watch", "customer_id": ...})."""
    # Like the web chat: a page on another site cannot open it with the agent's
    # cookie (closed before accept: the browser sees HTTP 403).
    if not origin_allowed(websocket, _services(websocket).settings.allowed_origins):
        await websocket.close(code=CLOSE_FORBIDDEN_ORIGIN)
        return
    user = await staff_for_websocket(websocket, "agent")
    if user is None:  # accept first: a close before accept reaches the browser as HTTP 403
        await websocket.accept()
        await websocket.close(code=4401, reason="sign in first")
        return
    service, gw = _services(websocket).handoff, _services(websocket).gateway
    await websocket.accept()
    outgoing: asyncio.Queue = asyncio.Queue(maxsize=1000)
    watcher: asyncio.Task | None = None
    presence = "online"
    await service.set_presence(user.username, presence)

    async def forward(queue: asyncio.Queue) -> None:
        while True:
            await outgoing.put(await queue.get())

    async def send_forever() -> None:
        while True:
            await websocket.send_text(json.dumps(await outgoing.get()))

    async with gw.events() as events:
        await websocket.send_text(json.dumps({
            "type": "hello", "me": user.public(),
            "queue": await queue_view(service, user.username, gw)}))
        tasks = [asyncio.create_task(forward(events)), asyncio.create_task(send_forever())]
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                if not isinstance(frame, dict):
                    continue  # e.g. a JSON list: not a frame of this protocol
                kind = frame.get("type")
                if kind == "watch" and isinstance(frame.get("customer_id"), str):
                    if watcher is not None:
                        watcher.cancel()
                    watcher = asyncio.create_task(_watch(gw, frame["customer_id"], outgoing))
                elif kind == "presence" and frame.get("status") in ("online", "away"):
                    presence = frame["status"]
                    await service.set_presence(user.username, presence)
                elif kind == "ping":
                    await service.set_presence(user.username, presence)
        except (WebSocketDisconnect, json.JSONDecodeError, RuntimeError):
            pass
        finally:
            for task in [*tasks, *([watcher] if watcher else [])]:
                task.cancel()
            with contextlib.suppress(Exception):
                await service.set_presence(user.username, "offline")


async def _watch(gw: Gateway, customer_id: str, outgoing: asyncio.Queue) -> None:
    async with gw.watch(customer_id) as entries:
        while True:
            await outgoing.put(await entries.get())
