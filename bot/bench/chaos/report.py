"""What a chaos run measured, per fault window: the tables, the plot and the JSON.

A message counts in the window of the fault last injected before it was
answered ("baseline" before the first fault): a message still waiting when a
fault hits counts for that fault. A message never answered counts for the last
fault injected before it had waited TURN_TIMEOUT_S.

- lost: a message whose marker no reply carried by the end of the run (the run
  ends with a grace period in which nothing new is sent). Of the web chat ones,
  what a page reload shows at the end tells where they went missing:
  lost_never_stored, the customer's message is not in the transcript (it never
  reached the gateway's inbound stream, or was dropped before it was stored);
  lost_but_in_history, the answer is there but no live frame brought it;
  lost_acked, the gateway had acknowledged the message (it was in the inbound
  stream);
- answered_otherwise: a message no reply carried the marker of, but the bot
  said something else to the customer before their next message (the assistant
  misread "my name is <marker>", e.g. as "what's my name?"): not lost;
- duplicated: replies beyond the first that carry one message's marker
  (bubbles, as defined in drivers.py);
- max_wait_s: the longest time from sending to the first reply;
- recovery_s: from the kill until the last *late* reply of the window arrived,
  late being slower than LATE_S, three times the baseline's p95, or three times
  the p95 of replies sent and answered in the BEFORE_S before the fault,
  whichever is longest (0 when no
  reply was late): when replies were flowing as before the fault again;
- order_violations: a first reply to a customer's message that arrived after
  the first reply to one of that customer's later messages;
- agent_*: the same for agents' replies to escalated customers;
- webhooks_*: ticket events enqueued in the window (the stream id's time) that
  the receiver never accepted, or accepted more than once.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.bench.chaos.drivers import TURN_TIMEOUT_S, Ledger, Sent
from bot.bench.chaos.faults import DESCRIPTIONS, Outcome
from bot.bench.stats import finish_axes, p95, pyplot, save_figure

LATE_S = 5.0
BEFORE_S = 30.0  # how replies flowed just before a fault: the 30 s before it


def analyse(ledger: Ledger, outcomes: list[Outcome], webhook_events: list[str],
            deliveries: list[str]) -> dict[str, Any]:
    """The result: {"faults": {name: {...}}, "lost", "duplicated", "_windows",
    "_points"} (underscored keys are for the table and plot, not the JSON)."""
    windows: dict[str, dict[str, Any]] = {}
    for name in ["baseline", *(o.name for o in outcomes)]:
        windows[name] = {"sent": 0, "lost": 0, "lost_but_in_history": 0,
                         "lost_never_stored": 0, "lost_acked": 0, "answered_otherwise": 0,
                         "duplicated": 0,
                         "max_wait_s": 0.0,
                         "recovery_s": 0.0, "order_violations": 0, "agent_sent": 0,
                         "agent_lost": 0, "agent_duplicated": 0, "webhooks": 0,
                         "webhooks_lost": 0, "webhooks_duplicated": 0}
    latencies: dict[str, list[float]] = defaultdict(list)
    points: list[tuple[float, float, str]] = []  # (sent at, wait, channel)
    starts = sorted((o.t_fault, o.name) for o in outcomes if not o.skipped)
    window_of: dict[str, str] = {}
    misread: dict[str, str] = {}
    for mark, sent in ledger.sent.items():
        replies = ledger.replies.get(mark, [])
        window_of[mark] = attribute(sent.t_sent, replies[0][0] if replies else None, starts)
        w = windows[window_of[mark]]
        prefix = "agent_" if sent.kind == "agent" else ""
        w[prefix + "sent"] += 1
        if not replies and sent.kind == "bot" and (other := answered_otherwise(ledger, sent)):
            w["answered_otherwise"] += 1  # the assistant misread it: a reply, not a loss
            misread[mark] = other
            continue
        if not replies:
            w[prefix + "lost"] += 1
            if sent.kind == "bot" and sent.customer in ledger.audited:
                w["lost_but_in_history"] += mark in ledger.only_in_history
                w["lost_never_stored"] += mark not in ledger.stored
                w["lost_acked"] += mark in ledger.acked
            continue
        w[prefix + "duplicated"] += len(replies) - 1
        wait = replies[0][0] - sent.t_sent
        if sent.kind == "bot":
            latencies[window_of[mark]].append(wait)
            w["max_wait_s"] = max(w["max_wait_s"], round(wait, 2))
            points.append((sent.t_sent, wait, sent.channel))
    late = max(LATE_S, 3 * p95(latencies["baseline"])) if latencies["baseline"] else LATE_S
    for outcome in outcomes:
        w = windows[outcome.name]
        w["back_s"] = None if outcome.back_s is None else round(outcome.back_s, 1)
        if outcome.skipped:
            w["skipped"] = outcome.skipped
        # Late against how replies flowed just before this fault: over a long
        # run turns slow down without any fault (Rasa's trackers grow), and a
        # fault should not be charged with that.
        before = [first[0][0] - s.t_sent for m, s in ledger.sent.items()
                  if s.kind == "bot" and outcome.t_fault - BEFORE_S <= s.t_sent
                  and (first := ledger.replies.get(m)) and first[0][0] < outcome.t_fault]
        late_here = max(late, 3 * p95(before)) if before else late
        w["late_s"] = round(late_here, 1)
        last_late = max((first[0][0] for m, s in ledger.sent.items()
                         if window_of[m] == outcome.name and s.kind == "bot"
                         and (first := ledger.replies.get(m))
                         and first[0][0] - s.t_sent > late_here), default=None)
        w["recovery_s"] = round(last_late - outcome.t_fault, 1) if last_late else 0.0
    for arrived in ledger.arrivals.values():
        highest = 0
        for mark in arrived:
            sent = ledger.sent[mark]
            if sent.kind != "bot":
                continue
            if sent.seq < highest:
                windows[window_of[mark]]["order_violations"] += 1
            highest = max(highest, sent.seq)
    _webhooks(windows, outcomes, webhook_events, deliveries)
    faults = {name: w for name, w in windows.items() if name != "baseline"}
    return {"faults": faults,
            "lost": sum(w["lost"] + w["agent_lost"] for w in windows.values()),
            "duplicated": sum(w["duplicated"] + w["agent_duplicated"] for w in windows.values()),
            "_windows": windows, "_points": points, "_late_s": late,
            "_unmatched": ledger.unmatched, "_escalations": ledger.escalations,
            "_reconnects": ledger.reconnects}


def answered_otherwise(ledger: Ledger, sent: Sent) -> str | None:
    """The text of a bot reply that answered no marker and came to this customer
    after this message and before their next one (None: nothing came), e.g. "You're
    Kx…!" when the assistant read "my name is Kx…" as a question."""
    later = [t for t in ledger.sends.get(sent.customer, []) if t > sent.t_sent + 0.001]
    until = min(later, default=float("inf"))
    return next((text for t, _, text in ledger.others.get(sent.customer, [])
                 if sent.t_sent <= t < until), None)


