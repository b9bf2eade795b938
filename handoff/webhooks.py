"""Signed outbound webhooks on ticket events, so a team can mirror tickets into
the helpdesk it already runs.

Every event the handoff service emits is appended to a Redis stream (durable:
a crash or a receiver outage loses nothing); a worker POSTs each to every
configured URL with:

    X-FrontDoor-Event:     ticket.created
    X-FrontDoor-Delivery:  <unique id; the same on every retry of one delivery>
    X-FrontDoor-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">

Receivers verify the signature with the shared secret and reject old
timestamps (`verify_signature` below is the reference). Failed deliveries are
retried with exponential backoff, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
from redis.asyncio import Redis

from handoff.keys import HANDOFF_KEYS, HandoffKeys

log = logging.getLogger(__name__)
SIGNATURE_TOLERANCE_S = 300


async def _no_keep_alive() -> None:
    return None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, body: bytes, header: str, now: float | None = None,
                     tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: right HMAC, and a timestamp within the tolerance."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSender:
    def __init__(self, redis: Redis, http: httpx.AsyncClient, urls: list[str], secret: str,
                 *, max_attempts: int = 8, backoff_s: float = 1.0, backoff_max_s: float = 60.0,
                 keys: HandoffKeys = HANDOFF_KEYS) -> None:
        self._redis = redis
        self._http = http
        self._urls = urls
        self._secret = secret
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._keys = keys
        self.stream = keys.webhook_stream  # what the stream worker reads
        self.dead_letter = keys.webhook_dead

    async def deliver(self, entry_id: str, fields: dict,
                      keep_alive: Callable[[], Awaitable[None]] = _no_keep_alive) -> None:
        """Handle one stream entry: POST it to every URL, retrying each until it
        is accepted (2xx) or attempts run out (then dead-lettered). Between
        attempts the entry is kept alive, so no other replica re-claims it and
        the receiver gets each delivery once."""
        event, body = fields["event"], fields["body"].encode()
        await asyncio.gather(*(self._deliver_to(url, i, entry_id, event, body, keep_alive)
                               for i, url in enumerate(self._urls)))

    async def _deliver_to(self, url: str, index: int, entry_id: str, event: str,
                          body: bytes, keep_alive: Callable[[], Awaitable[None]]) -> None:
        delivery_id = f"{entry_id}-{index}"
        done_key = self._keys.webhook_done(delivery_id)
        if await self._redis.exists(done_key):
            return  # delivered before a crash re-claimed the entry
        delay = self._backoff_s
        for attempt in range(1, self._max_attempts + 1):
            timestamp = int(time.time())
            headers = {"Content-Type": "application/json", "X-FrontDoor-Event": event,
                       "X-FrontDoor-Delivery": delivery_id,
                       "X-FrontDoor-Signature": sign(self._secret, body, timestamp)}
            try:
                response = await self._http.post(url, content=body, headers=headers, timeout=10)
                if 200 <= response.status_code < 300:
                    await self._redis.set(done_key, "1", ex=7 * 86400)
                    return
                log.warning("webhook %s to %s: HTTP %s (attempt %s)", delivery_id, url,
                            response.status_code, attempt)
            except httpx.HTTPError as exc:
                log.warning("webhook %s to %s failed: %r (attempt %s)", delivery_id, url, exc,
                            attempt)
            if attempt < self._max_attempts:
                await keep_alive()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max_s)
        await self._redis.xadd(self._keys.webhook_dead, {
            "delivery": delivery_id, "url": url, "event": event, "body": body},
            maxlen=10_000, approximate=True)
        log.error("webhook %s to %s dead-lettered after %s attempts", delivery_id, url,
                  self._max_attempts)

