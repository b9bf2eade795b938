"""The audit stream: who did what (staff changes, merges and unmerges, exports
and erasures)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from redis.asyncio import Redis

from core.keys import KeySpace


@dataclass(frozen=True)
class AuditKeys(KeySpace):
    kept: ClassVar[dict[str, str]] = {
        "audit": "the record that merges, exports and erasures happened: it keeps the "
                 "(random, meaningless) customer ids they concerned and nothing else",
    }

    @property
    def audit(self) -> str:
        """Stream of who did what: staff changes, merges and unmerges, erasures."""
        return f"{self.prefix}:audit"


AUDIT_KEYS = AuditKeys()


async def record(redis: Redis, actor: str, action: str, details: Mapping[str, str] | None = None,
                 keys: AuditKeys = AUDIT_KEYS) -> None:
    """Who did what, when: one entry in the audit stream."""
    await redis.xadd(keys.audit, {"ts": str(time.time()), "actor": actor, "action": action,
                                  **(details or {})}, maxlen=100_000, approximate=True)


async def entries(redis: Redis, keys: AuditKeys = AUDIT_KEYS) -> list[dict[str, str]]:
    """Every entry, oldest first (for tests and the admin)."""
    return [fields for _, fields in await redis.xrange(keys.audit)]
