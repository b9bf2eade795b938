"""Linking a customer's channel identities by a one-time code.

On one channel the customer types "link" and gets a short code; sending that
code (or "link CODE") on another channel asks the issuing identity to confirm,
and only its YES (within `confirm_ttl_s`) merges the redeeming identity's
customer (all its identities and its transcript) into the code's customer
(bot/customers/merge.py). The gateway's router handles all three before Rasa,
so it works on every channel without retraining.

Codes are single use (GETDEL: two identities racing for one code, exactly one
wins), live for 10 minutes, and are rate limited on both sides: at most a few
issued per identity per hour, and a few redemption attempts per identity and
per customer, so guessing from one identity is blocked. Identities are cheap
on some channels (a fresh web visitor id), so failed redemptions are also
counted per channel: past `failures_per_channel` in a window every redemption
on that channel waits `slowdown_s` first. That caps guessing by identity
rotation at (worker concurrency / slowdown_s) per second without ever refusing
anyone: a real customer's code still works, only a little later. The pending
confirmation is single use too (GETDEL): one YES merges once.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from bot.customers.merge import Customers, MergeRefused
from core.counters import FixedWindow

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no I/L/1, O/0: read aloud, typed on phones
CODE_LENGTH = 6
_LETTERS = set(CODE_ALPHABET) - set("23456789")
_DIGITS = set("23456789")
_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def looks_like_code(text: str) -> bool:
    """Six characters of the alphabet with at least one letter and one digit.

    Every issued code has both, so that ordinary six-letter words ("refund",
    "thanks") typed to the bot are never taken for a code."""
    code = text.strip().upper()
    return (_CODE_RE.fullmatch(code) is not None
            and any(c in _DIGITS for c in code) and any(c in _LETTERS for c in code))


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if looks_like_code(code):
            return code


class TooManyCodes(Exception):
    """This identity asked for too many codes within the hour."""


Status = Literal["linked", "already_linked", "invalid", "limited", "pending", "refused"]


@dataclass(frozen=True)
class LinkResult:
    status: Status
    customer_id: str | None = None  # the customer the identity belongs to now (linked / already)
    from_channel: str | None = None  # where the code was issued
    previous_customer_id: str | None = None  # the identity's customer before the link
    merged_entries: int = 0  # transcript entries copied from the previous customer
    issuer: tuple[str, str] | None = None  # (channel, user) asked to confirm (pending)
    redeemer: tuple[str, str] | None = None  # (channel, user) that redeemed (confirm)
    slowed: bool = False  # the channel-wide slowdown applied to this attempt

    @property
    def ok(self) -> bool:
        return self.status in ("linked", "already_linked")


class LinkCodes:
    def __init__(
        self,
        redis: Redis,
        keys: CustomerKeys = CUSTOMER_KEYS,
        *,
        code_ttl_s: float = 600,
        issues_per_hour: int = 5,
        attempts_per_identity: int = 5,
        attempts_per_customer: int = 10,
        attempt_window_s: int = 600,
        failures_per_channel: int = 200,
        slowdown_s: float = 2.0,
        confirm_ttl_s: float = 300,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.code_ttl_s = code_ttl_s
        self.issues_per_hour = issues_per_hour
        self.attempts_per_identity = attempts_per_identity
        self.attempts_per_customer = attempts_per_customer
        self.attempt_window_s = attempt_window_s
        self.failures_per_channel = failures_per_channel
        self.slowdown_s = slowdown_s
        self.confirm_ttl_s = confirm_ttl_s
        self._sleep = sleep
        self._customers = Customers(redis, keys)
        self._windows = FixedWindow(redis)

    # -- issuing -------------------------------------------------------------------
    async def issue(self, customer_id: str, channel: str, channel_user_id: str) -> str:
        """A fresh single-use code for this customer; raises TooManyCodes over the limit."""
        issued = await self._hit(self._keys.link_issued(channel, channel_user_id), 3600)
        if issued > self.issues_per_hour:
            raise TooManyCodes()
        body = json.dumps({"customer_id": customer_id, "channel": channel,
                           "channel_user_id": channel_user_id, "issued_at": time.time()})
        for _ in range(20):
            code = new_code()
            if await self._redis.set(self._keys.link_code(code), body, nx=True,
                                     px=max(1, int(self.code_ttl_s * 1000))):
                return code
        raise RuntimeError("could not find a free link code")  # 887M codes: never in practice

    # -- redeeming -----------------------------------------------------------------
    async def redeem(self, code: str, channel: str, channel_user_id: str) -> LinkResult:
        """Claim `code` for (channel, channel_user_id): nothing is linked yet, the
        issuing identity is asked to confirm ("pending", with `issuer`)."""
        code = code.strip().upper()
        identity_key = self._keys.identity(channel, channel_user_id)
        current = await self._redis.get(identity_key)

        # Every attempt counts, right or wrong: once over the limit even a correct
        # code is refused until the window passes (otherwise guessing pays off).
        limited = await self._hit(self._keys.link_attempts(channel, channel_user_id),
                                  self.attempt_window_s) > self.attempts_per_identity
        if current is not None:
            limited |= await self._hit(self._keys.link_attempts_customer(current),
                                       self.attempt_window_s) > self.attempts_per_customer
        if limited:
            return LinkResult("limited", customer_id=current)
        # Many failures on this channel (identity rotation): slow everyone down a
        # little, never refuse, so nobody can switch linking off for the channel.
        failures = int(await self._redis.get(self._keys.link_failures(channel)) or 0)
        slowed = failures >= self.failures_per_channel
        if slowed:
            await self._sleep(self.slowdown_s)

        code_key = self._keys.link_code(code)
        raw = await self._redis.get(code_key) if looks_like_code(code) else None
        if raw is None:
            await self._hit(self._keys.link_failures(channel), self.attempt_window_s)
            return LinkResult("invalid", customer_id=current, slowed=slowed)
        info = json.loads(raw)
        target = await self._customers.live(info["customer_id"])
        # the code is left for the channel it was meant for
        if current is not None and await self._customers.live(current) == target:
            return LinkResult("already_linked", customer_id=target, from_channel=info["channel"],
                              slowed=slowed)

        raw = await self._redis.getdel(code_key)  # the single-use claim: one winner
        if raw is None:
            await self._hit(self._keys.link_failures(channel), self.attempt_window_s)
            return LinkResult("invalid", customer_id=current, slowed=slowed)
        info = json.loads(raw)
        issuer = (info["channel"], info["channel_user_id"])
        request = json.dumps({"customer_id": info["customer_id"], "code_channel": info["channel"],
                              "channel": channel, "channel_user_id": channel_user_id,
                              "requested_at": time.time()})
        # One request per issuing identity: a newer one replaces an older one.
        await self._redis.set(self._keys.link_pending(*issuer), request,
                              px=max(1, int(self.confirm_ttl_s * 1000)))
        return LinkResult("pending", customer_id=current, from_channel=info["channel"],
                          issuer=issuer, slowed=slowed)

    async def awaiting(self, channel: str, channel_user_id: str) -> bool:
        """Whether this identity issued a code that was redeemed and awaits its answer."""
        return bool(await self._redis.exists(self._keys.link_pending(channel, channel_user_id)))

    def awaiting_in(self, pipe: Pipeline, channel: str, channel_user_id: str) -> None:
        """awaiting, queued on the caller's pipeline (its result: a count, 0 or 1)."""
        pipe.exists(self._keys.link_pending(channel, channel_user_id))

    async def confirm(self, channel: str, channel_user_id: str, allow: bool) -> LinkResult | None:
        """The issuing identity's answer to a pending request: with `allow`, the
        redeeming identity's customer joins the code's customer ("linked"); else
        nothing moves ("refused"). None when no request is pending (expired, or
        already answered: GETDEL, so one answer acts once)."""
        pending_key = self._keys.link_pending(channel, channel_user_id)
        raw = await self._redis.getdel(pending_key)
        if raw is None:
            return None
        info = json.loads(raw)
        redeemer = (info["channel"], info["channel_user_id"])
        if not allow:
            return LinkResult("refused", from_channel=info["code_channel"], redeemer=redeemer)
        target = await self._customers.live(info["customer_id"])
        previous = await self._redis.get(self._keys.identity(*redeemer))
        if previous is None:  # the redeemer never wrote otherwise: it just joins the customer
            previous = await self._customers.attach(target, *redeemer, "code")
            if previous == target:
                return LinkResult("linked", customer_id=target, from_channel=info["code_channel"],
                                  redeemer=redeemer)
        previous = await self._customers.live(previous)
        if previous == target:
            return LinkResult("already_linked", customer_id=target,
                              from_channel=info["code_channel"], redeemer=redeemer)
        # The whole previous customer joins (all its identities, its transcript):
        # the redeemer had the code and the issuer allowed it.
        try:
            merged = await self._customers.merge(previous, target, how="code")
        except MergeRefused:
            # A merge of one of them is under way: give the request back so the
            # router's retry of this answer can still use it.
            await self._redis.set(pending_key, raw, nx=True,
                                  px=max(1, int(self.confirm_ttl_s * 1000)))
            raise
        return LinkResult("linked", customer_id=target, from_channel=info["code_channel"],
                          previous_customer_id=previous, merged_entries=merged.entries,
                          redeemer=redeemer)

    async def _hit(self, key: str, window_s: int) -> int:
        """Count one event in a fixed window; the count so far."""
        return (await self._windows.hit(key, window_s)).count

