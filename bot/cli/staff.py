"""`frontdoor user ...`: staff accounts from the command line (the first admin
is made here; after that admins can also use /api/admin/users)."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from bot.cli.redis_job import run_with_redis
from core.redis import text_client
from core.staff import ROLES, StaffError, StaffStore, UserExists

app = typer.Typer(help="Staff accounts: agents, editors, admins.", no_args_is_help=True)
console = Console()


def _run(work) -> None:
    """Run `work(StaffStore)`; staff input errors become a clear message."""

    async def with_store(redis: Redis) -> None:
        await work(StaffStore(redis))

    try:
        run_with_redis(with_store, console)
    except StaffError as exc:
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(2) from None


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("create")
def create(
    username: str,
    role: list[str] = typer.Option(..., "--role", help=f"One or more of {', '.join(ROLES)}."),
    display_name: str = typer.Option("", "--name", help="Name shown to colleagues."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
) -> None:
    """Create a staff account (e.g. the first admin: `frontdoor user create alice --role admin`)."""
    password = _password(password_stdin)

    async def work(store: StaffStore) -> None:
        user = await store.create(username, password, role, display_name)
        console.print(f"Created {user.username} with roles {', '.join(sorted(user.roles))}.")

    _run(work)


@app.command("list")
def list_users() -> None:
    """List staff accounts and their roles."""

    async def work(store: StaffStore) -> None:
        table = Table("username", "name", "roles")
        for user in await store.all():
            table.add_row(user.username, user.display_name, ", ".join(sorted(user.roles)))
        console.print(table)

    _run(work)


@app.command("set-password")
def set_password(username: str, password_stdin: bool = typer.Option(False, "--password-stdin")
                 ) -> None:
    """Set a staff account's password."""
    password = _password(password_stdin)

    async def work(store: StaffStore) -> None:
        await store.set_password(username, password)
        console.print(f"Password of {username} changed.")

    _run(work)


DEMO_ACCOUNTS = (("admin", "admin"), ("agent", "agent"), ("editor", "editor"))


def ensure_demo_staff(redis_url: str, var_dir: Path) -> Path:
    """For the local demo: an admin, an agent and an editor with random passwords,
    made once and written to var/demo-staff.txt (readable by you only)."""
    path = var_dir / "demo-staff.txt"

    async def main() -> None:
        redis = text_client(redis_url)
        try:
            store = StaffStore(redis)
            listed = path.read_text() if path.exists() else ""
            lines = []
            for username, role in DEMO_ACCOUNTS:
                password = secrets.token_urlsafe(9)
                try:
                    await store.create(username, password, [role], display_name=username.title())
                except UserExists:
                    if f"{username} " in listed:
                        continue  # made on an earlier run; its password is in the file
                    await store.set_password(username, password)  # the file was lost
                lines.append(f"{username:<8} {password}   ({role})")
            if lines:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a") as out:
                    out.write("\n".join(lines) + "\n")
                path.chmod(0o600)
        finally:
            await redis.aclose()

    asyncio.run(main())
    return path
