"""Talk to Rasa's REST channel; the customer id is Rasa's sender id.

Several Rasa replicas share one tracker store and one lock store in Redis, so
any of them can take any turn. Each customer still goes to one replica, chosen
by rendezvous hashing of the customer id over the replica URLs: every gateway
replica picks the same one without talking to the others, and removing a Rasa
replica moves only its own customers. That matters because Rasa's Redis lock
store takes a conversation's ticket with a plain GET then SET: atomic inside
one Rasa process (its Redis client is synchronous), not across two, so a
customer's turns are kept on one process while it is up
(docs/architecture.md#processes). When that replica is unreachable or answers
5xx, the next one in the customer's order is tried at once, before the router
backs off.

Rasa's sender id is not the customer id itself but one session of the customer
(bot/rasa_store/sessions.py): `RasaClient.sender_id` is the one place that maps
a customer to the Rasa conversation of their turn."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence

import httpx
from httpx_aiohttp import AiohttpTransport

from bot import AssistantUnavailable
from bot.rasa_store.keys import customer_of_sender, session_sender
from bot.rasa_store.sessions import RasaSessions, Session
from core.models import ArticleRef, Button, OutboundMessage

log = logging.getLogger(__name__)

# Revert a user message with whatever followed it (Rasa's UserUtteranceReverted,
# which also drops the action_listen before it), then listen again, as Rasa's own
# fallback does: the conversation is where it was before the message came.
REVERT_TURN = [{"event": "rewind"}, {"event": "action", "name": "action_listen"}]
# The gateway's HTTP client drops a connection idle this long, well before the
# servers' own keep-alive ends (Rasa's Sanic and uvicorn: 5 s), so it never
# reuses one the server is closing (aiohttp fails such a request with "Server
# disconnected", and the customer would hear of a delay).
KEEPALIVE_EXPIRY_S = 2.0
# Slots a new session does not inherit: Rasa's own bookkeeping.
NOT_CARRIED = frozenset({"requested_slot", "session_started_metadata"})


def rasa_http_client(timeout_s: float, max_connections: int = 200) -> httpx.AsyncClient:
    """The gateway's HTTP client: httpx's API over aiohttp's connections
    (httpx-aiohttp: a third of the CPU per request of httpx's own here,
    docs/operations.md#gateway-cpu), idle connections dropped after
    KEEPALIVE_EXPIRY_S."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections // 2,
                          keepalive_expiry=KEEPALIVE_EXPIRY_S)
    return httpx.AsyncClient(timeout=timeout_s, limits=limits,
                             transport=AiohttpTransport(limits=limits))


def replica_order(customer_id: str, replicas: Sequence[str]) -> list[str]:
    """The replicas in the order this customer tries them (rendezvous hashing):
    the same on every gateway, whatever the order of the list."""
    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}\n{customer_id}".encode(), digest_size=8).digest()

    return sorted(replicas, key=weight, reverse=True)


