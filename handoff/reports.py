"""Operators' figures over the last N days, from the per-day counters the
router (conversations) and the handoff service (escalations, replies,
resolves, ratings) keep in Redis."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis

from handoff.keys import HANDOFF_KEYS, HandoffKeys
from handoff.service import day_key

CHANNELS = ("web", "telegram", "slack", "sms")


async def count_conversation(redis: Redis, ts: float, channel: str,
                             keys: HandoffKeys = HANDOFF_KEYS) -> None:
    """The router counts a conversation (its first message after a quiet hour)."""
    await redis.hincrby(keys.stats_day(day_key(ts)), f"conversations:{channel}", 1)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


async def report(redis: Redis, days: int = 7, keys: HandoffKeys = HANDOFF_KEYS,
                 now: float | None = None) -> dict:
    now = now or time.time()
    totals: dict[str, float] = defaultdict(float)
    for offset in range(days):
        raw = await redis.hgetall(keys.stats_day(day_key(now - offset * 86400)))
        for field, value in raw.items():
            totals[field] += float(value)
    per_channel: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        conversations = totals[f"conversations:{channel}"]
        escalations = totals[f"escalations:{channel}"]
        per_channel[channel] = {
            "conversations": int(conversations),
            "escalations": int(escalations),
            "containment_rate": _ratio(conversations - escalations, conversations),
            "escalation_rate": _ratio(escalations, conversations),
            "first_reply_avg_s": _ratio(totals[f"first_reply_s_sum:{channel}"],
                                        totals[f"first_reply_n:{channel}"]),
            "handling_avg_s": _ratio(totals[f"handling_s_sum:{channel}"],
                                     totals[f"resolved:{channel}"]),
            "csat_avg": _ratio(totals[f"csat_sum:{channel}"], totals[f"csat_n:{channel}"]),
            "csat_n": int(totals[f"csat_n:{channel}"]),
            "sla_breached": int(totals[f"sla_breached:{channel}"]),
        }
    conversations = sum(c["conversations"] for c in per_channel.values())
    escalations = sum(c["escalations"] for c in per_channel.values())
    return {
        "days": days,
        "conversations": conversations,
        "escalations": escalations,
        "containment_rate": _ratio(conversations - escalations, conversations),
        "escalation_rate": _ratio(escalations, conversations),
        "reasons": {k.split(":", 1)[1]: int(v) for k, v in sorted(totals.items())
                    if k.startswith("reason:")},
        "first_reply_avg_s": _ratio(sum(totals[f"first_reply_s_sum:{c}"] for c in CHANNELS),
                                    sum(totals[f"first_reply_n:{c}"] for c in CHANNELS)),
        "handling_avg_s": _ratio(sum(totals[f"handling_s_sum:{c}"] for c in CHANNELS),
                                 sum(totals[f"resolved:{c}"] for c in CHANNELS)),
        "csat_avg": _ratio(sum(totals[f"csat_sum:{c}"] for c in CHANNELS),
                           sum(totals[f"csat_n:{c}"] for c in CHANNELS)),
        "sla_breached": sum(c["sla_breached"] for c in per_channel.values()),
        "per_channel": per_channel,
    }