def attribute(t_sent: float, t_reply: float | None, starts: list[tuple[float, str]]) -> str:
    """The window a message counts in: the last fault injected before it was
    answered, so a message still waiting when a fault hits counts for that fault
    (a message never answered: the last fault before it had waited
    TURN_TIMEOUT_S), else "baseline"."""
    horizon = t_reply if t_reply is not None else t_sent + TURN_TIMEOUT_S
    name = "baseline"
    for t, fault in starts:
        if t <= horizon:
            name = fault
    return name


def _webhooks(windows: dict[str, dict[str, Any]], outcomes: list[Outcome],
              events: list[str], deliveries: list[str]) -> None:
    """`events`: the webhook stream's entry ids; `deliveries`: the delivery ids
    the receiver accepted ("<entry id>-<url index>"; one URL here)."""
    accepted: dict[str, int] = defaultdict(int)
    for delivery in deliveries:
        accepted[delivery] += 1
    starts = sorted((o.t_fault, o.name) for o in outcomes)
    for entry_id in events:
        at = int(entry_id.split("-", 1)[0]) / 1000
        name = "baseline"
        for t, fault in starts:
            if at >= t:
                name = fault
        w = windows[name]
        w["webhooks"] += 1
        count = accepted.get(f"{entry_id}-0", 0)
        w["webhooks_lost"] += count == 0
        w["webhooks_duplicated"] += max(0, count - 1)


def write_messages(ledger: Ledger, outcomes: list[Outcome], path: Path) -> None:
    """One JSON line per message sent: who, when, its window and every reply
    (time, bubble id) that carried its marker, to look into a lost or a
    duplicated one next to the processes' logs."""
    starts = sorted((o.t_fault, o.name) for o in outcomes if not o.skipped)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for mark, sent in ledger.sent.items():
            replies = ledger.replies.get(mark, [])
            f.write(json.dumps({
                "marker": mark, "customer": sent.customer, "channel": sent.channel,
                "kind": sent.kind, "seq": sent.seq, "sent": round(sent.t_sent, 3),
                "window": attribute(sent.t_sent, replies[0][0] if replies else None, starts),
                "replies": [[round(t, 3), rid] for t, rid in replies],
                "answered_otherwise": None if replies or sent.kind != "bot"
                else answered_otherwise(ledger, sent)}) + "\n")


