"""`frontdoor bench chat`: the same utterances along three paths, interleaved in
one run, at 1 and at 50 concurrent customers:

- shipped: "Rasa direct as shipped": one plain `rasa run` with the REST channel
  and Rasa's defaults (its in-memory tracker store), the project's model and
  action server;
- direct: straight to the front door's own Rasa (Redis tracker and lock store,
  as many processes as `frontdoor up` chooses), its REST webhook;
- frontdoor: through the front door's web chat WebSocket.

Then, through the front door: customers with N earlier messages (`--history`,
bot/bench/chat_history.py); a burst (one customer sends hundreds of messages at
once while 49 others chat: order kept, nobody starved; fairness = each
customer's p95 against the median customer's); and where a turn's time goes
(bot/bench/chat_profile.py). Starts its own stack on free ports.

p50/p95 are nearest-rank percentiles (bot/bench/stats.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
import yaml
from rich.console import Console
from rich.table import Table

from bot.bench.chat_history import Template, build_history, load_history
from bot.bench.chat_profile import (
    profile_turn,
    redis_commands,
    redis_round_trip_ms,
)
from bot.bench.cpu import CpuMeter
from bot.bench.stats import finish_axes, latency_summary, p50, p95, plot_ecdf, pyplot, save_figure
from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.customers.transcript import TranscriptStore
from bot.gateway.rasa_client import (
    RasaClient,
    parse_rasa_messages,
    rasa_http_client,
    replica_order,
)
from bot.infra.redis_procs import free_port
from bot.infra.supervisor import (
    ACTIONS_TOKEN_VARIABLE,
    RASA_BIN,
    Child,
    Stack,
    base_env,
    current_model,
    plan,
    port_in_use,
    session_secret,
)
from bot.rasa_store.sessions import RasaSessions, SessionRule
from core.redis import text_client
from core.settings import PROJECT_ROOT, Settings

UTTERANCES = [
    "hello", "can I pay with PayPal?", "how long does delivery take", "thanks",
    "I forgot my password", "what is your return policy", "do you ship to Germany",
    "my promo code doesn't work", "are you a bot?", "when is the showroom open",
    "how do I track my order", "my parcel arrived damaged", "what can you do",
    "how much is express delivery", "can I cancel my order", "goodbye",
]
TURN_TIMEOUT_S = 60.0
PATHS = ("shipped", "direct", "frontdoor")
LABELS = {"shipped": "a: Rasa as shipped", "direct": "b: our Rasa direct",
          "frontdoor": "c: front door"}
CONCURRENCY = 50
HISTORY_CUSTOMERS = 4  # per history length, each talks the script once
BURST_MESSAGES = 300
BURST_TURNS = 20  # per other customer during the burst


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
        self.lost_where: dict[str, int] = {}  # phase/path -> replies lost there
        self.duplicated = 0
        self.rejected = 0

    def lose(self, where: str) -> None:
        self.lost += 1
        self.lost_where[where] = self.lost_where.get(where, 0) + 1


class DirectCustomer:
    def __init__(self, http: httpx.AsyncClient, rasa_url: str, sender: str) -> None:
        self._http, self._url, self.sender = http, f"{rasa_url}/webhooks/rest/webhook", sender

    async def turn(self, text: str, expected: int = 0) -> int:
        response = await self._http.post(self._url, json={"sender": self.sender, "message": text,
                                                          "metadata": {"channel": "web"}})
        response.raise_for_status()
        return len(parse_rasa_messages(response.json()))

    async def close(self) -> int:
        return 0


class WebCustomer:
    """A widget: one socket, counts bot entries and notices repeats. Like a
    person, it starts talking once the widget has opened: greeted a new visitor
    (the "topics" frame) or shown a known customer where they stand ("state")."""

    def __init__(self, base: str, counters: Counters) -> None:
        self._base, self._counters = base, counters
        self._entries: asyncio.Queue = asyncio.Queue()
        self._opened = asyncio.Event()
        self._seen: set[str] = set()
        self._n = 0
        self.token = ""

    async def connect(self, http: httpx.AsyncClient) -> None:
        if not self.token:
            self.token = (await http.post(f"{self._base}/webchat/session", json={})).json()[
                "token"]
        ws_base = self._base.replace("http://", "ws://")
        self._opened.clear()
        self._socket = await websockets.connect(f"{ws_base}/webchat/ws?token={self.token}",
                                                max_size=None)
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), TURN_TIMEOUT_S)

    async def _read(self) -> None:
        async for raw in self._socket:
            frame = json.loads(raw)
            if frame["type"] in ("topics", "state"):
                self._opened.set()
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

    async def send(self, text: str) -> None:
        self._n += 1
        await self._socket.send(json.dumps({"type": "message", "text": text,
                                            "client_id": f"b{self._n}"}))

    async def replies(self, expected: int) -> None:
        for _ in range(expected):
            await asyncio.wait_for(self._entries.get(), TURN_TIMEOUT_S)

    async def turn(self, text: str, expected: int) -> None:
        await self.send(text)
        await self.replies(expected)

    async def close(self) -> int:
        """Close; returns how many unexpected extra replies were still queued."""
        await asyncio.sleep(0.2)
        extra = self._entries.qsize()
        await self._socket.close()
        self._reader.cancel()
        return extra


async def _timed(phase: Phase, counters: Counters, work: Awaitable[Any], where: str
                 ) -> float | None:
    started = time.perf_counter()
    try:
        await work
    except (TimeoutError, httpx.HTTPError):
        counters.lose(where)
        return None
    ms = (time.perf_counter() - started) * 1000
    phase.latencies_ms.append(ms)
    phase.count += 1
    return ms


class Bench:
    def __init__(self, settings: Settings, shipped_url: str, console: Console,
                 http: httpx.AsyncClient, burst_messages: int = BURST_MESSAGES,
                 pids: Mapping[str, int] | None = None) -> None:
        self.settings, self.console, self.http = settings, console, http
        self.cpu = CpuMeter(pids or {})  # the stack's processes, by child name
        self.burst_messages = burst_messages
        self.urls = {"shipped": shipped_url}
        self.base = settings.base_url
        self.counters = Counters()
        self.expected: dict[str, int] = {}
        self.redis = text_client(settings.effective_redis_url)
        self.rasa_token = settings.rasa_token.get_secret_value()
        self.signer = SessionSigner(session_secret(settings), 86400)
        self.rasa = RasaClient(http, settings.rasa_replicas, settings.actions_url,
                               self.rasa_token, sessions=RasaSessions(self.redis, SessionRule(
                                   settings.rasa_session_idle_s,
                                   settings.rasa_session_max_kb * 1024)))

    def direct_url(self, sender: str) -> str:
        """Our Rasa process of a conversation, as the gateway would choose it: the
        direct path uses every process `frontdoor up` started, as the front door does."""
        return replica_order(sender, self.settings.rasa_replicas)[0]

    def customer(self, path: str, name: str) -> DirectCustomer | WebCustomer:
        if path == "frontdoor":
            return WebCustomer(self.base, self.counters)
        url = self.urls["shipped"] if path == "shipped" else self.direct_url(name)
        return DirectCustomer(self.http, url, name)

    async def turn(self, customer: DirectCustomer | WebCustomer, text: str) -> None:
        await customer.turn(text, self.expected[text])

    async def calibrate(self) -> None:
        """How many messages each utterance produces (one model answers every
        path, once the knowledge head is in), and warm every path (model caches,
        the index, connections)."""
        await DirectCustomer(self.http, self.direct_url("bench-calibrate"),
                             "bench-calibrate").turn(UTTERANCES[1])  # builds the index
        # The first knowledge question built the index; its head is fitted in the
        # action server's background: wait, so no phase measures that fit.
        ready = await self.http.get(f"{self.settings.actions_url}/knowledge/ready",
                                    params={"token": self.settings.actions_token
                                            .get_secret_value()}, timeout=600)
        ready.raise_for_status()
        for text in UTTERANCES:
            self.expected[text] = await DirectCustomer(
                self.http, self.direct_url("bench-calibrate"), "bench-calibrate").turn(text)
            if not self.expected[text]:  # Rasa says nothing when a custom action fails
                raise RuntimeError(f"Rasa answered nothing to {text!r}: see its log")
        for path in PATHS:
            customer = self.customer(path, f"bench-warm-{path}")
            if isinstance(customer, WebCustomer):
                await customer.connect(self.http)
            for text in UTTERANCES:
                await self.turn(customer, text)
            self.counters.duplicated += await customer.close()

    async def one_customer(self, messages: int) -> dict[str, Phase]:
        """All three paths, message by message in rotating order. Each
        conversation is the utterance script once, then a new customer starts."""
        phases = {path: Phase() for path in PATHS}
        self.console.print(f"[bold]1 customer[/bold]: {messages} utterances per path, "
                           f"interleaved, {len(UTTERANCES)} per conversation")
        orders = list(itertools.permutations(PATHS))
        customers: dict[str, DirectCustomer | WebCustomer] = {}
        for i in range(messages):
            if i % len(UTTERANCES) == 0:
                for customer in customers.values():
                    self.counters.duplicated += await customer.close()
                conversation = i // len(UTTERANCES)
                customers = {p: self.customer(p, f"bench-{p}-c1-{conversation}") for p in PATHS}
                web = customers["frontdoor"]
                assert isinstance(web, WebCustomer)
                await web.connect(self.http)
            text = UTTERANCES[i % len(UTTERANCES)]
            for path in orders[i % len(orders)]:
                started = time.perf_counter()
                await _timed(phases[path], self.counters, self.turn(customers[path], text),
                             f"c1/{path}")
                phases[path].wall_s += time.perf_counter() - started
        for customer in customers.values():
            self.counters.duplicated += await customer.close()
        return phases

    async def many_customers(self, messages: int, rounds: int = 3
                             ) -> tuple[dict[str, Phase], list[list[float]]]:
        """Closed loop, 50 customers, rotating the paths round by round. Also the
        front door's latencies per customer (by index across rounds)."""
        phases = {path: Phase() for path in PATHS}
        per_customer = max(1, messages // CONCURRENCY)
        by_customer: list[list[float]] = [[] for _ in range(CONCURRENCY)]
        self.console.print(f"[bold]{CONCURRENCY} customers[/bold]: {rounds} rounds per path, "
                           f"{per_customer} utterances per customer per round")
        orders = list(itertools.permutations(PATHS))
        for round_no in range(rounds):
            for path in orders[round_no % len(orders)]:
                phase = phases[path]
                customers = [self.customer(path, f"bench-{path}-{round_no}-{c}")
                             for c in range(CONCURRENCY)]
                await asyncio.gather(*(c.connect(self.http) for c in customers
                                       if isinstance(c, WebCustomer)))

                async def run_customer(index: int, customer, phase=phase, path=path) -> None:
                    for k in range(per_customer):
                        text = UTTERANCES[(index + k) % len(UTTERANCES)]
                        ms = await _timed(phase, self.counters, self.turn(customer, text),
                                          f"c50/{path}")
                        if path == "frontdoor" and ms is not None:
                            by_customer[index].append(ms)

                started, cpu_before = time.perf_counter(), self.cpu.start()
                await asyncio.gather(*(run_customer(i, c) for i, c in enumerate(customers)))
                phase.wall_s += time.perf_counter() - started
                self.cpu.stop(path, cpu_before, CONCURRENCY * per_customer)
                extras = await asyncio.gather(*(c.close() for c in customers))
                self.counters.duplicated += sum(extras)
        return phases, by_customer

    async def web_customer_id(self, customer: WebCustomer) -> str:
        """The customer id the gateway gives this widget's visitor (resolved here
        as the router does, before its first message)."""
        visitor = self.signer.visitor(customer.token)
        return await IdentityStore(self.redis).resolve("web", visitor, None)

    async def history(self, lengths: Sequence[int]) -> dict[int, Phase]:
        """Customers with N earlier messages, then the script once each through
        the front door, turn by turn across lengths (one customer at a time)."""
        template_sender = "bench-history-template"
        template_url = self.direct_url(template_sender)
        template_customer = DirectCustomer(self.http, template_url, template_sender)
        for text in UTTERANCES:
            await template_customer.turn(text)
        raw = (await self.http.get(f"{template_url}/conversations/{template_sender}"
                                   "/tracker", params={"token": self.rasa_token})).json()
        template = Template.from_events(raw["events"])
        transcripts = TranscriptStore(self.redis)
        customers: dict[int, list[WebCustomer]] = {}
        started = time.perf_counter()
        for n in lengths:
            history = build_history(template, n) if n else None
            customers[n] = []
            for _ in range(HISTORY_CUSTOMERS):
                web = WebCustomer(self.base, self.counters)
                web.token = (await self.http.post(f"{self.base}/webchat/session",
                                                  json={})).json()["token"]
                if history is not None:
                    customer_id = await self.web_customer_id(web)
                    sender = await self.rasa.sender_id(customer_id)
                    replica = replica_order(customer_id, self.settings.rasa_replicas)[0]
                    await load_history(self.http, replica, self.rasa_token, sender,
                                       customer_id, transcripts, history)
                customers[n].append(web)
        self.console.print(f"[bold]history[/bold]: {HISTORY_CUSTOMERS} customers each with "
                           f"{', '.join(map(str, lengths))} earlier messages, loaded in "
                           f"{time.perf_counter() - started:.0f} s")
        for group in customers.values():
            await asyncio.gather(*(c.connect(self.http) for c in group))
        phases = {n: Phase() for n in lengths}
        for c in range(HISTORY_CUSTOMERS):
            for text in UTTERANCES:
                for n in lengths:
                    started = time.perf_counter()
                    await _timed(phases[n], self.counters, self.turn(customers[n][c], text),
                                 f"history/{n}")
                    phases[n].wall_s += time.perf_counter() - started
        for group in customers.values():
            for web in group:
                self.counters.duplicated += await web.close()
        return phases

    async def burst(self) -> dict[str, Any]:
        """One customer sends BURST_MESSAGES at once while 49 others chat
        (BURST_TURNS each): the others' latencies against the median customer's
        (fairness), and the burst's order in the transcript."""
        count = self.burst_messages
        self.console.print(f"[bold]burst[/bold]: 1 customer sends {count} messages at "
                           f"once while {CONCURRENCY - 1} others talk")
        burster = WebCustomer(self.base, self.counters)
        await burster.connect(self.http)
        others = [WebCustomer(self.base, self.counters) for _ in range(CONCURRENCY - 1)]
        await asyncio.gather(*(c.connect(self.http) for c in others))
        texts = [UTTERANCES[k % len(UTTERANCES)] for k in range(count)]
        phase = Phase()
        per_customer: list[list[float]] = [[] for _ in others]

        async def run_other(index: int, customer: WebCustomer) -> None:
            for k in range(BURST_TURNS):
                text = UTTERANCES[(index + k) % len(UTTERANCES)]
                ms = await _timed(phase, self.counters, self.turn(customer, text),
                                  "burst/others")
                if ms is not None:
                    per_customer[index].append(ms)

        async def run_burst() -> float:
            started = time.perf_counter()
            for text in texts:
                await burster.send(text)
            try:
                await burster.replies(sum(self.expected[t] for t in texts))
            except TimeoutError:
                self.counters.lose("burst/burster")
            return time.perf_counter() - started

        started = time.perf_counter()
        burst_s, *_ = await asyncio.gather(run_burst(), *(run_other(i, c)
                                                          for i, c in enumerate(others)))
        phase.wall_s = time.perf_counter() - started
        in_order = await self._burst_in_order(burster, count)
        for c in (burster, *others):
            self.counters.duplicated += await c.close()
        return {"messages": count, "others": phase.summary(),
                "burst_s": round(float(burst_s or 0), 1), "burst_in_order": in_order,
                "fairness": fairness(per_customer)}

    async def _burst_in_order(self, burster: WebCustomer, count: int) -> bool:
        """The burst's messages in the transcript in the order sent, each one's
        replies before the next message."""
        customer_id = await self.web_customer_id(burster)
        entries = await TranscriptStore(self.redis).history(customer_id, limit=10 * count)
        sent = [e.client_id for e in entries if e.author == "customer"]
        if sent != [f"b{k + 1}" for k in range(count)]:
            return False
        authors = "".join("c" if e.author == "customer" else "b" for e in entries
                          if e.author in ("customer", "bot"))
        return "cc" not in authors and not authors.endswith("c")

    async def profile(self, c1: dict[str, Phase]) -> dict[str, float]:
        """Where one turn's time goes (bot/bench/chat_profile.py)."""
        self.console.print("[bold]profile[/bold]: one turn, part by part")
        direct = DirectCustomer(self.http, self.direct_url("bench-profile-direct"),
                                "bench-profile-direct")
        web = WebCustomer(self.base, self.counters)
        await web.connect(self.http)
        before = await redis_commands(self.redis)
        for text in UTTERANCES:
            await direct.turn(text)
        middle = await redis_commands(self.redis)
        for text in UTTERANCES:
            await self.turn(web, text)
        after = await redis_commands(self.redis)
        self.counters.duplicated += await web.close()
        commands = ((after - middle) - (middle - before)) / len(UTTERANCES)
        rtt = await redis_round_trip_ms(self.redis)
        parts = await profile_turn(self.http, self.direct_url(direct.sender),
                                   self.settings.actions_url,
                                   self.rasa_token,
                                   self.settings.actions_token.get_secret_value(),
                                   UTTERANCES, direct.sender)
        front, rasa = p50(c1["frontdoor"].latencies_ms), p50(c1["direct"].latencies_ms)
        return {"turn_ms": round(front, 1), "rasa_turn_ms": round(rasa, 1),
                "gateway_ms": round(front - rasa, 1),
                "gateway_redis_commands": round(commands, 1),
                "gateway_redis_ms": round(commands * rtt, 1), **parts}

    async def close(self) -> None:
        await self.redis.aclose()


def fairness(per_customer: list[list[float]]) -> dict[str, float]:
    """Each customer's p95 against the median customer's: the worst ratio (the
    target: at most 2)."""
    p95s = sorted(p95(values) for values in per_customer if values)
    if not p95s:
        return {"median_p95_ms": float("nan"), "worst_p95_ms": float("nan"), "worst_ratio": 0.0}
    median = p50(p95s)
    return {"median_p95_ms": round(median, 1), "worst_p95_ms": round(p95s[-1], 1),
            "worst_ratio": round(p95s[-1] / median, 2)}


async def _bench(settings: Settings, shipped_url: str, messages: int,
                 history: Sequence[int], burst_messages: int, console: Console,
                 pids: Mapping[str, int]) -> dict:
    # the load generator shares the machine: as cheap per request as the gateway's
    # own client, for every path alike
    async with rasa_http_client(TURN_TIMEOUT_S, max_connections=300) as http:
        bench = Bench(settings, shipped_url, console, http, burst_messages, pids)
        try:
            await bench.calibrate()
            c1 = await bench.one_customer(messages)
            c50, by_customer = await bench.many_customers(messages)
            lengths = await bench.history(history) if history else {}
            burst = await bench.burst()
            profile = await bench.profile(c1)
        finally:
            await bench.close()
    report: dict[str, Any] = {
        path: {"c1": c1[path].summary(), "c50": c50[path].summary()} for path in PATHS}
    report["history"] = {str(n): phase.summary() for n, phase in lengths.items()}
    report["fairness"] = fairness(by_customer)
    report["burst"] = burst
    report["profile"] = profile
    report["cpu_ms_per_message"] = bench.cpu.per_message()  # at 50 customers
    report["rasa_processes"] = len(settings.rasa_replicas)
    report["targets"] = targets(report)
    report["lost"] = bench.counters.lost
    report["lost_where"] = bench.counters.lost_where
    report["duplicated"] = bench.counters.duplicated
    report["rejected"] = bench.counters.rejected
    report["_latencies"] = {f"{p}/{c}": phases[p].latencies_ms
                            for c, phases in (("c1", c1), ("c50", c50)) for p in PATHS}
    return report


def targets(report: dict) -> dict[str, Any]:
    """issue 15's targets, as ratios measured in this run."""
    shipped, front = report["shipped"], report["frontdoor"]
    found: dict[str, Any] = {
        "throughput_c50_vs_shipped": _ratio(front["c50"]["rps"], shipped["c50"]["rps"]),
        "p50_c1_vs_shipped": _ratio(front["c1"]["p50_ms"], shipped["c1"]["p50_ms"]),
    }
    history = report.get("history") or {}
    if "0" in history and len(history) > 1:
        longest = max(history, key=int)
        found[f"p50_history_{longest}_vs_0"] = _ratio(history[longest]["p50_ms"],
                                                     history["0"]["p50_ms"])
    found["fairness_worst_p95_vs_median"] = report["fairness"]["worst_ratio"]
    found["burst_fairness_worst_p95_vs_median"] = report["burst"]["fairness"]["worst_ratio"]
    return found


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


TARGETS = (  # key prefix, comparison, bound
    ("throughput_c50_vs_shipped", ">=", 1.5),
    ("p50_c1_vs_shipped", "<=", 1.1),
    ("p50_history_", "<=", 1.2),
    ("fairness_worst_p95_vs_median", "<=", 2.0),
    ("burst_fairness_worst_p95_vs_median", "<=", 2.0),
)


def target_lines(found: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in found.items():
        for prefix, op, bound in TARGETS:
            if key.startswith(prefix):
                met = value >= bound if op == ">=" else value <= bound
                lines.append(f"{key} = {value:.2f} ({op} {bound}: "
                             f"{'met' if met else 'NOT met'})")
    return lines


def _print_table(report: dict, console: Console) -> None:
    table = Table(title="Web chat: Rasa as shipped (a), our Rasa direct (b), the front door (c)")
    for col in ("customers", "path", "p50 ms", "p95 ms", "msgs/s"):
        table.add_column(col, justify="right")
    for c, label in (("c1", "1"), ("c50", str(CONCURRENCY))):
        for path in PATHS:
            m = report[path][c]
            table.add_row(label, LABELS[path], f"{m['p50_ms']:.1f}", f"{m['p95_ms']:.1f}",
                          f"{m['rps']:.1f}", end_section=path == PATHS[-1])
    console.print(table)
    if report["history"]:
        history = Table(title="Front door, one customer at a time, by earlier messages")
        for col in ("earlier messages", "p50 ms", "p95 ms"):
            history.add_column(col, justify="right")
        for n, m in report["history"].items():
            history.add_row(n, f"{m['p50_ms']:.1f}", f"{m['p95_ms']:.1f}")
        console.print(history)
    burst = report["burst"]
    console.print(f"burst of {burst['messages']}: served in {burst['burst_s']} s, in order: "
                  f"{burst['burst_in_order']}; the others: p50 {burst['others']['p50_ms']} ms, "
                  f"p95 {burst['others']['p95_ms']} ms; worst customer p95 / median "
                  f"{burst['fairness']['worst_ratio']}")
    profile = Table(title="One turn, part by part (ms; bot/bench/chat_profile.py)")
    profile.add_column("part")
    profile.add_column("ms", justify="right")
    for key, value in report["profile"].items():
        profile.add_row(key, f"{value}")
    console.print(profile)
    cpu = Table(title="CPU ms per message at 50 customers, by process (bot/bench/cpu.py)")
    seen = {g for row in report["cpu_ms_per_message"].values() for g in row}
    groups = [*sorted(seen - {"total"}), "total"]
    cpu.add_column("path")
    for name in groups:
        cpu.add_column(name, justify="right")
    for path in PATHS:
        row = report["cpu_ms_per_message"].get(path, {})
        cpu.add_row(LABELS[path], *(f"{row[g]}" if g in row else "" for g in groups))
    console.print(cpu)
    console.print(f"Rasa processes: {report['rasa_processes']}")
    console.print(f"lost replies: {report['lost']} {report['lost_where'] or ''}   "
                  f"duplicated replies: {report['duplicated']}"
                  f"   messages refused by the gateway: {report['rejected']}")
    for line in target_lines(report["targets"]):
        console.print(f"target: {line}")


def _plot(latencies: dict[str, list[float]], path: Path) -> None:
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4))
    for ax, c in zip(axes, ("c1", "c50"), strict=True):
        for p, style in zip(PATHS, (":", "-", "--"), strict=True):
            plot_ecdf(ax, latencies[f"{p}/{c}"], LABELS[p], style)
        finish_axes(ax, "latency per utterance (ms)", "share of utterances",
                    title=f"{1 if c == 'c1' else CONCURRENCY} concurrent customer(s)")
    save_figure(fig, path)


