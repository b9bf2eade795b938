"""Every Redis client of the project is made here (docs/architecture.md#redis).

One URL (FRONTDOOR_REDIS_URL) says where Redis is, in one of five forms:

    redis://[[user]:password@]host[:6379][/db]        one server (rediss://: TLS)
    unix://[[user]:password@]/path/redis.sock[?db=0]   one server on a socket
    redis+sentinel://[[user]:password@]host[:26379][,host2[:26379]...]/service[/db]
                     [?sentinel_password=...]          the master Sentinel names
    redis+cluster://[[user]:password@]host[:6379][,host2[:6379]...]   a Cluster

The password of a Sentinel URL is the master's (and its replicas'); the
Sentinels' own, if they have one, is `sentinel_password`. A Sentinel client asks
the Sentinels for the master before every new connection, so it follows a
failover; a Cluster client comes from core/redis_cluster.py.

Text data (hashes, strings, streams, sets of ids and JSON) goes through a *text*
client: `decode_responses=True`, so replies are `str` and nobody decodes.
Binary values (embedding vectors, the pickled knowledge head) go through a
*binary* client, whose replies are `bytes`. A text client made here carries its
binary twin (`binary_of`), made on first use with the same connection settings
(for Sentinel: on the same Sentinels, so both follow the same master) and closed
with it, so a part that needs both takes only the text client.

Every client retries a command that met a broken connection or a timeout, with
exponential backoff and jitter, on a fresh connection, and pings a connection
idle for a while before using it: after Redis restarts or fails over, the same
client works again without being rebuilt (`connection_options`).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis as redis_sync
import redis.retry as sync_retry
import redis.sentinel as sync_sentinel
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
SENTINEL_PORT = 26379
REDIS_PORT = 6379

# Connection settings of every client, set here once.
CONNECT_TIMEOUT_S = 2.0  # an unreachable host is an error after this, not a hang
# A reply may take this long. The longest blocking reads wait 1 s (XREADGROUP
# block=1000 in bot/infra/streams.py, pub/sub get_message(timeout=1) in
# bot/infra/live.py); a command blocking longer must pass its own timeout.
SOCKET_TIMEOUT_S = 10.0
HEALTH_CHECK_INTERVAL_S = 10  # a connection idle this long is PINGed before use
# A command that met a broken connection or a timeout is sent again on a new
# connection, up to RETRIES times, waiting 0.05 s · 2^n (with jitter, at most
# 2 s) in between: about 5 s in all, enough for a restart on the same host and
# for most of a Sentinel failover; beyond it the caller sees the error (stream
# workers and the live hub log it and try again).
RETRIES = 6
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0
# The Sentinels themselves answer at once or are skipped: the client asks the next.
SENTINEL_TIMEOUT_S = 1.0


class RedisUrlError(ValueError):
    """A Redis URL we cannot use; the message is a one-line reason without the URL
    (it may hold a password)."""


@dataclass(frozen=True)
class ServerUrl:
    """redis://, rediss:// or unix://: one server, parsed by redis-py itself."""

    url: str


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None  # the master's and replicas'
    sentinel_password: str | None = None


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


RedisTarget = ServerUrl | SentinelUrl | ClusterUrl


def parse_redis_url(url: str) -> RedisTarget:
    """What the URL points at; RedisUrlError (a one-line reason) when it is none of
    the forms above."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise RedisUrlError(f"{shown} is not one of {', '.join(SCHEMES)}")
    if scheme in ("redis", "rediss", "unix"):
        try:
            redis_sync.connection.parse_url(url)
        except ValueError as error:
            raise RedisUrlError(f"not a valid {scheme}:// URL ({error})") from None
        return ServerUrl(url)
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    credentials = {"username": unquote(username) or None, "password": unquote(password) or None}
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if scheme == "redis+cluster":
        if parts.path.strip("/") or query:
            raise RedisUrlError("a redis+cluster:// URL holds only host:port pairs "
                                "(a Cluster has no databases)")
        return ClusterUrl(_addresses(hosts, REDIS_PORT, "redis+cluster"), **credentials)
    unknown = set(query) - {"sentinel_password"}
    if unknown:
        raise RedisUrlError(f"redis+sentinel:// takes only ?sentinel_password=, "
                            f"not {', '.join(sorted(unknown))}")
    service, _, db = parts.path.strip("/").partition("/")
    if not service:
        raise RedisUrlError("a redis+sentinel:// URL names the service after the hosts: "
                            "redis+sentinel://host:26379/mymaster/0")
    if not (db or "0").isdigit():
        raise RedisUrlError(f"database {db!r} of the redis+sentinel:// URL is not a number")
    return SentinelUrl(_addresses(hosts, SENTINEL_PORT, "redis+sentinel"), unquote(service),
                       int(db or 0), **credentials,
                       sentinel_password=query.get("sentinel_password") or None)


def _addresses(hosts: str, default_port: int, scheme: str) -> tuple[tuple[str, int], ...]:
    """`host[:port],[v6]:port,...` as (host, port) pairs."""
    found = []
    for item in hosts.split(","):
        item = item.strip()
        if item.startswith("["):  # [::1]:26379
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if not host or not (port or str(default_port)).isdigit():
            raise RedisUrlError(f"{scheme}:// needs host[:port] pairs separated by commas")
        found.append((host, int(port or default_port)))
    return tuple(found)


def without_password(url: str) -> str:
    """The URL to show in a message: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redis_url_problem(url: str) -> str | None:
    """Why the URL cannot be used (one line, without the URL), or None."""
    try:
        parse_redis_url(url)
    except RedisUrlError as error:
        return str(error)
    return None


