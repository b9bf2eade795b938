"""A waiting customer's messages are acknowledged (issue 16 item 2): while their
ticket waits in the queue (before an agent claims it), a message they send gets
"Got it, I've added this to your request FD-7K2Q." in their language, with
their place in the queue when a reminder is due (a comma, not a dash: the text
stays GSM-7, one SMS segment). The message itself reaches
the ticket's transcript and the agent console as before (the router).

At most one acknowledgement per `waiting_ack_interval_s` (20 s) per customer:
a fast burst ("hello?" "my order is 1234" "it's urgent") is acknowledged once,
not three times; one atomic SET NX PX, so N gateways send it once."""

from __future__ import annotations

from redis.asyncio import Redis

from core.i18n import text
from handoff.keys import HANDOFF_KEYS, HandoffKeys
from handoff.messages import position_phrase
from handoff.models import QueueStanding


def acknowledgement_text(ref: str, language: str | None,
                         standing: QueueStanding | None = None) -> str:
    """The acknowledgement, with where they stand if `standing` is given."""
    said = text("handoff", language, "Got it, I've added this to your request {ref}.", ref=ref)
    if standing is not None:
        said = f"{said} {position_phrase(standing, language)}".strip()
    return said


class WaitingAcknowledger:
    def __init__(self, redis: Redis, interval_s: float, keys: HandoffKeys = HANDOFF_KEYS
                 ) -> None:
        self._redis = redis
        self._interval_ms = max(1, int(interval_s * 1000))
        self._keys = keys

    async def due(self, customer_id: str) -> bool:
        """Whether this message is acknowledged (records that it was)."""
        return bool(await self._redis.set(self._keys.waiting_ack(customer_id), "1",
                                          nx=True, px=self._interval_ms))
