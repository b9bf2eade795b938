"""Rasa's tracker and lock store on the master that Redis Sentinel names.

Rasa 3.6 talks to one Redis host:port only (its RedisTrackerStore and
RedisLockStore build a plain `StrictRedis`). These subclasses keep all of Rasa's
logic and swap that client for redis-py's `Sentinel(...).master_for(service)`,
which asks the Sentinels for the master before each new connection and so
follows a failover. Rasa loads them by module path from endpoints.yml
(`type: frontdoor_rasa_redis.SentinelTrackerStore`), written by
bot/rasa_store/endpoints.py; the launcher puts this folder on Rasa's PYTHONPATH.

Runs inside .venv-rasa (Rasa 3.6, redis-py 4.6): imports nothing from this project."""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

# As core/redis.py: a failed command is sent again on a fresh connection (to the
# master the Sentinels name now) with backoff, about 5 s in all.
RETRIES = 6


def sentinel_master(sentinels: list[list[Any]], service: str, db: int = 0,
                    username: str | None = None, password: str | None = None,
                    sentinel_password: str | None = None, socket_timeout: float = 10.0,
                    decode_responses: bool = False) -> Any:
    """A redis-py client of the master the Sentinels name as `service`."""
    manager = Sentinel(
        [(str(host), int(port)) for host, port in sentinels],
        sentinel_kwargs={"password": sentinel_password, "socket_timeout": 1.0,
                         "socket_connect_timeout": 1.0},
        socket_timeout=socket_timeout, socket_connect_timeout=2.0, socket_keepalive=True,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError])
    return manager.master_for(service, db=int(db), username=username, password=password,
                              decode_responses=decode_responses)


class WholeTracker:
    """Rasa's Redis tracker store without its per-turn re-read and merge.

    Rasa 3.6's `retrieve` parses the whole stored tracker and returns its last
    Rasa session only; `save` therefore reads and parses the stored tracker again
    and merges the two (`_merge_trackers`, comparing every new event with every
    stored one when there are several sessions) before writing it back. Here
    `retrieve` returns the whole tracker (the policies read only the events after
    the last session start anyway: `applied_events`) and `save` writes it as it
    is. Safe because one conversation's writes never overlap: Rasa's lock store
    serialises a conversation's turns and tracker API calls inside one process,
    and the gateway keeps a customer on one Rasa process; a conversation stays
    small because the gateway starts a new one per session
    (bot/rasa_store/sessions.py)."""

    async def retrieve(self, sender_id: str) -> Any:
        return await self._retrieve(sender_id, fetch_all_sessions=True)  # type: ignore[attr-defined]

    async def save(self, tracker: Any, timeout: float | None = None) -> None:
        await self.stream_events(tracker)  # type: ignore[attr-defined]
        timeout = timeout or self.record_exp  # type: ignore[attr-defined]
        self.red.set(self.key_prefix + tracker.sender_id,  # type: ignore[attr-defined]
                     self.serialise_tracker(tracker), ex=timeout)  # type: ignore[attr-defined]


class FrontDoorTrackerStore(WholeTracker, RedisTrackerStore):
    """On one Redis server (Rasa's `type: redis` options; Rasa passes `url` as `host`)."""


class SentinelTrackerStore(WholeTracker, RedisTrackerStore):
    def __init__(self, domain: Any, sentinels: list[list[Any]], service: str, db: int = 0,
                 username: str | None = None, password: str | None = None,
                 sentinel_password: str | None = None, host: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(domain, db=db, **kwargs)  # a plain client, never connected
        self.red = sentinel_master(sentinels, service, db, username, password,
                                   sentinel_password, decode_responses=True)


class SentinelLockStore(RedisLockStore):
    """Rasa builds a custom lock store from its endpoint config alone."""

    def __init__(self, endpoint_config: Any) -> None:
        options = dict(endpoint_config.kwargs)
        super().__init__(key_prefix=options.get("key_prefix"))  # never connected
        self.red = sentinel_master(
            options["sentinels"], options["service"], options.get("db", 0),
            options.get("username"), options.get("password"),
            options.get("sentinel_password"),
            socket_timeout=float(options.get("socket_timeout", 10.0)))