class RasaClient:
    def __init__(self, http: httpx.AsyncClient, rasa_urls: str | Sequence[str],
                 actions_url: str, token: str = "", sessions: RasaSessions | None = None
                 ) -> None:
        """`rasa_urls`: one Rasa server (or a load balancer) or several replicas.
        `sessions`: a Rasa conversation per session of the customer; None: the
        customer id is the sender, one conversation for ever (tests of other
        things)."""
        self._sessions = sessions
        urls = [rasa_urls] if isinstance(rasa_urls, str) else list(rasa_urls)
        if not urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self._http = http
        self._token = token
        self._replicas = [url.rstrip("/") for url in urls]
        # the action server's /healthz includes its Redis (actions/server.py): an
        # action server that runs but cannot reach Redis cannot answer either
        self._actions_health = f"{actions_url}/healthz"

    async def sender_id(self, customer_id: str, now: float | None = None) -> str:
        """The Rasa conversation (sender id) of the customer's turn starting now:
        the current session's, or a new session's when the last turn was long
        ago, the tracker has grown too big or a person resolved the conversation.
        A new session inherits the slots of the one before (the customer's name,
        language), set through Rasa's tracker events API, before its first turn.
        Whoever talks to Rasa about a customer (the router, the language slot)
        asks this first."""
        return (await self.conversation(customer_id, now)).sender

    async def conversation(self, customer_id: str, now: float | None = None) -> Session:
        """sender_id, and whether Rasa holds nothing for that conversation yet
        (`empty`: its slots will start at the domain's initial values)."""
        if self._sessions is None:
            return Session(customer_id, None)
        session = await self._sessions.choose(customer_id, time.time() if now is None else now)
        if session.previous is not None:
            await self._carry_slots(session.previous, session.sender)
            await self._sessions.carried(customer_id)
        return session

    async def _carry_slots(self, previous: str, sender: str) -> None:
        """The gateway carries the slots, not the session-start action: it knows
        both conversations and reads the old one once through Rasa's API, while
        the action server would have to know the session mapping, and the first
        turn in the new conversation finds them set already."""
        response = await self._request("GET", previous, f"/conversations/{previous}/tracker",
                                       params={"token": self._token, "include_events": "NONE"})
        if response.status_code >= 400:
            log.warning("cannot read the slots of %s (%s); the new session starts without",
                        previous, response.status_code)
            return
        slots = response.json().get("slots") or {}
        events = [{"event": "slot", "name": name, "value": value}
                  for name, value in slots.items() if value is not None and name not in NOT_CARRIED]
        if not events:
            return
        carried = await self._post(sender, f"/conversations/{sender}/tracker/events", params={
            "token": self._token, "include_events": "NONE"}, json=events)
        if carried.status_code >= 400:
            log.warning("cannot carry the slots into %s (%s)", sender, carried.status_code)
        log.info("new Rasa session %s, %d slots carried", sender, len(events))

    async def _post(self, sender: str, path: str, **request) -> httpx.Response:
        return await self._request("POST", sender, path, **request)

    async def _request(self, method: str, sender: str, path: str, **request
                       ) -> httpx.Response:
        """Ask the customer's replica, or at once the next one in their order while
        a replica is unreachable or answers 5xx; AssistantUnavailable when none
        answered. Every session of a customer goes to the same replica."""
        problems = []
        for replica in replica_order(customer_of_sender(sender), self._replicas):
            try:
                response = await self._http.request(method, f"{replica}{path}", **request)
            except httpx.HTTPError as exc:
                problems.append(f"{replica} unreachable: {exc!r}")
                continue
            if response.status_code < 500:
                return response
            problems.append(f"{replica} answered {response.status_code}")
        raise AssistantUnavailable("Rasa: " + "; ".join(problems))

    async def set_language(self, sender: str, language: str) -> bool:
        """Set the conversation's `language` slot (domain.yml) through Rasa's
        tracker events API, on the replica of the conversation `sender`
        (sender_id). False when Rasa refused it (a token that does not match, the
        API off): the turn still goes ahead, in whatever language Rasa had."""
        response = await self._post(
            sender, f"/conversations/{sender}/tracker/events",
            params={"token": self._token, "include_events": "NONE"},
            json=[{"event": "slot", "name": "language", "value": language}])
        if response.status_code >= 400:
            log.warning("Rasa refused the language slot of %s (%s)", sender,
                        response.status_code)
            return False
        return True

    async def turn(self, sender: str, text: str, metadata: dict) -> list[OutboundMessage]:
        """One turn in the conversation `sender` (sender_id)."""
        response = await self._post(
            sender, "/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata})
        response.raise_for_status()
        messages = parse_rasa_messages(response.json())
        if not messages:
            # Every turn of this assistant says something (each rule ends in a
            # response or an action that always utters). Nothing means Rasa swallowed
            # a failed custom action (action server down, or its Redis broken): the
            # message waits and is retried, rather than going unanswered.
            raise AssistantUnavailable("Rasa answered nothing: a custom action failed")
        return messages

    async def recorded_turn(self, sender: str, message_id: str
                            ) -> list[OutboundMessage] | None:
        """Before a message is sent to Rasa again: whether an earlier attempt (the
        REST metadata's `message_id`) is already in the conversation's tracker.
        With its replies recorded after it, those replies (the turn is not run
        twice, so its actions are not either); recorded without any (its action
        failed), it is reverted (Rasa's `rewind`) and None is returned, as when it
        was never recorded: the message is then sent as new."""
        tracker = f"/conversations/{sender}/tracker"
        response = await self._request("GET", sender, tracker,
                                       params={"token": self._token})
        if response.status_code >= 400:
            # Rasa's HTTP API refused (a token that does not match, the API not
            # enabled): the message still gets its answer, at the risk of Rasa
            # recording it twice.
            log.warning("cannot read the tracker of %s (%s): sending the message again "
                        "unchecked", sender, response.status_code)
            return None
        events = response.json().get("events") or []
        users = [i for i, e in enumerate(events) if e.get("event") == "user"]
        mine = [i for i in users
                if ((events[i].get("metadata") or {}).get("message_id")) == message_id]
        if not mine:
            return None
        after = events[mine[-1] + 1:]
        end = next((i for i, e in enumerate(after) if e.get("event") in ("user", "rewind")),
                   len(after))
        if end < len(after) and after[end].get("event") == "rewind":
            return None  # reverted by an earlier retry
        bots = [e for e in after[:end] if e.get("event") == "bot"]
        if bots:
            return parse_rasa_messages([item for e in bots for item in _rest_items(e)])
        if mine[-1] != users[-1]:
            return None  # a later message follows it: nothing to undo here
        reverted = await self._post(sender, f"{tracker}/events", params={
            "token": self._token, "include_events": "NONE"}, json=REVERT_TURN)
        if reverted.status_code >= 400:
            log.warning("cannot revert a failed turn of %s (%s)", sender,
                        reverted.status_code)
        return None

    async def reset_dialogue(self, customer_id: str) -> None:
        """After a person handled the conversation: end any active form, so the
        bot does not resume a stale question, and start a new session with the
        next turn. Slots the customer gave (their name, order number) stay."""
        sender = customer_id
        if self._sessions is not None:
            sender = session_sender(customer_id, await self._sessions.current(customer_id))
            await self._sessions.end(customer_id)  # first: it holds even if Rasa is away
        events = [{"event": "active_loop", "name": None}]
        response = await self._post(
            sender, f"/conversations/{sender}/tracker/events",
            params={"token": self._token, "include_events": "NONE"}, json=events)
        response.raise_for_status()

    async def actions_healthy(self) -> bool:
        try:
            return (await self._http.get(self._actions_health, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def healthy(self) -> bool:
        """True while any replica answers: every customer can be served."""
        async def up(url: str) -> bool:
            try:
                return (await self._http.get(url, timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        return any(await asyncio.gather(*(up(url) for url in self._replicas)))


def _rest_items(event: dict) -> list[dict]:
    """A tracker's bot event as the REST channel would have sent it."""
    data = event.get("data") or {}
    items = [{"text": event.get("text"), "buttons": data.get("buttons"),
              "image": data.get("image")}]
    if data.get("custom"):
        items.append({"custom": data["custom"]})
    return items


def parse_rasa_messages(raw: list[dict]) -> list[OutboundMessage]:
    """Rasa's REST collector splits every text on blank lines into separate items
    and sends a message's `custom` JSON as one more item after it. Rejoin the
    paragraphs (a Markdown answer is one message) and fold our `frontdoor` note
    into the message it belongs to."""
    messages: list[OutboundMessage] = []
    joinable = False  # may the next plain paragraph continue the last message?
    for item in raw:
        note = (item.get("custom") or {}).get("frontdoor")
        if note is not None:
            if messages:
                article = note.get("article")
                messages[-1] = messages[-1].model_copy(update={
                    "article": ArticleRef(**article) if article else None,
                    "decision": note.get("decision"),
                })
            joinable = False
            continue
        text, buttons, image = item.get("text"), item.get("buttons") or (), item.get("image")
        if text is None and image is None:
            continue
        if joinable and text and not buttons and not image:
            messages[-1] = messages[-1].model_copy(
                update={"text": f"{messages[-1].text}\n\n{text}"})
            continue
        messages.append(OutboundMessage(
            text=text or "",
            image=image,
            buttons=tuple(Button(title=b.get("title", ""), payload=b.get("payload", ""))
                          for b in buttons),
        ))
        joinable = bool(text) and not buttons and not image
    return messages
