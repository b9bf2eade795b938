"""`frontdoor bench chaos`: real processes killed and restarted while customers
talk, and `--soak`: memory and Redis keys over a long quiet run
(docs/operations.md#chaos-benchmark)."""

# The faults, in the order a run injects them (bot/bench/chaos/faults.py).
FAULTS = ("gateway", "action_server", "rasa", "redis_restart", "redis_failover", "platform",
          "webhook_receiver")
