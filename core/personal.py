"""Personal data: one interface that every part keeping customer data implements.

`bot/customers/privacy.py` gathers the `Person` once (who they are, before
anything is deleted), then asks every part, in the list wired in
`bot/customers/parts.py`, to export or erase what it keeps about them. A part
knows only its own keys; `covers` names the key builders its `erase` takes care
of (see the rule in core/keys.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.keys import KeySpace, key_builders


@dataclass(frozen=True)
class Person:
    """One person: the live customer and every customer merged into it."""

    customer_ids: tuple[str, ...]
    """The live customer first, then those merged into it (recursively)."""
    identities_of: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """customer id -> its (channel, channel user id) identities now."""
    identities: tuple[tuple[str, str], ...] = ()
    """Every (channel, channel user id) of the person: their identities now and
    those named in their merge records."""
    ticket_refs: tuple[str, ...] = ()
    """Their tickets' references."""
    texts: frozenset[str] = frozenset()
    """What they wrote (the customer's transcript entries)."""

    @property
    def owned(self) -> set[str]:
        return set(self.customer_ids)

    def users(self, channel: str | None = None) -> set[str]:
        """Their channel user ids (of one channel, or of every channel)."""
        return {user for ch, user in self.identities if channel is None or ch == channel}


Export = dict[str, dict]
"""customer id -> {section name: value}; the sections of each customer of the
person that a part keeps (a part with nothing to show returns {})."""


@runtime_checkable
class PersonalData(Protocol):
    covers: frozenset[tuple[type[KeySpace], str]]  # a class attribute in implementations
    """The key builders whose keys `erase` removes for a person."""

    async def export(self, person: Person) -> Export: ...

    async def erase(self, person: Person) -> None: ...


def covering(keys: type[KeySpace], *names: str) -> frozenset[tuple[type[KeySpace], str]]:
    """`covers` for a PersonalData implementation: key builders of `keys` by name
    (a name that is not a builder of `keys` is an error at import)."""
    unknown = set(names) - set(key_builders(keys))
    if unknown:
        raise ValueError(f"{keys.__qualname__} has no key builder {sorted(unknown)}")
    return frozenset((keys, name) for name in names)


# -- helpers for implementations -----------------------------------------------------------
_BATCH = 500


def glob_literal(value: str) -> str:
    """A literal inside a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


async def delete_matching(redis, pattern: str) -> None:
    """Delete every key matching a SCAN pattern (one part's own key family)."""
    batch = []
    async for key in redis.scan_iter(match=pattern, count=_BATCH):
        batch.append(key)
        if len(batch) >= _BATCH:
            await redis.delete(*batch)
            batch = []
    if batch:
        await redis.delete(*batch)


async def stream_entries(redis, stream: str):
    """Every (entry id, fields) of a stream, oldest first, read in batches."""
    start = "-"
    while True:
        rows = await redis.xrange(stream, min=start, count=_BATCH)
        for row in rows:
            yield row
        if len(rows) < _BATCH:
            return
        start = "(" + rows[-1][0]


async def xdel_where(redis, stream: str, matches) -> None:
    """Delete the entries of a stream whose fields match."""
    doomed = [entry_id async for entry_id, fields in stream_entries(redis, stream)
              if matches(fields)]
    for i in range(0, len(doomed), _BATCH):
        await redis.xdel(stream, *doomed[i:i + _BATCH])