def _plot_history(history: dict[str, dict], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(6, 4))
    lengths = [int(n) for n in history]
    ax.plot(lengths, [history[str(n)]["p50_ms"] for n in lengths], "o-", label="p50")
    ax.plot(lengths, [history[str(n)]["p95_ms"] for n in lengths], "s--", label="p95")
    ax.set_ylim(bottom=0)
    finish_axes(ax, "earlier messages of the customer", "latency per utterance (ms)",
                title="Front door latency against history length")
    save_figure(fig, path)


def shipped_child(settings: Settings, port: int) -> Child:
    """Rasa as shipped: `rasa run` with the REST channel and Rasa's defaults (no
    tracker or lock store configured: in memory), our model, and the action
    endpoint (with the token our action server requires)."""
    endpoints = settings.var_dir / "run" / "endpoints-shipped.yml"
    endpoints.parent.mkdir(parents=True, exist_ok=True)
    endpoints.write_text(yaml.safe_dump({"action_endpoint": {
        "url": f"{settings.actions_url}/webhook", "token": f"${{{ACTIONS_TOKEN_VARIABLE}}}"}}))
    argv = [str(RASA_BIN), "run", "--model", str(current_model(settings)),
            "--endpoints", str(endpoints),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--interface", "127.0.0.1", "--port", str(port)]
    env = {**base_env(), ACTIONS_TOKEN_VARIABLE: settings.actions_token.get_secret_value()}
    return Child("rasa-shipped", argv, env, f"http://127.0.0.1:{port}/",
                 settings.var_dir / "log" / "rasa-shipped.log", port, timeout_s=300)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    while True:
        first = free_port()
        if all(not port_in_use(first + i) for i in range(1, count)):
            return first


def parse_history(values: Sequence[str]) -> list[int]:
    """`--history 0,200 --history 1000` -> [0, 200, 1000] (sorted, 0 added)."""
    found = {0}
    for value in values:
        found.update(int(v) for v in value.split(",") if v.strip())
    if any(n < 0 for n in found):
        raise ValueError("history lengths are 0 or more")
    return sorted(found)


def run(json_output: bool, messages: int, console: Console,
        history: Sequence[int] = (0, 200, 1000, 5000), burst: int = BURST_MESSAGES) -> int:
    quiet = Console(quiet=True) if json_output else console
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
        # FRONTDOOR_RASA_PROCESSES, if set, is read here too (0: frontdoor up's choice)
        settings = Settings(redis_port=free_port(), port=free_port(), rasa_port=free_ports(8),
                            actions_port=free_port(), var_dir=Path(tmp),
                            # a benchmark client is no person: measure the pipeline,
                            # not the per-connection or per-address flood limits
                            rate_limit_per_10s=1_000_000,
                            webchat_sessions_per_address=1_000_000,
                            webchat_connects_per_address=1_000_000,
                            webchat_messages_per_address=1_000_000)
        shipped_port = free_port()

        def planner(s: Settings) -> list[list[Child]]:
            waves = plan(s)
            waves[-1].append(shipped_child(s, shipped_port))
            return waves

        stack = Stack(settings, echo=quiet.print, planner=planner)
        quiet.print("Starting a private stack for the benchmark…")
        stack.start()
        try:
            pids = {c.name: c.proc.pid for c in stack.children if c.proc is not None}
            report = asyncio.run(_bench(stack.settings, f"http://127.0.0.1:{shipped_port}",
                                        messages, history, burst, quiet, pids))
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
        if report["history"]:
            history_plot = Path("bench-results") / "chat-history.png"
            _plot_history(report["history"], history_plot)
            console.print(f"plot: {history_plot}")
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 else 1