def connection_options(sync: bool = False) -> dict[str, Any]:
    """Retries, timeouts and health checks of every connection (module constants)."""
    retry_class = sync_retry.Retry if sync else Retry
    return {
        "retry": retry_class(ExponentialWithJitterBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S),
                             RETRIES, (RedisConnectionError, RedisTimeoutError)),
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_keepalive": True,  # redis-py's probes: idle 30 s, every 5 s, 3 misses
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def _sentinel_options(target: SentinelUrl, sync: bool) -> dict[str, Any]:
    retry_class = sync_retry.Retry if sync else Retry
    return {"socket_connect_timeout": SENTINEL_TIMEOUT_S, "socket_timeout": SENTINEL_TIMEOUT_S,
            "retry": retry_class(NoBackoff(), 1), "password": target.sentinel_password}


def _server_options(target: SentinelUrl | ClusterUrl) -> dict[str, Any]:
    return {k: v for k, v in (("username", target.username), ("password", target.password))
            if v is not None}


class ClosingRedis(Redis):
    """An asyncio client that also closes what was made for it (a Sentinel's own
    connections) when it is closed."""

    _also_close: Callable[[], Awaitable[None]] | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self._also_close is not None:
            also_close, self._also_close = self._also_close, None
            await also_close()


class TextRedis(ClosingRedis):
    """A text client that can hand out its binary twin (see `binary_of`).

    Made by `text_client` (redis-py builds the object: `from_url`, or a Sentinel's
    `master_for`), which then sets how the twin is made and what to close with it."""

    _binary: Redis | None = None
    _make_binary: Callable[[], Redis] | None = None

    @property
    def binary(self) -> Redis:
        if self._binary is None:
            if self._make_binary is not None:
                self._binary = self._make_binary()
            else:
                pool = self.connection_pool
                kwargs = {**pool.connection_kwargs, "decode_responses": False}
                self._binary = Redis.from_pool(ConnectionPool(
                    connection_class=pool.connection_class,
                    max_connections=pool.max_connections, **kwargs))
        return self._binary

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._binary is not None:
            await self._binary.aclose()
            self._binary = None
        await super().aclose(close_connection_pool)


def text_client(url: str, **kwargs: Any) -> TextRedis:
    """An asyncio client whose replies are str (for a Cluster URL: the client of
    core/redis_cluster.py, which has the same `.binary` twin)."""
    return _async_client(url, TextRedis, decode_responses=True, **kwargs)


def binary_client(url: str, **kwargs: Any) -> Redis:
    """An asyncio client whose replies are bytes (embeddings, pickles)."""
    return _async_client(url, ClosingRedis, decode_responses=False, **kwargs)


def _async_client(url: str, redis_class: type[ClosingRedis], decode_responses: bool,
                  **kwargs: Any) -> Any:
    target = parse_redis_url(url)
    options = {**connection_options(), **kwargs}
    if isinstance(target, ClusterUrl):
        client = _cluster().cluster_text_client(list(target.nodes), **_server_options(target),
                                                **options)
        return client if decode_responses else client.binary
    if isinstance(target, SentinelUrl):
        sentinel = Sentinel(list(target.sentinels),
                            sentinel_kwargs=_sentinel_options(target, sync=False),
                            db=target.db, **_server_options(target), **options)
        made = sentinel.master_for(target.service, redis_class=redis_class,
                                   decode_responses=decode_responses)
        if isinstance(made, TextRedis):
            # The twin asks the same Sentinels, so it follows the same master.
            made._make_binary = lambda: sentinel.master_for(
                target.service, redis_class=Redis, decode_responses=False)
        made._also_close = sentinel.aclose
        return made
    return redis_class.from_url(target.url, decode_responses=decode_responses, **options)


def binary_of(client: Any) -> Any:
    """The binary client to use next to `client` (a `Redis`, or a `RedisCluster` from
    core/redis_cluster.py): the client itself when it does not decode, else the twin
    of a text client made here or by `cluster_text_client` (duck-typed: `.binary`)."""
    if not client.get_encoder().decode_responses:
        return client
    binary = getattr(client, "binary", None)
    if binary is not None:
        return binary
    raise TypeError("binary values need a client from core.redis (text_client or binary_client)")


def sync_text_client(url: str | None = None, **kwargs: Any) -> Any:
    """A blocking client whose replies are str (scripts, test helpers, health checks)."""
    options = {**connection_options(sync=True), **kwargs}
    if url is None:
        return redis_sync.Redis(decode_responses=True, **options)
    target = parse_redis_url(url)
    if isinstance(target, ClusterUrl):
        return _cluster().sync_cluster_text_client(list(target.nodes),
                                                   **_server_options(target), **options)
    if isinstance(target, SentinelUrl):
        sentinel = sync_sentinel.Sentinel(
            list(target.sentinels), sentinel_kwargs=_sentinel_options(target, sync=True),
            db=target.db, **_server_options(target), **options)
        return sentinel.master_for(target.service, redis_class=redis_sync.Redis,
                                   decode_responses=True)
    return redis_sync.Redis.from_url(target.url, decode_responses=True, **options)


def _cluster() -> Any:
    """core/redis_cluster.py, imported only for a Cluster URL."""
    return importlib.import_module("core.redis_cluster")


def plain_pipeline(redis: Redis) -> Any:
    """A pipeline (not a transaction) on a Redis known not to be a Cluster, so it
    may hold what redis-py's cluster pipelines refuse (PUBLISH, EVALSHA): for a
    caller with a Cluster branch of its own, or for Rasa's Redis, which Rasa 3.6
    cannot use as a Cluster (core/settings.py). tests/slot_guard.py, which
    otherwise refuses those in a pipeline, lets this one hold them."""
    pipe = redis.pipeline(transaction=False)
    pipe.not_a_cluster = True  # read by tests/slot_guard.py
    return pipe
