"""`frontdoor i18n`: check the message catalogues against the source, and add
new texts to them (core/catalogues.py; docs/architecture.md#languages)."""

from __future__ import annotations

import typer
from rich.console import Console

from core import catalogues
from core.i18n import DEFAULT_LANGUAGE, DOMAINS, LANGUAGES

app = typer.Typer(help="Message catalogues (locale/<language>/LC_MESSAGES/<domain>.po).",
                  no_args_is_help=True)
console = Console()


@app.command()
def check() -> None:
    """List every text a catalogue lacks; exit 1 if any (what the test checks)."""
    bad = 0
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        for domain in DOMAINS:
            for problem in catalogues.problems(domain, language):
                bad += 1
                console.print(f"{language}/{domain}: {problem}", markup=False)
    console.print("catalogues complete" if not bad else f"{bad} problems")
    raise typer.Exit(1 if bad else 0)


@app.command()
def update() -> None:
    """Add the texts marked in the source to each catalogue (empty, to translate)
    and mark texts no longer used obsolete; translations are kept."""
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        for domain in DOMAINS:
            result = catalogues.update(domain, language)
            console.print(f"{result.path}: {result.added} new, {result.obsolete} obsolete",
                          markup=False)
