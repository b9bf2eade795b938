"""The shared part of every Redis key name: the prefix and the hash tags.

Each part keeps its own keys next to its code, in a `KeySpace` subclass
(bot/customers/keys.py, bot/gateway/keys.py, bot/channels/<name>/keys.py,
bot/rasa_store/keys.py, bot/infra/keys.py, handoff/keys.py, knowledge/keys.py,
core/staff.py, core/audit.py), and lets the others read its data only through
its own API. Per-customer keys carry the customer id as a hash tag (`{c_...}`)
so that, on Redis Cluster, all of one customer's data lives in one slot
(docs/architecture.md#keys); the agent queue's keys share the `{handoff}` tag,
the knowledge base's `{kb}`. A multi-key command, MULTI or script touches keys
of one tag only (tests/slot_guard.py enforces it in every test).

The personal-data rule (tests/core/test_personal_keys.py): every key builder of
every key class is either
- covered by its part's erasure: listed in the `covers` of that part's
  `PersonalData` implementation (core/personal.py), or
- listed in the class's `not_personal` with the reason it holds no personal
  data, or in its `kept` with the reason it is kept on purpose.
A new key kind that is in none of them fails the test, by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

PREFIX = "fd"


@dataclass(frozen=True)
class KeySpace:
    """Base of every part's key class: the prefix and the hash-tag helpers."""

    prefix: str = PREFIX

    # builder name -> why it holds nothing about a customer
    not_personal: ClassVar[Mapping[str, str]] = {}
    # builder name -> why it is personal but kept after an erasure
    kept: ClassVar[Mapping[str, str]] = {}

    def customer_tag(self, customer_id: str) -> str:
        """`fd:{c_...}`: the start of every key of one customer (one Cluster slot)."""
        return f"{self.prefix}:{{{customer_id}}}"

    @property
    def handoff_tag(self) -> str:
        """`fd:{handoff}`: the start of the queue's keys (one Cluster slot)."""
        return f"{self.prefix}:{{handoff}}"


def key_builders(keys: type[KeySpace]) -> list[str]:
    """The names of the key builders (methods and properties) a key class adds to
    `KeySpace`, in definition order."""
    names: list[str] = []
    for klass in reversed(keys.__mro__):
        if not issubclass(klass, KeySpace) or klass is KeySpace:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in names:
                continue
            builder = isinstance(value, (property, staticmethod, classmethod))
            if builder or inspect.isfunction(value):
                names.append(name)
    return names


def key_classes() -> list[type[KeySpace]]:
    """Every KeySpace subclass imported so far."""
    found, todo = [], list(KeySpace.__subclasses__())
    while todo:
        klass = todo.pop()
        if klass not in found:
            found.append(klass)
            todo += klass.__subclasses__()
    return sorted(found, key=lambda k: (k.__module__, k.__qualname__))
