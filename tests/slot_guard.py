"""Make the plain Redis of the tests refuse what Redis Cluster refuses (CROSSSLOT).

Installed for the whole test session by tests/conftest.py: every command an
asyncio `redis.asyncio.Redis` client sends in-process is checked before it goes
out, so a future multi-key command, transaction or script whose keys live in
different hash slots fails in any test that runs it, without a cluster:

- a single command (MGET, MSET, RENAME, SUNIONSTORE, EVAL/EVALSHA KEYS, …) must
  name keys of one slot. DEL, UNLINK, EXISTS and TOUCH are exempt outside a
  transaction: redis-py's cluster client splits them per slot (not atomically),
  which is what the code asks of them;
- a MULTI pipeline (`transaction=True`) with its WATCHed keys and the reads made
  while watching must stay in one slot, exactly like a cluster transaction;
- a pipeline must not hold a command redis-py's cluster pipeline refuses
  (MGET, MSET, EVALSHA, PUBLISH, …: `redis.cluster.PIPELINE_BLOCKED_COMMANDS`).

Keys are found the way redis-py's cluster client finds them: from the server's
COMMAND table (and COMMAND GETKEYS for commands with movable keys).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
import redis as redis_sync
from redis._parsers.commands import CommandsParser
from redis.asyncio.client import Pipeline, Redis
from redis.cluster import PIPELINE_BLOCKED_COMMANDS
from redis.crc import key_slot

# Split per slot by redis-py's cluster client (ClusterMultiKeyCommands).
SPLIT_BY_CLUSTER_CLIENT = frozenset({"DEL", "UNLINK", "EXISTS", "TOUCH"})
# Classic pub/sub is cluster-wide: channels are not keys.
PUBSUB = frozenset({"PUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
                    "PUBSUB"})
SCRIPTS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})


class CrossSlotError(AssertionError):
    """What Redis Cluster would answer with CROSSSLOT (or redis-py refuse before sending)."""


def _text(value: Any) -> str:
    return value.decode(errors="surrogateescape") if isinstance(value, bytes) else str(value)


class SlotGuard:
    def __init__(self) -> None:
        self._parsers: dict[tuple[str, int], tuple[CommandsParser, redis_sync.Redis]] = {}

    # Where to read the command table from (the tests' own Redis): every Redis 7
    # has the same table, and the client's own server may be down, a unix socket or
    # behind Sentinel.
    command_source: tuple[str, int] | None = None
    # A test's own instrumentation that no cluster will ever run (e.g. INFO in a
    # pipeline on a Sentinel client) pauses the guard for a pipeline: `paused()`.
    paused = False

    def _parser(self, client: Redis) -> tuple[CommandsParser, redis_sync.Redis]:
        kwargs = client.connection_pool.connection_kwargs
        if self.command_source is not None:  # never the client's own server: it may be down
            address = self.command_source
        elif "host" in kwargs:
            address = (kwargs["host"], int(kwargs.get("port", 6379)))
        else:
            raise RuntimeError("slot guard: no Redis to read the command table from")
        if address not in self._parsers:
            conn = redis_sync.Redis(host=address[0], port=address[1])
            self._parsers[address] = (CommandsParser(conn), conn)
        return self._parsers[address]

    def keys(self, client: Redis, args: Sequence[Any]) -> list[str]:
        name = _text(args[0]).upper()
        if name.split()[0] in PUBSUB:
            return []
        if name in SCRIPTS:
            count = int(args[2])
            return [_text(k) for k in args[3:3 + count]]
        parser, conn = self._parser(client)
        spec = parser.commands.get(name.split()[0].lower())
        if (spec is not None and "movablekeys" not in spec["flags"]
                and spec["first_key_pos"] == spec["last_key_pos"]
                and (spec["first_key_pos"] > 0 or "subcommands" not in spec)):
            # fast path: a command with one key at most (not XGROUP-like containers)
            first = spec["first_key_pos"]
            return [_text(args[first])] if 0 < first < len(args) else []
        found = parser.get_keys(conn, _text(args[0]),  # values may be bytes
                                *(a if isinstance(a, bytes) else str(a) for a in args[1:]))
        return [_text(k) for k in found or ()]

    def check(self, keys: Iterable[str], what: str) -> None:
        keys = list(keys)
        slots = {key_slot(k.encode(errors="surrogateescape")) for k in keys}
        if len(slots) > 1:
            raise CrossSlotError(f"CROSSSLOT on Redis Cluster: {what} touches keys of "
                                 f"{len(slots)} hash slots: {sorted(set(keys))}")

    def check_command(self, client: Redis, args: Sequence[Any]) -> None:
        if _text(args[0]).upper() in SPLIT_BY_CLUSTER_CLIENT or len(args) < 3:
            return  # split by the cluster client, or room for one key at most
        self.check(self.keys(client, args), _text(args[0]).upper())

    def check_pipelined(self, args: Sequence[Any]) -> None:
        name = _text(args[0]).upper()
        if name in PIPELINE_BLOCKED_COMMANDS:
            raise CrossSlotError(f"{name} in a pipeline: redis-py's cluster pipeline refuses it")

    def check_transaction(self, pipe: Pipeline) -> None:
        keys = list(getattr(pipe, "_guard_keys", ()))
        for args, _options in pipe.command_stack:
            if _text(args[0]).upper() not in ("MULTI", "EXEC"):
                keys += self.keys(pipe, args)
        self.check(keys, "a MULTI/EXEC pipeline (with its WATCHed keys)")


GUARD = SlotGuard()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Let the pipelines run in this block unchecked (test instrumentation only)."""
    GUARD.paused = True
    try:
        yield
    finally:
        GUARD.paused = False


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Check every command of every asyncio client while the block runs."""
    original_execute_command = Redis.execute_command
    original_immediate = Pipeline.immediate_execute_command
    original_execute = Pipeline.execute
    original_reset = Pipeline.reset

    async def execute_command(self: Redis, *args: Any, **options: Any) -> Any:
        GUARD.check_command(self, args)
        return await original_execute_command(self, *args, **options)

    async def immediate_execute_command(self: Pipeline, *args: Any, **options: Any) -> Any:
        # WATCH and the reads made while watching belong to the transaction to come
        GUARD.check_pipelined(args)
        keys = GUARD.keys(self, args)
        self._guard_keys = [*getattr(self, "_guard_keys", ()), *keys]  # type: ignore[attr-defined]
        GUARD.check(self._guard_keys, "a WATCH block")  # type: ignore[attr-defined]
        return await original_immediate(self, *args, **options)

    async def execute(self: Pipeline, raise_on_error: bool = True) -> Any:
        if GUARD.paused:
            return await original_execute(self, raise_on_error)
        if not getattr(self, "not_a_cluster", False):  # core.redis.plain_pipeline
            for args, _options in self.command_stack:
                GUARD.check_pipelined(args)
        if self.is_transaction or self.explicit_transaction:
            GUARD.check_transaction(self)
        else:
            for args, _options in self.command_stack:
                GUARD.check_command(self, args)
        return await original_execute(self, raise_on_error)

    async def reset(self: Pipeline) -> None:
        self._guard_keys = []  # type: ignore[attr-defined]
        await original_reset(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Redis, "execute_command", execute_command)
        patch.setattr(Pipeline, "immediate_execute_command", immediate_execute_command)
        patch.setattr(Pipeline, "execute", execute)
        patch.setattr(Pipeline, "reset", reset)
        yield
    for _parser, conn in GUARD._parsers.values():
        conn.close()
