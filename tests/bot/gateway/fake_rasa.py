"""A fake of Rasa's HTTP side for tests about how the gateway copes when Rasa
misbehaves (down, slow, an empty answer); the real Rasa is in test_stack.py.

It answers the REST webhook, keeps a tracker per sender (GET tracker, appended
events with `rewind`), and, given a Redis client, holds Rasa's per-conversation
lock (`rasa:lock:<sender>`, RedisLockStore's format) while a turn runs. A slow
turn runs to its end even when the gateway gives up or dies, as Rasa's does."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from redis.asyncio import Redis

from bot.rasa_store.keys import RASA_KEYS


class FakeRasa:
    def __init__(self, down_for: int = 0, *, delay_s: float = 0.0, redis: Redis | None = None,
                 lock_lifetime_s: float = 10.0) -> None:
        self.down_for = down_for
        self.delay_s = delay_s
        self.received: list[dict] = []
        self.trackers: dict[str, list[dict]] = {}
        self.turn_started = asyncio.Event()
        self._redis = redis
        self._lock_lifetime_s = lock_lifetime_s
        self._turns: set[asyncio.Task] = set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if self.down_for > 0:
            self.down_for -= 1
            raise httpx.ConnectError("connection refused")
        if request.url.path.startswith("/conversations/"):
            sender = request.url.path.split("/")[2]
            events = self.trackers.setdefault(sender, [])
            if request.method == "POST":
                events.extend(json.loads(request.content))
                return httpx.Response(200, json={})
            return httpx.Response(200, json={"sender_id": sender, "events": list(events)})
        body = json.loads(request.content)
        turn = asyncio.create_task(self._turn(body))
        self._turns.add(turn)
        turn.add_done_callback(self._turns.discard)
        return httpx.Response(200, json=await asyncio.shield(turn))

    async def _turn(self, body: dict) -> list[dict]:
        sender = body["sender"]
        lock = RASA_KEYS.rasa_lock(sender)
        if self._redis is not None:
            ticket = json.dumps({"number": 0, "expires": time.time() + self._lock_lifetime_s})
            await self._redis.set(lock, json.dumps({"conversation_id": sender,
                                                    "tickets": [ticket]}))
        self.received.append(body)
        self.turn_started.set()
        await asyncio.sleep(self.delay_s)
        replies = self.answer(body)
        events = self.trackers.setdefault(sender, [])
        events.append({"event": "user", "text": body["message"], "metadata": body["metadata"]})
        events.extend({"event": "bot", "text": r["text"], "data": {}} for r in replies
                      if "text" in r)
        if self._redis is not None:
            await self._redis.delete(lock)
        return replies

    def answer(self, body: dict) -> list[dict]:
        return [
            {"recipient_id": body["sender"], "text": f"echo: {body['message']}"},
            {"recipient_id": body["sender"], "custom": {"frontdoor": {
                "decision": "answer", "article": {"id": "a1", "version": 2, "title": "A"}}}},
        ]

    def recorded(self, sender: str) -> list[str]:
        """The user messages in the tracker's state (reverted ones removed)."""
        texts: list[str] = []
        for event in self.trackers.get(sender, []):
            if event["event"] == "user":
                texts.append(event["text"])
            elif event["event"] == "rewind" and texts:
                texts.pop()
        return texts

    async def finish(self) -> None:
        if self._turns:
            await asyncio.wait(list(self._turns))
