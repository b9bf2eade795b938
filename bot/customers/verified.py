"""Verified attributes: a phone number or an email address that a platform
proved belongs to a customer, and linking by them.

Only the channel adapters create them, from what the platform vouches for:

- SMS: the sender's number (the carrier delivered the message from it);
- Telegram: a contact the user shared of *their own* account
  (`contact.user_id == from.id`, sent with the "Share my phone number" button);
- Slack: the profile email from users.info (Slack verifies it).

Text the customer types ("my number is +1555...") is never one: it does not
reach this module at all. When a verified value already belongs to another
customer, the identity's customer is merged into that one (bot/customers/merge.py).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from core.models import VerifiedAttribute

_NOT_DIGITS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def e164(phone: str) -> str | None:
    """A phone number in E.164 (+ and 7-15 digits), or None. Telegram sends
    contact numbers without the "+" ("447700900123"), Twilio with it."""
    digits = _NOT_DIGITS.sub("", phone.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+"):
        digits = "+" + digits
    return digits if _E164.fullmatch(digits) else None


def normalise(kind: str, value: str) -> str | None:
    if kind == "phone":
        return e164(value)
    if kind == "email":
        email = value.strip().lower()
        return email if _EMAIL.fullmatch(email) else None
    return None


@dataclass(frozen=True)
class Recorded:
    attribute: VerifiedAttribute
    owner: str  # the customer the value belongs to (may be another customer)
    new: bool  # not yet recorded on the customer it was given for


class VerifiedAttributes:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def owner(self, kind: str, value: str) -> str | None:
        """The customer who proved this phone or email, if any."""
        clean = normalise(kind, value)
        if clean is None:
            return None
        return await self._redis.get(self._keys.verified_attribute(kind, clean))

    async def record(self, customer_id: str, attribute: VerifiedAttribute,
                     source: str) -> Recorded | None:
        """Store the attribute on the customer; claim the value for them unless
        another customer proved it first (then `owner` says who: link to them).
        None for a value that does not normalise (nothing is stored)."""
        clean = normalise(attribute.kind, attribute.value)
        if clean is None:
            return None
        attribute = VerifiedAttribute(kind=attribute.kind, value=clean)
        index = self._keys.verified_attribute(attribute.kind, clean)
        claimed = await self._redis.set(index, customer_id, nx=True)
        owner = customer_id if claimed else await self._redis.get(index)
        field = f"{attribute.kind}:{clean}"
        new = await self._redis.hsetnx(
            self._keys.customer_attributes(customer_id), field,
            json.dumps({"kind": attribute.kind, "value": clean, "source": source,
                        "verified_at": time.time()}))
        return Recorded(attribute, owner, bool(new))

    async def all(self, customer_id: str) -> list[dict]:
        raw = await self._redis.hgetall(self._keys.customer_attributes(customer_id))
        return sorted((json.loads(v) for v in raw.values()), key=lambda a: a["verified_at"])
