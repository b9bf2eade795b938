"""`frontdoor bench handoff`: how fast a person gets involved.

A private stack (Redis, Rasa, action server, gateway) on free ports. Each
sample is one web chat customer whose transcript already holds 1,000 messages:

- escalation → console: the customer types "I want to talk to a person"; the
  action server opens the ticket (its `created_at` is the escalation moment);
  measured until a signed-in agent console's WebSocket receives the ticket,
  and until the console has loaded it with the whole 1,000-message transcript;
- reply → customer: the agent POSTs a reply; measured until the customer's web
  chat socket receives it.

Customers run one after another (latency, not load); `lost` counts tickets
that never reached the console or replies that never reached the customer.
p50/p95 are nearest-rank percentiles (bot/bench/stats.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from bot.bench.stats import finish_axes, latency_summary, plot_ecdf, pyplot, save_figure
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from bot.infra.redis_procs import free_port
from bot.infra.supervisor import Stack
from core.models import Channel, TranscriptEntry
from core.redis import text_client
from core.settings import Settings
from core.staff import StaffStore
from handoff.service import HandoffService

WAIT_S = 15.0
TARGET_P95_MS = 200.0


async def _prefill(redis: Redis, customer_id: str, n: int) -> None:
    """n earlier messages across the four channels, written straight to the transcript."""
    transcripts = TranscriptStore(redis)
    channels: tuple[Channel, ...] = ("telegram", "sms", "slack", "web")
    start = time.time() - 86400
    for i in range(n):
        await transcripts.append(customer_id, TranscriptEntry(
            ts=start + i, channel=channels[i % 4], author="customer" if i % 2 else "bot",
            text=f"Earlier message {i}: my order #{1000 + i} has not arrived yet."))


class AgentConsole:
    """A signed-in agent console: when a ticket arrives on its socket it loads
    the ticket with the whole transcript, as the console page does."""

    def __init__(self, base: str, cookie: str, http: httpx.AsyncClient) -> None:
        self.base, self.cookie, self.http = base, cookie, http
        self.created: dict[str, float] = {}
        self.loaded: dict[str, float] = {}
        self.arrived = asyncio.Event()

    async def connect(self) -> None:
        self.socket = await websockets.connect(
            self.base.replace("http://", "ws://") + "/agent/ws",
            additional_headers={"Cookie": f"fd_staff={self.cookie}"})
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            if frame.get("type") == "ticket.created":
                ref = frame["ticket"]["ref"]
                self.created[ref] = time.time()
                detail = await self.http.get(f"/api/agent/tickets/{ref}")
                if detail.status_code == 200 and detail.json()["transcript"]:
                    self.loaded[ref] = time.time()
                self.arrived.set()

    async def close(self) -> None:
        self._reader.cancel()
        await self.socket.close()


async def _customer_socket(base: str, token: str):
    return await websockets.connect(base.replace("http://", "ws://") + f"/webchat/ws?token={token}")


async def _entry(socket, author: str, timeout: float = WAIT_S) -> dict:
    async def read() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if frame.get("type") == "entry" and frame["entry"]["author"] == author:
                return frame["entry"]
    return await asyncio.wait_for(read(), timeout)


async def _bench(settings: Settings, samples: int, transcript: int, console: Console) -> dict:
    base = settings.base_url
    redis = text_client(settings.effective_redis_url)
    await StaffStore(redis).create("bench-agent", "bench-agent-password", ["agent"])
    handoff = HandoffService(redis, settings.handoff)
    await handoff.set_profile("bench-agent", capacity=samples + 10)
    visitor_of = URLSafeTimedSerializer(settings.session_secret.get_secret_value(),
                                        salt="frontdoor.webchat.session")
    to_console, to_console_full, to_customer = [], [], []
    lost = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        login = await http.post("/login", data={"username": "bench-agent",
                                                "password": "bench-agent-password"})
        agent = httpx.AsyncClient(base_url=base, timeout=30, cookies=login.cookies,
                                  headers={"X-Requested-With": "frontdoor"})
        agent_console = AgentConsole(base, login.cookies["fd_staff"], agent)
        await agent_console.connect()
        for i in range(samples + 1):  # the first is a warm-up, not counted
            token = (await http.post("/webchat/session", json={})).json()["token"]
            socket = await _customer_socket(base, token)
            try:
                await socket.send(json.dumps({"type": "message", "text": "hello",
                                              "client_id": "h"}))
                await _entry(socket, "bot", 60)
                visitor = visitor_of.loads(token)["v"]
                customer_id = await Customers(redis).find("web", visitor)
                assert customer_id is not None  # the bot has answered: the customer exists
                await _prefill(redis, customer_id, transcript)
                agent_console.arrived.clear()
                await socket.send(json.dumps({"type": "message", "client_id": "p",
                                              "text": "I want to talk to a person"}))
                await _entry(socket, "bot", 60)
                ticket = await handoff.open_ticket_of(customer_id)
                if ticket is None:
                    lost += 1
                    continue
                deadline = time.time() + WAIT_S
                while ticket.ref not in agent_console.loaded and time.time() < deadline:
                    agent_console.arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(agent_console.arrived.wait(), 1)
                if ticket.ref not in agent_console.loaded:
                    lost += 1
                    continue
                await agent.post(f"/api/agent/tickets/{ticket.ref}/claim")
                await _entry(socket, "system")  # "... has joined the conversation"
                sent = time.time()
                await agent.post(f"/api/agent/tickets/{ticket.ref}/reply",
                                 json={"text": f"Hello, I'm here to help ({i})."})
                try:
                    await _entry(socket, "agent")
                except TimeoutError:
                    lost += 1
                    continue
                received = time.time()
                await agent.post(f"/api/agent/tickets/{ticket.ref}/resolve",
                                 json={"csat": False})
                if i == 0:
                    continue
                to_console.append((agent_console.created[ticket.ref] - ticket.created_at) * 1000)
                to_console_full.append((agent_console.loaded[ticket.ref] - ticket.created_at)
                                       * 1000)
                to_customer.append((received - sent) * 1000)
                if i % 10 == 0:
                    console.print(f"  {i}/{samples} samples")
            finally:
                await socket.close()
        await agent_console.close()
        await agent.aclose()
    await redis.aclose()
    return {"escalation_to_console": latency_summary(to_console, 1),
            "escalation_to_console_with_transcript": latency_summary(to_console_full, 1),
            "reply_to_customer": latency_summary(to_customer, 1),
            "lost": lost, "samples": len(to_customer), "transcript_messages": transcript,
            "_raw": {"escalation → console": to_console,
                     "… with 1,000-message transcript loaded": to_console_full,
                     "agent reply → customer": to_customer}}


def _print(report: dict, console: Console) -> None:
    table = Table(title=f"Handoff latency ({report['samples']} samples, "
                        f"{report['transcript_messages']}-message transcripts)")
    for col in ("span", "p50 ms", "p95 ms", f"p95 target ≤ {TARGET_P95_MS:.0f} ms"):
        table.add_column(col, justify="right")
    for key, label in (("escalation_to_console", "escalation → console"),
                       ("escalation_to_console_with_transcript",
                        "escalation → console, transcript loaded"),
                       ("reply_to_customer", "agent reply → customer")):
        row = report[key]
        table.add_row(label, f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}",
                      "met" if row["p95_ms"] <= TARGET_P95_MS else "NOT met")
    console.print(table)
    console.print(f"lost: {report['lost']}")


def _plot(raw: dict[str, list[float]], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(7, 4))
    for label, values in raw.items():
        plot_ecdf(ax, values, label)
    ax.axvline(TARGET_P95_MS, color="grey", linestyle=":", label="p95 target")
    finish_axes(ax, "milliseconds", "share of samples")
    save_figure(fig, path)


def run(json_output: bool, samples: int, transcript: int, console: Console) -> int:
    quiet = Console(quiet=True) if json_output else console
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
        settings = Settings(redis_port=free_port(), port=free_port(), rasa_port=free_port(),
                            actions_port=free_port(), var_dir=Path(tmp),
                            session_secret=SecretStr(secrets.token_urlsafe(32)))
        stack = Stack(settings, echo=quiet.print)
        quiet.print("Starting a private stack for the benchmark…")
        stack.start()
        try:
            report = asyncio.run(_bench(settings, samples, transcript, quiet))
        finally:
            stack.stop()
    raw = report.pop("_raw")
    if json_output:
        print(json.dumps({k: report[k] for k in ("escalation_to_console", "reply_to_customer",
                                                 "lost")}
                         | {k: report[k] for k in report
                            if k not in ("escalation_to_console", "reply_to_customer", "lost")}))
    else:
        _print(report, console)
        plot = Path("bench-results") / "handoff-latency.png"
        _plot(raw, plot)
        console.print(f"plot: {plot}")
    return 0 if report["lost"] == 0 else 1
