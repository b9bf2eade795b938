"""The `frontdoor` command line."""

from __future__ import annotations

import signal
import sys
import time

import typer
from rich.console import Console

from bot.launcher import LaunchError, Stack, tail, train as rasa_train
from bot.settings import get_settings

app = typer.Typer(help="Front Door: a chatbot-first front door with human handoff.",
                  no_args_is_help=True, add_completion=False)
bench_app = typer.Typer(help="Benchmarks that print tables (and write plots).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
console = Console()


@app.command()
def up() -> None:
    """Start Redis (unless FRONTDOOR_REDIS_URL is set), Rasa, the action server and
    the gateway; wait until each is healthy; stop them all on Ctrl-C or SIGTERM."""
    settings = get_settings()
    stack = Stack(settings, echo=console.print)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    console.print("[bold]Starting Front Door[/bold] (logs in var/log/)")
    try:
        stack.start()
        base = settings.base_url
        console.print(f"""
[bold green]Front Door is up.[/bold green]
  web chat        {base}/
  API docs        {base}/docs
  health          {base}/healthz
  metrics         {base}/metrics
  Rasa            {settings.rasa_url}
  action server   {settings.actions_url}
  Redis           {settings.effective_redis_url}
Press Ctrl-C to stop.""")
        while (dead := stack.dead_child()) is None:
            time.sleep(0.5)
        console.print(f"[red]{dead.name} died (exit code {dead.proc.returncode}).[/red] "
                      f"Last lines of {dead.log_path}:\n{tail(dead.log_path)}")
        raise typer.Exit(1)
    except LaunchError as exc:
        console.print(f"[red]Could not start:[/red] {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        stack.stop()
        console.print("Stopped.")


@app.command()
def train(force: bool = typer.Option(False, "--force", help="Retrain even if nothing changed.")
          ) -> None:
    """Train the Rasa model (skipped when config.yml, domain.yml, data/ and the Rasa lock
    are unchanged)."""
    try:
        code = rasa_train(get_settings(), force=force, echo=console.print)
    except LaunchError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@bench_app.command("chat")
def bench_chat(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    messages: int = typer.Option(200, help="Utterances per phase and path."),
) -> None:
    """Rasa's REST webhook directly vs. the front door's web chat WebSocket, interleaved,
    at 1 and 50 concurrent customers: p50/p95 latency, throughput, lost/duplicated replies."""
    from bot.bench_chat import run

    sys.exit(run(json_output=json_output, messages=messages, console=console))


if __name__ == "__main__":
    app()
