"""`frontdoor kb ...`: import and export the knowledge base from the command line.

    frontdoor kb export PATH [--format md|csv]   md: a folder of <id>.md; csv: one file
    frontdoor kb import PATH [--dry-run]         a folder of .md, a .zip, a .md or a .csv

An import is checked completely before anything is saved (a bad file changes
nothing) and is published at once: every process re-indexes, no restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from redis.asyncio import Redis
from rich.console import Console

from bot.cli.redis_job import run_with_redis
from core.settings import get_settings
from knowledge import KnowledgeError
from knowledge.editor.transfer import (
    ImportInvalid,
    export_csv,
    import_articles,
    parse_path,
    write_folder,
)
from knowledge.store import ArticleStore

app = typer.Typer(help="The knowledge base: import and export articles.", no_args_is_help=True)
console = Console()


def _run(work) -> None:
    """Run `work(ArticleStore)` (seeded on first use, as in the services);
    an invalid import lists every problem and changes nothing."""

    async def with_store(redis: Redis) -> None:
        await work(ArticleStore(redis, seed_folder=get_settings().knowledge.articles_dir))

    try:
        run_with_redis(with_store, console)
    except ImportInvalid as exc:
        _problems(exc)
    except KnowledgeError as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command("export")
def export(path: Path = typer.Argument(..., help="md: a folder (made if missing); csv: a file."),
           format: str = typer.Option("md", "--format", help="md or csv."),
           ) -> None:
    """Write every article (any status) in the articles folder format or as CSV."""
    if format not in ("md", "csv"):
        raise typer.BadParameter("--format is md or csv")
    fmt: Literal["md", "csv"] = format  # type: ignore[assignment]

    async def work(store: ArticleStore) -> None:
        articles = await store.all()
        if fmt == "csv":

            path.write_text(export_csv(articles), encoding="utf-8-sig", newline="")  # noqa: ASYNC240
            console.print(f"Wrote {len(articles)} articles to {path}.")
        else:
            written = write_folder(articles, path)
            console.print(f"Wrote {written} articles to {path}/.")

    _run(work)


@app.command("import")
def import_(path: Path = typer.Argument(..., help="A folder of .md, a .zip, a .md or a .csv."),
            dry_run: bool = typer.Option(False, "--dry-run", help="Check and report only."),
            author: str = typer.Option("import", "--author",
                                       help="Recorded as the author of the new versions."),
            ) -> None:
    """Create new articles and new versions of changed ones (nothing is deleted)."""
    try:
        articles = parse_path(path)  # every problem found before Redis is touched
    except ImportInvalid as exc:
        _problems(exc)

    async def work(store: ArticleStore) -> None:
        report = await import_articles(store, articles, author=author, dry_run=dry_run)
        verb = "Would import" if dry_run else "Imported"
        console.print(f"{verb}: {len(report.created)} created, {len(report.updated)} updated, "
                      f"{len(report.unchanged)} unchanged.")
        for label, ids in (("created", report.created), ("updated", report.updated)):
            if ids:
                console.print(f"  {label}: {', '.join(ids)}", highlight=False)

    _run(work)


def _problems(exc: ImportInvalid):
    console.print(f"[red]Nothing was imported: {len(exc.problems)} problem(s).[/red]")
    for problem in exc.problems:
        console.print(f"  - {problem}", markup=False, highlight=False)
    raise typer.Exit(2) from None
