"""Prometheus metrics of the gateway (served at /metrics)."""

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.infra.children import read_status

INBOUND_MESSAGES = Counter("frontdoor_inbound_messages_total",
                           "Customer messages accepted", ["channel"])
DUPLICATES = Counter("frontdoor_inbound_duplicates_total",
                     "Customer messages dropped as duplicate deliveries", ["channel"])
REJECTED = Counter("frontdoor_inbound_rejected_total",
                   "Customer messages refused as bad input", ["channel", "code"])
OUTBOUND_MESSAGES = Counter("frontdoor_outbound_messages_total",
                            "Messages delivered to customers", ["channel"])
OUTBOUND_FAILURES = Counter("frontdoor_outbound_failures_total",
                            "Failed delivery attempts (retried)", ["channel"])
BOT_TURN_SECONDS = Histogram("frontdoor_bot_turn_seconds", "Time Rasa took to answer a turn",
                             buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
ASSISTANT_UNAVAILABLE = Counter("frontdoor_assistant_unavailable_total",
                                "Bot turns that had to wait for Rasa or the action server")
KNOWLEDGE_DECISIONS = Counter("frontdoor_knowledge_decisions_total",
                              "Knowledge answers by policy outcome", ["decision"])
WEBCHAT_CONNECTIONS = Gauge("frontdoor_webchat_connections", "Open web chat sockets")
WEBCHAT_STORE_DELAYS = Counter("frontdoor_webchat_store_delays_total",
                               "Web chat messages that could not be stored at once (Redis away)")

# Handoff figures over the last 7 days, read from the shared Redis counters at
# each scrape (so every gateway replica reports the same numbers).
REPORT_WINDOW_DAYS = 7
CONVERSATIONS = Gauge("frontdoor_conversations_7d", "Conversations started", ["channel"])
ESCALATIONS = Gauge("frontdoor_escalations_7d", "Conversations escalated to a person",
                    ["channel"])
CONTAINMENT = Gauge("frontdoor_containment_rate_7d",
                    "Share of conversations resolved without a person", ["channel"])
ESCALATION_REASONS = Gauge("frontdoor_escalation_reasons_7d", "Escalations by reason",
                           ["reason"])
FIRST_REPLY = Gauge("frontdoor_first_agent_reply_seconds_avg_7d",
                    "Mean time from escalation to the first agent reply", ["channel"])
HANDLING = Gauge("frontdoor_handling_seconds_avg_7d",
                 "Mean time from escalation to resolve", ["channel"])
CSAT = Gauge("frontdoor_csat_avg_7d", "Mean customer rating (1-5)", ["channel"])
QUEUE_WAITING = Gauge("frontdoor_queue_waiting", "Tickets waiting for an agent", ["team"])


def set_handoff_gauges(report: dict, waiting: dict[str, int]) -> None:
    for channel, row in report["per_channel"].items():
        CONVERSATIONS.labels(channel).set(row["conversations"])
        ESCALATIONS.labels(channel).set(row["escalations"])
        for gauge, key in ((CONTAINMENT, "containment_rate"), (FIRST_REPLY, "first_reply_avg_s"),
                           (HANDLING, "handling_avg_s"), (CSAT, "csat_avg")):
            if row[key] is not None:
                gauge.labels(channel).set(row[key])
    for reason, count in report["reasons"].items():
        ESCALATION_REASONS.labels(reason).set(count)
    for team, count in waiting.items():
        QUEUE_WAITING.labels(team).set(count)


class ChildrenCollector(Collector):
    """The processes `frontdoor up` supervises, read from its state file
    (bot/infra/children.py) at each scrape; nothing without one."""

    def __init__(self, state_path: Path | None) -> None:
        self.state_path = state_path

    def collect(self) -> Iterator[Metric]:
        children = read_status(self.state_path)
        if children is None:
            return
        restarts = CounterMetricFamily(
            "frontdoor_child_restarts", "Times the supervisor started a process again after it "
            "exited (since `frontdoor up` started)", labels=["child"])
        up = GaugeMetricFamily("frontdoor_child_up",
                               "1 while the process runs, 0 while it is starting, restarting, "
                               "given up on (failed) or stopped", labels=["child"])
        for child in children:
            restarts.add_metric([child.name], child.restarts)
            up.add_metric([child.name], 1 if child.state == "running" else 0)
        yield restarts
        yield up


def children_metrics(state_path: Path | None) -> bytes:
    """The supervisor's figures in Prometheus' text format, from a registry of
    their own (the collector reads one gateway's settings)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChildrenCollector(state_path))
    return generate_latest(registry)
