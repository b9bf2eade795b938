"""`frontdoor bench chaos --soak MINUTES`: the same topology with no faults,
customers talking and anonymous web visitors who open a session and a socket
and never write. Every 10 s: the resident memory of every process (with its
children, from /proc) and the Redis keys per kind (SCAN; a kind is the key with
its id parts replaced by `*`, e.g. `fd:{*}:transcript`), and how many keys of
each kind have no TTL. Reports growth per hour (least-squares slope) and plots.

Growth that does not level off is a leak; a kind whose keys have no TTL grows
with every visitor or conversation for ever unless something deletes it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.bench.chaos.drivers import Ledger, SandboxPoller, Visitor
from bot.bench.chaos.run import _prepare_agent, make_customers
from bot.bench.chaos.topology import Options, Topology, running_topology
from bot.bench.stats import finish_axes, pyplot, save_figure

SAMPLE_EVERY_S = 10.0
VISITORS_PER_MINUTE = 30
# An id part: digits or capitals (key words are lower case), a customer id, or long.
_ID = re.compile(r"[\dA-Z]|^\{?c_|^\{?[A-Za-z0-9_-]{16,}\}?$")
MERGE_AT = 5  # this many kinds differing in one part only: that part is an id too


def key_kind(key: str) -> str:
    """`fd:{c_ab12}:transcript` → `fd:{*}:transcript`; `fd:seen:telegram:42` →
    `fd:seen:telegram:*`: every part that looks like an id becomes `*`."""
    parts = []
    for part in key.split(":"):
        if _ID.search(part):
            part = "{*}" if part.startswith("{") else "*"
        parts.append(part)
    return ":".join(parts)


def merge_kinds(kinds: set[str]) -> dict[str, str]:
    """Kind → merged kind: where MERGE_AT or more kinds differ only in one part
    (an id in lower-case words, e.g. an article slug), that part becomes `*`."""
    merged = {kind: kind for kind in kinds}
    changed = True
    while changed:
        changed = False
        current = set(merged.values())
        for kind in sorted(current):
            parts = kind.split(":")
            for i, part in enumerate(parts):
                if part in ("*", "{*}"):
                    continue
                rest = parts[:i] + parts[i + 1:]
                siblings = {k for k in current if (other := k.split(":"))
                            and len(other) == len(parts) and other[:i] + other[i + 1:] == rest}
                if len(siblings) >= MERGE_AT:
                    star = ":".join([*parts[:i], "*", *parts[i + 1:]])
                    for original, now in merged.items():
                        if now in siblings:
                            merged[original] = star
                    changed = True
                    break
            if changed:
                break
    return merged


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    rss: list[dict[str, int]] = field(default_factory=list)
    keys: list[Counter] = field(default_factory=list)
    no_ttl: list[Counter] = field(default_factory=list)


async def count_keys(topo: Topology) -> tuple[Counter, Counter]:
    """Keys per kind, and those without a TTL, where the gateways keep their data
    (with a cluster, every primary is scanned)."""
    redis = topo.data_client()
    raw: Counter = Counter()
    raw_forever: Counter = Counter()
    try:
        async for key in redis.scan_iter(count=1000):
            kind = key_kind(key)
            raw[kind] += 1
            if await redis.ttl(key) == -1:
                raw_forever[kind] += 1
    finally:
        await redis.aclose()
    merged = merge_kinds(set(raw))
    kinds: Counter = Counter()
    forever: Counter = Counter()
    for kind, count in raw.items():
        kinds[merged[kind]] += count
        forever[merged[kind]] += raw_forever[kind]
    return kinds, forever


def slope_per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope of values over time, per hour (0 for fewer than 2 samples)."""
    n = len(times)
    if n < 2:
        return 0.0
    mt, mv = sum(times) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times)
    if var == 0:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in zip(times, values, strict=True)) / var * 3600


async def _soak(topo: Topology, minutes: float, n_customers: int, console: Console) -> Samples:
    ledger = Ledger()
    await _prepare_agent(topo)
    stop = asyncio.Event()
    samples = Samples()
    async with httpx.AsyncClient(timeout=15) as http:
        customers, sandbox_users = make_customers(topo, ledger, n_customers, http)
        poller = SandboxPoller(sandbox_users)
        for customer in customers:
            await customer.open()
        await poller.sandbox_restarted()
        rng = random.Random(0)
        tasks = [asyncio.create_task(poller.run()),
                 asyncio.create_task(_visitors(topo, http, stop))]
        talking = [asyncio.create_task(c.talk(stop, random.Random(rng.random()), 0.0))
                   for c in customers]
        t0 = time.monotonic()
        try:
            while (elapsed := time.monotonic() - t0) < minutes * 60:
                kinds, forever = await count_keys(topo)
                samples.times.append(elapsed)
                samples.rss.append(topo.rss_bytes())
                samples.keys.append(kinds)
                samples.no_ttl.append(forever)
                console.print(f"  {elapsed / 60:5.1f} min: {sum(kinds.values())} keys, "
                              f"{sum(samples.rss[-1].values()) / 2**20:.0f} MiB resident")
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            stop.set()
            await asyncio.gather(*talking, return_exceptions=True)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for customer in customers:
                await customer.close()
    return samples


