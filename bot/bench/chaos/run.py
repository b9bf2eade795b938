"""`frontdoor bench chaos`: start the private topology, let customers talk on
web chat, Telegram and SMS (some asking for a person, answered by an agent),
inject the faults one at a time with a quiet period between, then wait a grace
period for late replies and report per fault window (report.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bot.bench.chaos import FAULTS, report
from bot.bench.chaos.drivers import (
    Agent,
    Customer,
    Ledger,
    SandboxCustomer,
    SandboxPoller,
    WebCustomer,
)
from bot.bench.chaos.faults import Outcome, injector
from bot.bench.chaos.topology import Options, Topology, running_topology
from core.staff import StaffStore
from handoff.service import HandoffService

log = logging.getLogger(__name__)
GRACE_S = 60.0  # after the last message, how long late replies may still come
AGENT = ("chaos-agent", "chaos-agent-password-0123")

@dataclass
class Plan:
    minutes: float = 5.0  # the quiet periods add up to this; restarts come on top
    customers: int = 12
    faults: tuple[str, ...] = FAULTS
    escalate_p: float = 0.08  # per turn, for every third customer (all channels)
    seed: int = 0


def make_customers(topo: Topology, ledger: Ledger, n: int, http: httpx.AsyncClient
                   ) -> tuple[list[Customer], list[SandboxCustomer]]:
    """Half on web chat (alternating gateways), a quarter each on Telegram and SMS."""
    customers: list[Customer] = []
    sandbox_users: list[SandboxCustomer] = []
    for i in range(n):
        kind = ("web", "telegram", "web", "sms")[i % 4]
        if kind == "web":
            first = (i // 2) % len(topo.gateway_urls)  # web customers are every other one
            customers.append(WebCustomer(f"web-{i}", ledger, topo.gateway_urls, first))
        else:
            user = f"chaos-tg-{i}" if kind == "telegram" else f"+1555{i:07d}"
            customer = SandboxCustomer(f"{kind}-{i}", ledger, topo.sandbox_url, kind, user, http)
            customers.append(customer)
            sandbox_users.append(customer)
    return customers, sandbox_users


async def _prepare_agent(topo: Topology) -> None:
    redis = topo.data_client()
    try:
        await StaffStore(redis).create(AGENT[0], AGENT[1], ["agent"])
        await HandoffService(redis, topo.settings.handoff).set_profile(AGENT[0], capacity=1000)
    finally:
        await redis.aclose()


async def _drive(topo: Topology, plan: Plan, console: Console) -> tuple[Ledger, list[Outcome],
                                                                        float]:
    ledger = Ledger()
    await _prepare_agent(topo)
    rng = random.Random(plan.seed)
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=15) as http:
        customers, sandbox_users = make_customers(topo, ledger, plan.customers, http)
        poller = SandboxPoller(sandbox_users)
        for customer in customers:
            await customer.open()
        await poller.sandbox_restarted()  # registers the Telegram users, in order
        agent = Agent(topo.settings.base_url, *AGENT, ledger)
        background = [asyncio.create_task(poller.run()), asyncio.create_task(agent.run())]
        t0 = time.time()
        talking = [asyncio.create_task(c.talk(stop, random.Random(rng.random()),
                                              plan.escalate_p if i % 3 == 2 else 0.0))
                   for i, c in enumerate(customers)]
        quiet_s = plan.minutes * 60 / (len(plan.faults) + 1)
        outcomes: list[Outcome] = []
        try:
            console.print(f"{len(customers)} customers talking; a fault every {quiet_s:.0f}s "
                          "of quiet")
            await asyncio.sleep(quiet_s)
            for name in plan.faults:
                fault = injector(name, topo, poller)
                if isinstance(fault, str):
                    outcomes.append(Outcome(name, time.time(), None, skipped=fault))
                    console.print(f"  {name}: skipped ({fault})")
                    continue
                t_fault = time.time()
                back = await fault()
                outcomes.append(Outcome(name, t_fault, back))
                console.print(f"  {name}: back after {back:.1f}s")
                await asyncio.sleep(quiet_s)
        finally:
            stop.set()
            await asyncio.gather(*talking, return_exceptions=True)
        console.print("Customers stopped; waiting for late replies…")
        for _ in range(int(GRACE_S)):
            if all(m in ledger.replies for m in ledger.sent):
                break
            await asyncio.sleep(1)
        for customer in customers:
            if isinstance(customer, WebCustomer):
                said, shown = await customer.history_markers()
                ledger.only_in_history |= {m for m in shown if m not in ledger.replies}
                ledger.stored |= said
                ledger.audited.add(customer.name)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await agent.close()
        for customer in customers:
            await customer.close()
    return ledger, outcomes, t0


async def _webhooks(topo: Topology) -> tuple[list[str], list[str]]:
    """The ticket events enqueued (stream ids) and the deliveries the receiver
    accepted, once every event has arrived or the grace period is over."""
    redis = topo.data_client()
    # the stream the handoff service enqueues ticket events on, as the gateway's
    # webhook worker finds it (bot/app.py)
    stream = HandoffService(redis, topo.settings.handoff).keys.webhook_stream
    try:
        deadline = time.monotonic() + GRACE_S
        while True:
            events = [entry_id for entry_id, _ in await redis.xrange(stream)]
            delivered = _deliveries(topo.deliveries_path)
            if set(f"{e}-0" for e in events) <= set(delivered) or time.monotonic() > deadline:
                return events, delivered
            await asyncio.sleep(1)
    finally:
        await redis.aclose()


def _deliveries(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["delivery"] for line in path.read_text().splitlines() if line]


def run(json_output: bool, plan: Plan, options: Options, cluster: bool, out_dir: Path,
        console: Console) -> int:
    quiet = Console(quiet=True) if json_output else console
    options.sentinels = not cluster
    with running_topology("chaos", options, cluster=cluster, echo=quiet.print,
                          keep_logs=out_dir / "chaos-logs") as topo:
        ledger, outcomes, t0 = asyncio.run(_drive(topo, plan, quiet))
        events, delivered = asyncio.run(_webhooks(topo))
    report.write_messages(ledger, outcomes, out_dir / "chaos-messages.jsonl")
    (out_dir / "chaos-faults.json").write_text(json.dumps(
        [{"fault": o.name, "at": o.t_fault, "back_s": o.back_s, "skipped": o.skipped}
         for o in outcomes], indent=1))
    result = report.analyse(ledger, outcomes, events, delivered)
    result["_startup_s"] = topo.startup_s
    if json_output:
        print(json.dumps(report.public(result)))
    else:
        # the table has ten columns: wider than a pipe's default 80
        report.print_tables(result, console if console.width >= 120 else Console(width=140))
        path = out_dir / "chaos-latency.png"
        report.plot(result, outcomes, t0, path)
        console.print(f"plot: {path}; every message and its replies: "
                      f"{out_dir / 'chaos-messages.jsonl'}; logs: {out_dir / 'chaos-logs'}")
    return 0


def main_for_tests(plan: Plan, options: Options) -> dict[str, Any]:
    """A run without output, returning the JSON object (tests)."""
    with running_topology("chaos", options, echo=lambda _: None) as topo:
        ledger, outcomes, _ = asyncio.run(_drive(topo, plan, Console(quiet=True)))
        events, delivered = asyncio.run(_webhooks(topo))
    return report.public(report.analyse(ledger, outcomes, events, delivered))
