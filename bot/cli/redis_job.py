"""Run one command-line job against the configured Redis, with a clear message
(not a traceback) when Redis is not running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import typer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rich.console import Console

from core.redis import text_client, without_password
from core.settings import get_settings


def run_with_redis(work: Callable[[Redis], Awaitable[None]], console: Console) -> None:
    settings = get_settings()

    async def main() -> None:
        redis = text_client(settings.effective_redis_url)
        try:
            await work(redis)
        finally:
            await redis.aclose()

    try:
        asyncio.run(main())
    except RedisConnectionError:
        where = without_password(settings.effective_redis_url)
        console.print(f"[red]Cannot reach Redis at {where}.[/red] "
                      "Start Front Door first (`make demo` or `frontdoor up`), or set "
                      "FRONTDOOR_REDIS_URL.")
        raise typer.Exit(1) from None


@contextlib.asynccontextmanager
async def rasa_redis_of(redis: Redis) -> AsyncIterator[Redis]:
    """Where Rasa keeps its trackers: `redis`, or its own Redis when
    FRONTDOOR_RASA_REDIS_URL sets one apart (closed after the block)."""
    url = get_settings().rasa_redis_url
    if url is None:
        yield redis
        return
    rasa_redis = text_client(url)
    try:
        yield rasa_redis
    finally:
        await rasa_redis.aclose()