def public(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON: exactly {"faults", "lost", "duplicated"}."""
    return {"faults": result["faults"], "lost": result["lost"],
            "duplicated": result["duplicated"]}


def print_tables(result: dict[str, Any], console: Console) -> None:
    table = Table(title="Chaos: customers' messages per fault window")
    columns = ("window", "sent", "lost (web: unstored/in history)", "dup", "max wait s", "back s",
               "recovery s", "order", "agent sent/lost/dup", "webhooks/lost/dup")
    for col in columns:
        table.add_column(col, justify="left" if col == "window" else "right", no_wrap=True)
    totals: dict[str, float] = defaultdict(float)
    for name, w in result["_windows"].items():
        if w.get("skipped"):
            table.add_row(name, "—", "—", "—", "—", "—", "—", "—", "—", "—")
            continue
        back = w.get("back_s")
        table.add_row(name, str(w["sent"]),
                      f"{w['lost']} ({w['lost_never_stored']}/{w['lost_but_in_history']})",
                      str(w["duplicated"]),
                      f"{w['max_wait_s']:.1f}", "" if back is None else f"{back:.1f}",
                      "" if name == "baseline" else f"{w['recovery_s']:.1f}",
                      str(w["order_violations"]),
                      f"{w['agent_sent']}/{w['agent_lost']}/{w['agent_duplicated']}",
                      f"{w['webhooks']}/{w['webhooks_lost']}/{w['webhooks_duplicated']}")
        for key in ("sent", "lost", "lost_never_stored", "lost_but_in_history", "duplicated",
                    "order_violations",
                    "agent_sent", "agent_lost", "agent_duplicated", "webhooks", "webhooks_lost",
                    "webhooks_duplicated"):
            totals[key] += w[key]
        totals["max_wait_s"] = max(totals["max_wait_s"], w["max_wait_s"])
    t = {k: int(v) if k != "max_wait_s" else v for k, v in totals.items()}
    table.add_row("[bold]total[/bold]", str(t["sent"]),
                  f"{t['lost']} ({t['lost_never_stored']}/{t['lost_but_in_history']})",
                  str(t["duplicated"]),
                  f"{t['max_wait_s']:.1f}", "", "", str(t["order_violations"]),
                  f"{t['agent_sent']}/{t['agent_lost']}/{t['agent_duplicated']}",
                  f"{t['webhooks']}/{t['webhooks_lost']}/{t['webhooks_duplicated']}")
    console.print(table)
    for name, w in result["_windows"].items():
        if w.get("skipped"):
            console.print(f"  {name}: skipped — {w['skipped']}")
        elif name in DESCRIPTIONS:
            console.print(f"  {name}: {DESCRIPTIONS[name]}")
    lost_acked = sum(w["lost_acked"] for w in result["_windows"].values())
    otherwise = sum(w["answered_otherwise"] for w in result["_windows"].values())
    console.print(f"messages the assistant answered otherwise (misread intent, not counted "
                  f"as lost): {otherwise}")
    console.print(f"web chat messages lost after the gateway acknowledged them: {lost_acked}")
    console.print(f"late = slower than {result['_late_s']:.1f}s; escalations: "
                  f"{result['_escalations']}; web chat reconnects: {result['_reconnects']}; "
                  f"replies with an unknown marker: {result['_unmatched']}")


def plot(result: dict[str, Any], outcomes: list[Outcome], t0: float, path: Path) -> None:
    """Reply latency of every message over the run, per channel, with each fault
    marked; lost messages are drawn at the top."""
    fig, ax = pyplot().subplots(figsize=(11, 4.5))
    by_channel: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t, wait, channel in result["_points"]:
        by_channel[channel].append((t - t0, wait))
    for channel, values in sorted(by_channel.items()):
        ax.plot([v[0] for v in values], [v[1] for v in values], ".", markersize=3,
                label=channel)
    top = max((p[1] for p in result["_points"]), default=1.0)
    for outcome in outcomes:
        if outcome.skipped:
            continue
        x = outcome.t_fault - t0
        ax.axvline(x, color="red", alpha=0.5, linestyle="--")
        ax.text(x, top if not math.isnan(top) else 1, f" {outcome.name}", rotation=90,
                fontsize=8, va="top", ha="right", color="red")
        if outcome.back_s:
            ax.axvspan(x, x + outcome.back_s, color="red", alpha=0.08)
    finish_axes(ax, "seconds since the customers started", "wait for the reply (s)",
                title="Reply latency under faults (red: kill → back)", legend_loc="upper left")
    save_figure(fig, path)
