"""Where Rasa keeps its trackers and locks: the tracker_store and lock_store
sections of the endpoints.yml the launcher writes (bot/infra/supervisor.py).

Rasa 3.6 speaks to one Redis host:port (no Sentinel, no Cluster; its redis-py
4.6 has no asyncio Cluster either). So for FRONTDOOR_RASA_REDIS_URL (by default
FRONTDOOR_REDIS_URL):

- redis:// and rediss://: Rasa's own `type: redis` lock store, and its tracker
  store without the per-turn re-read and merge
  (in_rasa/frontdoor_rasa_redis.py, FrontDoorTrackerStore);
- redis+sentinel://: our subclasses in in_rasa/frontdoor_rasa_redis.py, which
  give Rasa's stores a Sentinel master client (IN_RASA goes on Rasa's PYTHONPATH);
- a Cluster or a unix socket: refused by the settings (core/settings.py), which
  then require a separate FRONTDOOR_RASA_REDIS_URL.

Passwords are never written into the file: it holds `${VARIABLE}`, which Rasa
expands from its environment when it reads the file (`rasa_redis_secrets`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.redis import SentinelUrl, ServerUrl, parse_redis_url

PASSWORD_VARIABLE = "FRONTDOOR_RASA_REDIS_PASSWORD"
SENTINEL_PASSWORD_VARIABLE = "FRONTDOOR_RASA_SENTINEL_PASSWORD"
IN_RASA = Path(__file__).with_name("in_rasa")
KEY_PREFIX = "rasa"  # rasa:tracker:<id>, rasa:lock:<id> (bot/rasa_store/keys.py)


class RasaRedisError(ValueError):
    """A Redis URL Rasa 3.6 cannot use (the settings refuse it before this is asked)."""


def rasa_redis_stores(url: str) -> dict[str, dict[str, Any]]:
    """The `tracker_store` and `lock_store` sections for Rasa's Redis at `url`."""
    target = parse_redis_url(url)
    if isinstance(target, SentinelUrl):
        store: dict[str, Any] = {
            "sentinels": [[host, port] for host, port in target.sentinels],
            "service": target.service, "db": target.db, "key_prefix": KEY_PREFIX}
        store.update(_credentials(target.username, target.password))
        if target.sentinel_password:
            store["sentinel_password"] = f"${{{SENTINEL_PASSWORD_VARIABLE}}}"
        return {"tracker_store": {"type": "frontdoor_rasa_redis.SentinelTrackerStore", **store},
                "lock_store": {"type": "frontdoor_rasa_redis.SentinelLockStore", **store}}
    if not isinstance(target, ServerUrl) or target.url.startswith("unix:"):
        raise RasaRedisError("Rasa 3.6 can use redis://, rediss:// or redis+sentinel://")
    parts = urlsplit(target.url)
    redis: dict[str, Any] = {"type": "redis", "url": parts.hostname or "localhost",
                             "port": parts.port or 6379,
                             "db": int((parts.path or "/0").lstrip("/") or 0),
                             "key_prefix": KEY_PREFIX}
    redis.update(_credentials(unquote(parts.username or "") or None,
                              unquote(parts.password or "") or None))
    if parts.scheme == "rediss":
        redis["use_ssl"] = True
    return {"tracker_store": {**redis, "type": "frontdoor_rasa_redis.FrontDoorTrackerStore"},
            "lock_store": redis}


def _credentials(username: str | None, password: str | None) -> dict[str, str]:
    found = {"username": username} if username else {}
    if password:
        found["password"] = f"${{{PASSWORD_VARIABLE}}}"
    return found


def rasa_redis_secrets(url: str) -> dict[str, str]:
    """The variables the sections refer to, for Rasa's environment only."""
    target = parse_redis_url(url)
    secrets: dict[str, str] = {}
    password = sentinel_password = None
    if isinstance(target, SentinelUrl):
        password, sentinel_password = target.password, target.sentinel_password
    elif isinstance(target, ServerUrl):
        password = unquote(urlsplit(target.url).password or "") or None
    if password:
        secrets[PASSWORD_VARIABLE] = password
    if sentinel_password:
        secrets[SENTINEL_PASSWORD_VARIABLE] = sentinel_password
    return secrets


def rasa_python_path(environ: dict[str, str]) -> str:
    """PYTHONPATH for Rasa: IN_RASA first (our Sentinel stores), then what was set."""
    return ":".join(p for p in (str(IN_RASA), environ.get("PYTHONPATH", "")) if p)
