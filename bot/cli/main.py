"""The `frontdoor` command line."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console

from bot.bench.chaos import FAULTS
from bot.cli import customers as cli_customers
from bot.cli import i18n as cli_i18n
from bot.cli import kb as cli_kb
from bot.cli import run as cli_run
from bot.cli import staff as cli_staff
from bot.infra.supervisor import LaunchError, Stack
from bot.infra.supervisor import train as rasa_train
from core.redis import text_client
from core.settings import Settings, get_settings, with_sandboxes

app = typer.Typer(help="Front Door: a chatbot-first front door with human handoff.",
                  no_args_is_help=True, add_completion=False)
bench_app = typer.Typer(help="Benchmarks that print tables (and write plots).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
telegram_app = typer.Typer(help="Telegram: register the webhook, or long-poll for development.",
                           no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")
app.add_typer(cli_staff.app, name="user")
app.add_typer(cli_customers.app, name="customer")
app.add_typer(cli_kb.app, name="kb")
app.add_typer(cli_run.app, name="run")
app.add_typer(cli_i18n.app, name="i18n")
console = Console()


@app.command()
def up(sandboxes: bool = typer.Option(
        False, "--sandboxes",
        help="Also run the local Telegram/Slack/Twilio sandboxes and enable every channel "
             "against them (what `make demo` does).")) -> None:
    """Start Redis (unless FRONTDOOR_REDIS_URL is set), Rasa, the action server and
    the gateway; wait until each is healthy; restart one that exits (with backoff,
    at most FRONTDOOR_SUPERVISOR_MAX_RESTARTS_PER_MINUTE); stop them all on Ctrl-C
    or SIGTERM."""
    settings = get_settings()
    if sandboxes:
        settings = with_sandboxes(settings)
    # Child log lines are printed as they are: never read as Rich markup, never re-wrapped.
    stack = Stack(settings,
                  echo=lambda text: console.print(text, markup=False, highlight=False,
                                                  soft_wrap=True),
                  alert=lambda text: console.print(text, markup=False, style="bold red",
                                                   soft_wrap=True))
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
  Rasa            {", ".join(settings.rasa_replicas)}
  action server   {settings.actions_url}
  Redis           {settings.effective_redis_url}""")
        console.print(f"  agent console   {base}/agent\n  reports         {base}/reports")
        if settings.sandboxes:
            console.print(f"  sandboxes       http://127.0.0.1:{settings.sandbox_port}/sandbox  "
                          "(be a Telegram user, a Slack user and a phone at once)")
            staff_file = cli_staff.ensure_demo_staff(settings.effective_redis_url,
                                                     settings.var_dir)
            console.print(f"  staff sign-in   {base}/login  (demo accounts and passwords: "
                          f"{staff_file})")
        console.print(f"  channels        {', '.join(enabled_channels(settings))}")
        console.print("Press Ctrl-C to stop.")
        # A process that exits is started again; returns only when every one is given up on.
        stack.supervise()
        console.print("[red]Every process has failed.[/red]")
        raise typer.Exit(1)
    except LaunchError as exc:
        console.print(f"[red]Could not start:[/red] {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stop short and leave children behind
        # (stop() kills whatever is still running after its timeout).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        console.print("Stopped.")


def enabled_channels(settings: Settings) -> list[str]:
    channels = settings.channels
    flags = {"telegram": channels.telegram_enabled, "slack": channels.slack_enabled,
             "sms": channels.sms_enabled}
    return ["web", *(name for name, on in flags.items() if on)]


@telegram_app.command("set-webhook")
def telegram_set_webhook(url: str = typer.Argument(
        ..., help="Public HTTPS URL of /channels/telegram/webhook")) -> None:
    """Register the gateway's webhook (with the secret token) with the Telegram Bot API."""
    import asyncio

    from bot.channels.telegram.routes import set_webhook

    settings = get_settings()
    if not settings.channels.telegram_enabled:
        console.print("[red]Set FRONTDOOR_TELEGRAM_BOT_TOKEN and "
                      "FRONTDOOR_TELEGRAM_WEBHOOK_SECRET first.[/red]")
        raise typer.Exit(2)
    asyncio.run(set_webhook(settings, url))
    console.print(f"Telegram will deliver updates to {url}")


@telegram_app.command("poll")
def telegram_poll() -> None:
    """Long-poll getUpdates instead of a webhook (development without a public URL).
    Run it beside `frontdoor up`; it feeds the same inbound stream."""
    import asyncio

    from bot.channels.telegram.routes import poll_forever
    from bot.gateway.inbound import InboundStream

    settings = get_settings()
    if not settings.channels.telegram_enabled:
        console.print("[red]Set FRONTDOOR_TELEGRAM_BOT_TOKEN and "
                      "FRONTDOOR_TELEGRAM_WEBHOOK_SECRET first.[/red]")
        raise typer.Exit(2)

    async def main() -> None:
        redis = text_client(settings.effective_redis_url)
        try:
            await poll_forever(settings, InboundStream(redis), redis)
        finally:
            await redis.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@app.command()
def train(force: bool = typer.Option(False, "--force", help="Retrain even if nothing changed.")
          ) -> None:
    """Prepare the embedding model and train the Rasa model (skipped when config.yml,
    domain.yml, data/ and the Rasa lock are unchanged)."""
    from knowledge.answers.embedder import Embedder
    from knowledge.answers.index import VariantIndex
    from knowledge.articles_io import load_folder

    # Exports the embedding model to ONNX once and keeps the seed articles'
    # variants encoded (var/cache), so no process does either while starting.
    knowledge = get_settings().knowledge
    embedder = Embedder(knowledge.model_path(), encoders=knowledge.embedding_encoders)
    if knowledge.articles_dir is not None and knowledge.articles_dir.is_dir():
        embedder.keep_variants(VariantIndex.variants(load_folder(knowledge.articles_dir)))
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
    history: list[str] = typer.Option(
        [], help="Earlier messages of the history customers (repeatable or a comma "
                 "list; 0 is always measured). Default: 0,200,1000,5000."),
    burst: int = typer.Option(300, min=1, help="Messages the bursting customer sends at once."),
) -> None:
    """Rasa as shipped, our Rasa directly and the front door's web chat WebSocket,
    interleaved, at 1 and 50 concurrent customers: p50/p95 latency, throughput,
    lost/duplicated replies; customers with long histories, a burst, fairness and
    where a turn's time goes."""
    from bot.bench.chat import parse_history, run

    lengths = parse_history(history) if history else [0, 200, 1000, 5000]
    sys.exit(run(json_output=json_output, messages=messages, console=console, history=lengths,
                 burst=burst))


