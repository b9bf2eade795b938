"""`frontdoor bench chat`: the same utterances (a) straight to Rasa's REST webhook
and (b) through the front door's web chat WebSocket, interleaved in one run, at
1 and at 50 concurrent customers. Starts its own stack on free ports.

p50/p95 are nearest-rank percentiles (bot/bench/stats.py)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from rich.console import Console
from rich.table import Table

from bot.bench.stats import finish_axes, latency_summary, plot_ecdf, pyplot, save_figure
from bot.gateway.rasa_client import parse_rasa_messages
from bot.infra.redis_procs import free_port
from bot.infra.supervisor import Stack
from core.settings import Settings

UTTERANCES = [
    "hello", "can I pay with PayPal?", "how long does delivery take", "thanks",
    "I forgot my password", "what is your return policy", "do you ship to Germany",
    "my promo code doesn't work", "are you a bot?", "when is the showroom open",
    "how do I track my order", "my parcel arrived damaged", "what can you do",
    "how much is express delivery", "can I cancel my order", "goodbye",
]
TURN_TIMEOUT_S = 30.0


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    count: int = 0

    def summary(self) -> dict:
        return latency_summary(self.latencies_ms, 2) | {
            "rps": round(self.count / self.wall_s, 2) if self.wall_s else 0.0,
        }


class Counters:
    def __init__(self) -> None:
        self.lost = 0
        self.duplicated = 0
        self.rejected = 0


class DirectCustomer:
    def __init__(self, http: httpx.AsyncClient, rasa_url: str, sender: str) -> None:
        self._http, self._url, self.sender = http, f"{rasa_url}/webhooks/rest/webhook", sender

    async def turn(self, text: str) -> int:
        response = await self._http.post(self._url, json={"sender": self.sender, "message": text,
                                                          "metadata": {"channel": "web"}})
        response.raise_for_status()
        return len(parse_rasa_messages(response.json()))


class WebCustomer:
    """A widget: one socket, counts bot entries and notices repeats."""

    def __init__(self, base: str, counters: Counters) -> None:
        self._base, self._counters = base, counters
        self._entries: asyncio.Queue = asyncio.Queue()
        self._seen: set[str] = set()
        self._n = 0

    async def connect(self, http: httpx.AsyncClient) -> None:
        token = (await http.post(f"{self._base}/webchat/session", json={})).json()["token"]
        ws_base = self._base.replace("http://", "ws://")
        self._socket = await websockets.connect(f"{ws_base}/webchat/ws?token={token}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._socket:
            frame = json.loads(raw)
            if frame["type"] == "error":
                self._counters.rejected += 1
                continue
            if frame["type"] != "entry" or frame["entry"]["author"] != "bot":
                continue
            if frame["entry"]["id"] in self._seen:
                self._counters.duplicated += 1
                continue
            self._seen.add(frame["entry"]["id"])
            await self._entries.put(frame["entry"])

    async def turn(self, text: str, expected: int) -> None:
        self._n += 1
        await self._socket.send(json.dumps({"type": "message", "text": text,
                                            "client_id": f"b{self._n}"}))
        for _ in range(expected):
            await asyncio.wait_for(self._entries.get(), TURN_TIMEOUT_S)

    async def close(self) -> int:
        """Close; returns how many unexpected extra replies were still queued."""
        await asyncio.sleep(0.2)
        extra = self._entries.qsize()
        await self._socket.close()
        self._reader.cancel()
        return extra


async def _timed(phase: Phase, counters: Counters, work) -> None:
    started = time.perf_counter()
    try:
        await work
        phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        phase.count += 1
    except (TimeoutError, httpx.HTTPError):
        counters.lost += 1


async def _bench(settings: Settings, messages: int, console: Console) -> dict:
    base = settings.base_url
    counters = Counters()
    results = {path: {"c1": Phase(), "c50": Phase()} for path in ("direct", "frontdoor")}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT_S, limits=limits) as http:
        # How many messages each utterance produces (the same model answers both paths).
        expected = {}
        for text in UTTERANCES:
            expected[text] = max(1, await DirectCustomer(http, settings.rasa_url,
                                                         "bench-calibrate").turn(text))

        # Warm both paths (model caches, index, connections).
        web = WebCustomer(base, counters)
        await web.connect(http)
        for text in UTTERANCES:
            await web.turn(text, expected[text])
        await web.close()

        # 1 customer: alternate message by message between the two paths. Each
        # conversation is the utterance script once, then a new customer starts:
        # Rasa's turn time grows with the length of a conversation, and real
        # ones are bounded by the session expiry (domain.yml).
        console.print(f"[bold]1 customer[/bold]: {messages} utterances per path, interleaved, "
                      f"{len(UTTERANCES)} per conversation")
        for i in range(messages):
            if i % len(UTTERANCES) == 0:
                if i:
                    counters.duplicated += await web.close()
                conversation = i // len(UTTERANCES)
                direct = DirectCustomer(http, settings.rasa_url, f"bench-direct-c1-{conversation}")
                web = WebCustomer(base, counters)
                await web.connect(http)
            text = UTTERANCES[i % len(UTTERANCES)]
            for path in (("direct", "frontdoor") if i % 2 == 0 else ("frontdoor", "direct")):
                phase = results[path]["c1"]
                started = time.perf_counter()
                work = direct.turn(text) if path == "direct" else web.turn(text, expected[text])
                await _timed(phase, counters, work)
                phase.wall_s += time.perf_counter() - started
        counters.duplicated += await web.close()

        # 50 customers: closed loop, alternating rounds between the paths.
        concurrency, rounds = 50, 4
        per_customer = max(1, messages // concurrency)
        console.print(f"[bold]{concurrency} customers[/bold]: {rounds} rounds per path, "
                      f"{per_customer} utterances per customer per round")
        for round_no in range(rounds):
            for path in (("direct", "frontdoor") if round_no % 2 == 0 else ("frontdoor", "direct")):
                phase = results[path]["c50"]
                webs: list[WebCustomer] = []
                customers: list[DirectCustomer] | list[WebCustomer]
                if path == "direct":
                    customers = [DirectCustomer(http, settings.rasa_url, f"bench-d-{round_no}-{c}")
                                 for c in range(concurrency)]
                else:
                    customers = webs = [WebCustomer(base, counters) for _ in range(concurrency)]
                    await asyncio.gather(*(c.connect(http) for c in webs))

                async def run_customer(c, offset: int, phase=phase, path=path) -> None:
                    for k in range(per_customer):
                        text = UTTERANCES[(offset + k) % len(UTTERANCES)]
                        work = c.turn(text) if path == "direct" else c.turn(text, expected[text])
                        await _timed(phase, counters, work)

                started = time.perf_counter()
                await asyncio.gather(*(run_customer(c, i) for i, c in enumerate(customers)))
                phase.wall_s += time.perf_counter() - started
                if path == "frontdoor":
                    extras = await asyncio.gather(*(c.close() for c in webs))
                    counters.duplicated += sum(extras)

    report: dict[str, Any] = {path: {c: results[path][c].summary() for c in ("c1", "c50")}
              for path in ("direct", "frontdoor")}
    report["lost"] = counters.lost
    report["duplicated"] = counters.duplicated
    report["rejected"] = counters.rejected
    report["_latencies"] = {f"{p}/{c}": results[p][c].latencies_ms
                            for p in results for c in ("c1", "c50")}
    return report


def _print_table(report: dict, console: Console) -> None:
    table = Table(title="Web chat: Rasa direct (a) vs through the front door (b)")
    for col in ("customers", "path", "p50 ms", "p95 ms", "msgs/s"):
        table.add_column(col, justify="right")
    for c, label in (("c1", "1"), ("c50", "50")):
        a, b = report["direct"][c], report["frontdoor"][c]
        table.add_row(label, "a: Rasa direct", f"{a['p50_ms']:.1f}", f"{a['p95_ms']:.1f}",
                      f"{a['rps']:.1f}")
        table.add_row(label, "b: front door", f"{b['p50_ms']:.1f}", f"{b['p95_ms']:.1f}",
                      f"{b['rps']:.1f}")
        table.add_row(label, "[bold]ratio b/a[/bold]", f"{b['p50_ms'] / a['p50_ms']:.2f}x",
                      f"{b['p95_ms'] / a['p95_ms']:.2f}x", f"{b['rps'] / a['rps']:.2f}x",
                      end_section=True)
    console.print(table)
    console.print(f"lost replies: {report['lost']}   duplicated replies: {report['duplicated']}"
                  f"   messages refused by the gateway: {report['rejected']}")
    c1 = report["frontdoor"]["c1"]["p50_ms"] / report["direct"]["c1"]["p50_ms"]
    c50 = report["frontdoor"]["c50"]["rps"] / report["direct"]["c50"]["rps"]
    console.print(f"targets: p50 ratio at 1 customer {c1:.2f} (<= 1.15: "
                  f"{'met' if c1 <= 1.15 else 'NOT met'}); throughput ratio at 50 customers "
                  f"{c50:.2f} (>= 0.9: {'met' if c50 >= 0.9 else 'NOT met'})")


def _plot(latencies: dict[str, list[float]], path: Path) -> None:
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4))
    for ax, c in zip(axes, ("c1", "c50"), strict=True):
        for p, style in (("direct", "-"), ("frontdoor", "--")):
            plot_ecdf(ax, latencies[f"{p}/{c}"],
                      {"direct": "a: Rasa direct", "frontdoor": "b: front door"}[p], style)
        finish_axes(ax, "latency per utterance (ms)", "share of utterances",
                    title=f"{c[1:]} concurrent customer(s)")
    save_figure(fig, path)


def run(json_output: bool, messages: int, console: Console) -> int:
    quiet = Console(quiet=True) if json_output else console
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
        settings = Settings(redis_port=free_port(), port=free_port(), rasa_port=free_port(),
                            actions_port=free_port(), var_dir=Path(tmp),
                            # a benchmark client is no person: measure the pipeline,
                            # not the per-connection flood limit
                            rate_limit_per_10s=1_000_000)
        stack = Stack(settings, echo=quiet.print)
        quiet.print("Starting a private stack for the benchmark…")
        stack.start()
        try:
            report = asyncio.run(_bench(settings, messages, quiet))
        finally:
            stack.stop()
    latencies = report.pop("_latencies")
    if json_output:
        print(json.dumps(report))
    else:
        _print_table(report, console)
        plot = Path("bench-results") / "chat-latency.png"
        _plot(latencies, plot)
        console.print(f"plot: {plot}")
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 else 1
