"""Prometheus metrics of the gateway (served at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

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