async def _visitors(topo: Topology, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
    visitor, n = Visitor(topo.gateway_urls), 0
    while not stop.is_set():
        n += 1
        with contextlib.suppress(Exception):
            await visitor.visit(http, n)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 60 / VISITORS_PER_MINUTE)


def growth(samples: Samples) -> dict[str, Any]:
    """Per hour, from the second half of the samples: the first half holds the
    warm-up (models loaded on the first question, the knowledge base seeded)."""
    half = len(samples.times) // 2
    t = samples.times[half:]
    rss, keys = samples.rss[half:], samples.keys[half:]
    processes = sorted({name for row in samples.rss for name in row})
    kinds = sorted({k for row in samples.keys for k in row})
    return {
        "minutes": round(samples.times[-1] / 60, 1) if samples.times else 0,
        "processes": {name: {
            "rss_mib": round(samples.rss[-1].get(name, 0) / 2**20, 1),
            "growth_mib_per_hour": round(slope_per_hour(
                t, [row.get(name, 0) / 2**20 for row in rss]), 1)}
            for name in processes},
        "keys": {kind: {
            "count": samples.keys[-1].get(kind, 0),
            "without_ttl": samples.no_ttl[-1].get(kind, 0),
            "growth_per_hour": round(slope_per_hour(t, [row.get(kind, 0) for row in keys]), 1)}
            for kind in kinds},
    }


def print_tables(result: dict[str, Any], console: Console) -> None:
    procs = Table(title=f"Soak, {result['minutes']} min: resident memory per process")
    for col in ("process", "RSS MiB", "growth MiB/h"):
        procs.add_column(col, justify="left" if col == "process" else "right")
    for name, row in result["processes"].items():
        procs.add_row(name, f"{row['rss_mib']:.0f}", f"{row['growth_mib_per_hour']:+.1f}")
    console.print(procs)
    keys = Table(title="Redis keys per kind")
    for col in ("kind", "keys", "without TTL", "growth/h"):
        keys.add_column(col, justify="left" if col == "kind" else "right")
    for kind, row in sorted(result["keys"].items(), key=lambda kv: -kv[1]["growth_per_hour"]):
        keys.add_row(Text(kind), str(row["count"]), str(row["without_ttl"]),  # no :emoji:
                     f"{row['growth_per_hour']:+.0f}")
    console.print(keys)


def plot(samples: Samples, path: Path) -> None:
    fig, (ax_mem, ax_keys) = pyplot().subplots(1, 2, figsize=(12, 4.5))
    minutes = [t / 60 for t in samples.times]
    for name in sorted({n for row in samples.rss for n in row}):
        ax_mem.plot(minutes, [row.get(name, 0) / 2**20 for row in samples.rss], label=name)
    finish_axes(ax_mem, "minutes", "resident MiB", title="Memory per process",
                legend_loc="upper left")
    last = samples.keys[-1] if samples.keys else Counter()
    for kind, _ in last.most_common(8):
        ax_keys.plot(minutes, [row.get(kind, 0) for row in samples.keys], label=kind)
    finish_axes(ax_keys, "minutes", "keys", title="Redis keys (8 largest kinds)",
                legend_loc="upper left")
    save_figure(fig, path)


def run(json_output: bool, minutes: float, customers: int, options: Options, cluster: bool,
        out_dir: Path, console: Console) -> int:
    quiet = Console(quiet=True) if json_output else console
    options.sentinels = not cluster
    with running_topology("soak", options, cluster=cluster, echo=quiet.print) as topo:
        samples = asyncio.run(_soak(topo, minutes, customers, quiet))
    result = growth(samples)
    if json_output:
        print(json.dumps(result))
    else:
        print_tables(result, console if console.width >= 120 else Console(width=140))
        path = out_dir / "soak.png"
        plot(samples, path)
        console.print(f"plot: {path}")
    return 0
