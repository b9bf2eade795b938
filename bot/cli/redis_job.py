"""Run one command-line job against the configured Redis, with a clear message
(not a traceback) when Redis is not running."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import typer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rich.console import Console

from core.redis import text_client
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
        console.print(f"[red]Cannot reach Redis at {settings.effective_redis_url}.[/red] "
                      "Start Front Door first (`make demo` or `frontdoor up`), or set "
                      "FRONTDOOR_REDIS_URL.")
        raise typer.Exit(1) from None
