"""The chaos bench's clients: web chat, Telegram and SMS customers, anonymous web
visitors and one agent, all talking to the topology the way real ones do.

Every customer message carries a unique marker the bot says back: the message
is "my name is <marker>" and the assistant answers "Nice to meet you,
<marker>!" (action_remember_name, so each turn crosses Rasa and an action
server). Agent replies carry markers of their own. A reply is matched to its
message by the marker, never by timing.

What counts as one reply is what the customer would see as one bubble: on
Telegram and SMS, one message the bot sent to the platform (a line of the
sandbox's transcript); on web chat, one transcript entry id (the widget shows
an entry once however often it arrives, e.g. again in the history replayed on
reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import websockets

log = logging.getLogger(__name__)

MARKER = re.compile(r"\b(?:Kx|Ag)[a-z]{6}\b")
# A reply answers a marker only in these words: the name action's greeting or
# the agent's reply. "You're <marker>!" (the assistant read the message as "what's
# my name?" and said the last name it had) answers no message of that marker.
ANSWER = re.compile(r"(?:Nice to meet you, |a person here \()((?:Kx|Ag)[a-z]{6})\b")
DELAY_PREFIX = "Sorry, we're experiencing a short delay"  # bot/gateway/router.py DELAY_TEXT
ESCALATE_TEXT = "I want to talk to a person"
TURN_TIMEOUT_S = 20.0  # a customer waits this long before typing the next message anyway
AGENT_WAIT_S = 90.0  # an escalated customer waits this long for a person
SEND_DEADLINE_S = 60.0  # a platform retries delivering one message this long


def marker(prefix: str, n: int) -> str:
    """prefix + n in six lowercase letters: a word the name parser keeps whole."""
    letters = []
    for _ in range(6):
        n, digit = divmod(n, 26)
        letters.append(chr(ord("a") + digit))
    return prefix + "".join(reversed(letters))


@dataclass
class Sent:
    marker: str
    customer: str
    channel: str
    kind: str  # "bot" (a customer's message, the bot answers) or "agent" (an agent's reply)
    seq: int  # the customer's own message number (ordering)
    t_sent: float


@dataclass
class Ledger:
    """Everything sent and every reply seen, with wall-clock times."""

    sent: dict[str, Sent] = field(default_factory=dict)
    replies: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    arrivals: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unmatched: int = 0  # replies with a marker nobody sent (should stay 0)
    sends: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # bot replies that answer no marker: (time, bubble id, text) per customer
    others: dict[str, list[tuple[float, str, str]]] = field(
        default_factory=lambda: defaultdict(list))
    escalations: int = 0
    reconnects: int = 0
    # web chat markers a reload shows in the history though no live frame brought them
    only_in_history: set[str] = field(default_factory=set)
    # web chat messages a reload shows the customer said (the gateway stored them)
    stored: set[str] = field(default_factory=set)
    audited: set[str] = field(default_factory=set)  # customers whose history was read
    acked: set[str] = field(default_factory=set)  # web chat client ids the gateway acknowledged
    _counter: int = 0
    _events: dict[str, asyncio.Event] = field(default_factory=dict)

    def new(self, customer: str, channel: str, kind: str, seq: int) -> str:
        self._counter += 1
        mark = marker("Kx" if kind == "bot" else "Ag", self._counter)
        self.sent[mark] = Sent(mark, customer, channel, kind, seq, time.time())
        self._events[mark] = asyncio.Event()
        return mark

    def sending(self, customer: str) -> None:
        """A customer sends something (a marked message or an escalation)."""
        self.sends[customer].append(time.time())

    def seen(self, text: str, reply_id: str, customer: str) -> list[str]:
        """Record the markers in one reply; returns the markers of agent messages in it.
        A bot reply that answers no marker is kept apart (`others`)."""
        now, agents = time.time(), []
        marks = ANSWER.findall(text)
        if (not marks and not text.startswith(DELAY_PREFIX)
                and all(rid != reply_id for _, rid, _ in self.others[customer])):
            self.others[customer].append((now, reply_id, text[:100]))
        for mark in marks:
            if mark not in self.sent:
                self.unmatched += 1
                continue
            replies = self.replies[mark]
            if any(rid == reply_id for _, rid in replies):
                continue  # the same bubble again (replayed history)
            replies.append((now, reply_id))
            if len(replies) == 1:
                self.arrivals[customer].append(mark)
                self._events[mark].set()
            if self.sent[mark].kind == "agent":
                agents.append(mark)
        return agents

    async def wait(self, mark: str, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events[mark].wait(), timeout_s)
            return True
        return False


class Customer:
    """What every customer does; the channel classes say how a message travels."""

    channel = ""

    def __init__(self, name: str, ledger: Ledger) -> None:
        self.name, self.ledger = name, ledger
        self.seq = 0
        self.agent_arrived = asyncio.Event()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, text: str, client_id: str) -> None:
        raise NotImplementedError

    def on_reply(self, text: str, reply_id: str) -> None:
        if self.ledger.seen(text, reply_id, self.name):
            self.agent_arrived.set()

    async def talk(self, stop: asyncio.Event, rng: random.Random, escalate_p: float) -> None:
        """Turns until `stop` is set: a message, its reply (or TURN_TIMEOUT_S), a pause."""
        while not stop.is_set():
            if rng.random() < escalate_p:
                await self.escalate(stop)
            else:
                self.seq += 1
                mark = self.ledger.new(self.name, self.channel, "bot", self.seq)
                self.ledger.sending(self.name)
                await self.send(f"my name is {mark}", mark)
                await self.ledger.wait(mark, TURN_TIMEOUT_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(1.0, 3.0))

    async def escalate(self, stop: asyncio.Event) -> None:
        """Ask for a person and wait for the agent's reply, or the end of the run
        (the agent resolves the ticket after replying, and the bot answers again)."""
        self.ledger.escalations += 1
        self.agent_arrived.clear()
        self.seq += 1
        self.ledger.sending(self.name)
        await self.send(ESCALATE_TEXT, f"esc{self.seq}")
        waits = [asyncio.ensure_future(self.agent_arrived.wait()),
                 asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, timeout=AGENT_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()


class WebCustomer(Customer):
    """A widget: one socket to one gateway; when that gateway dies, it reconnects
    to the next with the same session token and sends again what was not
    acknowledged (same client id: the gateway deduplicates)."""

    channel = "web"

    def __init__(self, name: str, ledger: Ledger, gateways: list[str], first: int) -> None:
        super().__init__(name, ledger)
        self.gateways, self.current = gateways, first
        self.unacked: dict[str, str] = {}
        self.connected = asyncio.Event()
        self._socket: websockets.ClientConnection | None = None
        self._task: asyncio.Task | None = None
        self.token = ""

    async def open(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(f"{self.gateways[self.current]}/webchat/session", json={})
            response.raise_for_status()
            self.token = response.json()["token"]
        self._task = asyncio.create_task(self._keep_connected())
        await asyncio.wait_for(self.connected.wait(), 30)

    async def _keep_connected(self) -> None:
        first = True
        while True:
            base = self.gateways[self.current].replace("http://", "ws://")
            try:
                async with websockets.connect(f"{base}/webchat/ws?token={self.token}",
                                              open_timeout=5, ping_interval=5,
                                              ping_timeout=5) as socket:
                    self._socket = socket
                    if not first:
                        self.ledger.reconnects += 1
                    first = False
                    self.connected.set()
                    for client_id, text in list(self.unacked.items()):
                        await socket.send(json.dumps({"type": "message", "text": text,
                                                      "client_id": client_id}))
                    async for raw in socket:
                        self._frame(json.loads(raw))
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                log.debug("%s: socket to %s closed: %r", self.name, base, exc)
            self.connected.clear()
            self._socket = None
            self.current = (self.current + 1) % len(self.gateways)  # the other gateway
            await asyncio.sleep(0.2)

    def _frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "ack":
            client_id = frame.get("client_id") or ""
            self.unacked.pop(client_id, None)
            self.ledger.acked.add(client_id)
        elif kind == "entry":
            self._entry(frame["entry"])
        elif kind == "history":
            for entry in frame["entries"]:
                self._entry(entry)

    def _entry(self, entry: dict) -> None:
        if entry.get("author") in ("bot", "agent"):
            self.on_reply(entry.get("text", ""), entry.get("id", ""))

    async def send(self, text: str, client_id: str) -> None:
        self.unacked[client_id] = text
        socket = self._socket
        if socket is not None:
            with contextlib.suppress(websockets.WebSocketException, OSError):
                await socket.send(json.dumps({"type": "message", "text": text,
                                              "client_id": client_id}))
        # else: sent on reconnect, from unacked

    async def history_markers(self) -> tuple[set[str], set[str]]:
        """The markers in a fresh socket's history (what a page reload would show):
        in the customer's own entries (the gateway stored the message) and in bot
        and agent entries (it was answered), without counting them as replies seen."""
        base = self.gateways[self.current].replace("http://", "ws://")
        said: set[str] = set()
        found: set[str] = set()
        with contextlib.suppress(OSError, websockets.WebSocketException, TimeoutError):
            async with websockets.connect(f"{base}/webchat/ws?token={self.token}",
                                          open_timeout=5) as socket:
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
                    if frame.get("type") == "history":
                        for entry in frame["entries"]:
                            text = entry.get("text", "")
                            if entry.get("author") in ("bot", "agent"):
                                found.update(ANSWER.findall(text))
                            elif entry.get("author") == "customer":
                                said.update(MARKER.findall(text))
                        break
        return said, found

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class SandboxCustomer(Customer):
    """A Telegram user or a phone in the platform sandbox. The platform delivers
    to the gateways' balancer and, like Telegram and Twilio, delivers again
    (same update / MessageSid) until the gateway answers 200."""

    def __init__(self, name: str, ledger: Ledger, sandbox: str, channel: str, user: str,
                 http: httpx.AsyncClient) -> None:
        super().__init__(name, ledger)
        self.channel, self.user, self.http = channel, user, http
        self.base = f"{sandbox}/{'telegram' if channel == 'telegram' else 'twilio'}/_sandbox"
        self.epoch = 0  # the sandbox's life (its state is in memory, gone on a restart)
        self.seen_lines = 0

    async def register(self) -> None:
        """Make the user known to the sandbox without sending anything (a Telegram
        chat id is given in the order users appear)."""
        if self.channel == "telegram":
            response = await self.http.post(f"{self.base}/block",
                                            json={"user": self.user, "blocked": False})
            response.raise_for_status()

    async def send(self, text: str, client_id: str) -> None:
        deadline = time.monotonic() + SEND_DEADLINE_S
        path = "/send"
        while time.monotonic() < deadline:
            try:
                response = await self.http.post(self.base + path,
                                                json={"user": self.user, "text": text})
                if response.status_code == 200 and response.json().get("status") == 200:
                    return
                if response.status_code in (200, 500):
                    path = "/redeliver"  # the platform has it: deliver the same again
            except httpx.HTTPError:
                pass  # the platform itself is down: the user's app tries again
            await asyncio.sleep(0.5)
        log.warning("%s: could not deliver %r within %ss", self.name, text, SEND_DEADLINE_S)

    async def poll(self) -> None:
        response = await self.http.get(f"{self.base}/transcript", params={"user": self.user})
        lines = response.json()
        for line in lines[self.seen_lines:]:
            if line.get("from") == "bot":
                self.on_reply(line.get("text", ""), f"{self.epoch}:{line.get('id')}")
        self.seen_lines = max(self.seen_lines, len(lines))

    def new_epoch(self) -> None:
        self.epoch += 1
        self.seen_lines = 0


class SandboxPoller:
    """Reads every sandbox user's transcript twice a second. The platform fault
    holds `paused` while the sandbox is killed and comes back, so no line is
    read against the wrong life of the sandbox."""

    def __init__(self, customers: list[SandboxCustomer]) -> None:
        self.customers = customers
        self.paused = asyncio.Lock()

    async def run(self) -> None:
        while True:
            async with self.paused:
                await self.poll_all()
            await asyncio.sleep(0.5)

    async def poll_all(self) -> None:
        for customer in self.customers:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                await customer.poll()

    async def sandbox_restarted(self) -> None:
        """Called with `paused` held, once the new sandbox is healthy."""
        for customer in self.customers:
            customer.new_epoch()
        for customer in self.customers:  # the same chat ids as before, in the same order
            for _ in range(20):
                try:
                    await customer.register()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)


class Agent:
    """One signed-in agent working the queue through the console API: claims
    each waiting ticket, replies once (with a marker) and resolves it."""

    def __init__(self, base: str, username: str, password: str, ledger: Ledger) -> None:
        self.base, self.username, self.password, self.ledger = base, username, password, ledger
        self.http = httpx.AsyncClient(base_url=base, timeout=15,
                                      headers={"X-Requested-With": "frontdoor"})
        self.replied: set[str] = set()
        self.errors = 0

    async def sign_in(self) -> None:
        self.http.cookies.clear()
        response = await self.http.post("/login", data={"username": self.username,
                                                        "password": self.password})
        if "fd_staff" not in self.http.cookies:
            raise RuntimeError(f"agent sign-in failed: HTTP {response.status_code}")

    async def run(self) -> None:
        await self.sign_in()
        while True:
            try:
                await self._round()
            except httpx.HTTPError as exc:
                self.errors += 1
                log.debug("agent: %r", exc)
            await asyncio.sleep(0.5)

    async def _round(self) -> None:
        queue = await self.http.get("/api/agent/queue")
        if queue.status_code in (401, 403):
            await self.sign_in()
            return
        queue.raise_for_status()
        view = queue.json()
        for ticket in [*view["mine"], *view["queued"]]:
            ref = ticket["ref"]
            if ref in self.replied:
                continue
            if ticket in view["queued"]:
                claimed = await self.http.post(f"/api/agent/tickets/{ref}/claim")
                if claimed.status_code != 200:
                    continue
            mark = self.ledger.new(f"agent:{ref}", "agent", "agent", 0)
            reply = await self.http.post(f"/api/agent/tickets/{ref}/reply",
                                         json={"text": f"Hello, a person here ({mark})."})
            if reply.status_code == 200:
                self.replied.add(ref)
                await self.http.post(f"/api/agent/tickets/{ref}/resolve", json={"csat": False})
            else:
                self.ledger.sent.pop(mark, None)  # never said
                self.errors += 1

    async def close(self) -> None:
        await self.http.aclose()


class Visitor:
    """An anonymous web visitor: opens a session and a socket, reads the
    (empty) history and leaves without writing (the soak's idle traffic)."""

    def __init__(self, gateways: list[str]) -> None:
        self.gateways = gateways

    async def visit(self, http: httpx.AsyncClient, n: int) -> None:
        base = self.gateways[n % len(self.gateways)]
        token = (await http.post(f"{base}/webchat/session", json={})).json()["token"]
        ws = base.replace("http://", "ws://")
        async with websockets.connect(f"{ws}/webchat/ws?token={token}", open_timeout=5) as socket:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(socket.recv(), 5)