@bench_app.command("handoff")
def bench_handoff(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    samples: int = typer.Option(50, min=1, help="Escalations to measure."),
    transcript: int = typer.Option(1000, min=0, help="Earlier messages in each transcript."),
) -> None:
    """Escalation → ticket in a connected agent console, and agent reply → customer,
    p50/p95, for customers with long cross-channel transcripts."""
    from bot.bench.handoff import run

    sys.exit(run(json_output=json_output, samples=samples, transcript=transcript,
                 console=console))


@bench_app.command("chaos")
def bench_chaos(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    cluster: bool = typer.Option(False, "--cluster",
                                 help="Gateways and action servers on a six-node Redis Cluster."),
    minutes: float = typer.Option(5.0, "--minutes", min=0.1,
                                  help="Quiet time between the faults (restarts add to it)."),
    customers: int = typer.Option(12, "--customers", min=1,
                                  help="Customers: half web chat, a quarter Telegram, SMS."),
    faults: str = typer.Option(",".join(FAULTS), "--faults",
                               help="Comma-separated faults to inject, in order."),
    soak: float | None = typer.Option(None, "--soak", min=0.5, metavar="MINUTES",
                                      help="No faults: sample memory and Redis keys every 10 s "
                                           "for MINUTES and report growth per hour."),
    rasa_replicas: int = typer.Option(1, "--rasa-replicas", min=1, max=4),
    out: Path = typer.Option(Path("bench-results"), "--out", help="Where the plot goes."),
) -> None:
    """Kill and restart every kind of process (SIGKILL) while customers talk on web chat,
    Telegram and SMS: lost and duplicated replies, longest wait and recovery per fault."""
    from bot.bench.chaos.topology import Options

    options = Options(rasa_replicas=rasa_replicas)
    if soak is not None:
        from bot.bench.chaos.soak import run as run_soak

        sys.exit(run_soak(json_output, soak, customers, options, cluster, out, console))
    from bot.bench.chaos.run import Plan
    from bot.bench.chaos.run import run as run_chaos

    chosen = tuple(f.strip() for f in faults.split(",") if f.strip())
    if unknown := [f for f in chosen if f not in FAULTS]:
        raise typer.BadParameter(f"unknown faults {unknown}; choose from {', '.join(FAULTS)}")
    plan = Plan(minutes=minutes, customers=customers, faults=chosen)
    sys.exit(run_chaos(json_output, plan, options, cluster, out, console))


@bench_app.command("nlu")
def bench_nlu(
    folds: int = typer.Option(3, "--folds", min=2,
                              help="Cross-validation folds (one training each)."),
    out: Path = typer.Option(Path("results/nlu"), "--out", help="Where Rasa writes its reports."),
    report_only: bool = typer.Option(False, "--report-only",
                                     help="Only read the per-example results already in --out."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Intent accuracy and macro F1 per language (English, German, both) from Rasa's
    NLU cross-validation on data/ (`rasa test nlu --cross-validation`)."""
    from bot.bench.nlu import run

    sys.exit(run(folds, out, report_only, json_output, console))


@bench_app.command("kb")
def bench_kb(
    directory: Path = typer.Argument(..., exists=True, file_okay=False,
                                     help="A set: articles.jsonl (absent: the seed knowledge "
                                          "base) + queries.jsonl."),
    shots: int | None = typer.Option(None, "--shots", min=1,
                                     help="Sample K question variants per article (default: all)."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated sampling seeds, e.g. 0,1,2."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Answer quality of the real answering path (store, index, policy) on a benchmark set:
    top-1, answered/clarified correctly, escalated, answered wrongly, out-of-scope not
    answered, p50/p95 latency; plot of answered wrongly vs resolved across thresholds."""
    from bot.bench.kb import run

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as exc:
        raise typer.BadParameter("--seeds takes integers, e.g. 0,1,2") from exc
    sys.exit(run(directory, shots, seed_list, json_output, console))


if __name__ == "__main__":
    app()
