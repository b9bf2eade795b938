"""`frontdoor customer ...`: a customer's data for privacy requests: export it
all as JSON, or erase it everywhere (bot/customers/privacy.py says what that covers)."""

from __future__ import annotations

import json
import sys

import typer
from redis.asyncio import Redis
from rich.console import Console

from bot.cli.redis_job import rasa_redis_of, run_with_redis
from bot.customers.merge import Customers
from bot.customers.privacy import Privacy
from core import audit

app = typer.Typer(help="Customers: export or erase their data (privacy requests).",
                  no_args_is_help=True)
console = Console(stderr=True)  # stdout carries the export only


def _run(work) -> None:
    run_with_redis(work, console)


async def _require(redis: Redis, customer_id: str) -> None:
    if not await Customers(redis).exists(customer_id):
        console.print(f"[red]No customer {customer_id!r}.[/red]")
        raise typer.Exit(2)


@app.command("export")
def export(customer_id: str) -> None:
    """Everything stored about a customer (and customers merged into them), as JSON
    on standard output."""

    async def work(redis: Redis) -> None:
        await _require(redis, customer_id)
        async with rasa_redis_of(redis) as rasa_redis:
            data = await Privacy(redis, rasa_redis=rasa_redis).export(customer_id)
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    _run(work)


@app.command("erase")
def erase(customer_id: str, yes: bool = typer.Option(
        False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Erase a customer (and customers merged into them) everywhere. Irreversible."""

    async def work(redis: Redis) -> None:
        await _require(redis, customer_id)
        if not yes and not typer.confirm(f"Erase {customer_id} and everything about them?",
                                         err=True):
            raise typer.Exit(1)
        async with rasa_redis_of(redis) as rasa_redis:
            erased = await Privacy(redis, rasa_redis=rasa_redis).erase(customer_id)
        await audit.record(redis, "cli", "customer.erase",
                           {"customers": ",".join(erased.customer_ids), "aof": erased.aof.status})
        console.print(f"Erased {', '.join(erased.customer_ids)}.")
        if erased.aof.status == "rewriting":
            console.print("Redis is rewriting its append-only file (BGREWRITEAOF).")
        elif erased.aof.status == "operator":
            console.print(f"[yellow]{erased.aof.note}[/yellow]")

    _run(work)
