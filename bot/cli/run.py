"""`frontdoor run <process>`: one process in the foreground, from its FRONTDOOR_*
settings, for a process on its own host or one replica of many behind a load
balancer (README "Deploying at scale"). The command replaces itself with the
process (exec), so signals, exit code and logs are the process's own; it is
started exactly as `frontdoor up` starts it (bot/infra/processes.py) with the
same selection of settings (the `*_env` functions of bot/infra/supervisor.py).

A secret with a random default (`core/settings.py`) is fine for `frontdoor up`,
which hands one value to every child, but two processes started apart would
each draw their own: so these commands refuse to start until the secrets their
process shares with another are set."""

from __future__ import annotations

import os
import sys

import typer
from pydantic_settings import BaseSettings
from rich.console import Console

from bot.infra.processes import RASA_PYTHON, actions_argv, gateway_argv, rasa_argv, sandbox_argv
from bot.infra.supervisor import (
    LaunchError,
    actions_env,
    current_model,
    gateway_env,
    rasa_env,
    sandbox_env,
    write_rasa_endpoints,
)
from core.settings import PROJECT_ROOT, Settings, get_settings, with_sandboxes

app = typer.Typer(help="Run one process in the foreground (a process per host, or one "
                       "replica of many behind a load balancer).", no_args_is_help=True)
console = Console(stderr=True)

HOST_HELP = "Address to listen on (0.0.0.0: every interface)."
# The channel secrets `with_sandboxes` draws at random: the sandbox signs with
# them and the gateway checks them, so both must be given the same.
SANDBOX_SECRETS = ("telegram_webhook_secret", "slack_signing_secret", "twilio_account_sid",
                   "twilio_auth_token")


def unset(model: BaseSettings, *names: str) -> list[str]:
    """The FRONTDOOR_* variables of `names` that the environment does not set."""
    prefix = model.model_config.get("env_prefix", "")
    return [f"{prefix}{n}".upper() for n in names if n not in model.model_fields_set]


def require(missing: list[str], process: str) -> None:
    if missing:
        console.print(f"[red]{process} refuses to start:[/red] set {', '.join(missing)} "
                      "(the same value on every process that shares it; "
                      "see README, Deploying at scale)")
        raise typer.Exit(2)


def execute(argv: list[str], env: dict[str, str]) -> None:
    """Become the process: no supervisor in between."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(PROJECT_ROOT)
    os.execve(argv[0], argv, env)


def sandbox_settings(settings: Settings, process: str) -> Settings:
    require(unset(settings.channels, *SANDBOX_SECRETS), process)
    return with_sandboxes(settings)


@app.command()
def gateway(host: str | None = typer.Option(None, help=HOST_HELP + " Default FRONTDOOR_HOST."),
            port: int | None = typer.Option(None, help="Default FRONTDOOR_PORT.")) -> None:
    """The gateway: channels, web chat, agent console, editor, workers (uvicorn)."""
    settings = get_settings()
    require(unset(settings, "rasa_token"), "the gateway")
    if settings.sandboxes:
        settings = sandbox_settings(settings, "the gateway")
    settings = settings.model_copy(update={"host": host or settings.host,
                                           "port": port or settings.port})
    execute(gateway_argv(settings, settings.host, settings.port), gateway_env(settings))


@app.command()
def rasa(host: str = typer.Option("127.0.0.1", help=HOST_HELP),
         port: int | None = typer.Option(None, help="Default FRONTDOOR_RASA_PORT.")) -> None:
    """A Rasa server, with the trained model of this project.

    Writes endpoints.yml (Redis tracker and lock store, the action server at
    FRONTDOOR_ACTION_SERVER_URL) under FRONTDOOR_VAR_DIR/run/, then runs Rasa
    with both tokens from the environment, never the command line."""
    settings = get_settings()
    require(unset(settings, "rasa_token", "actions_token"), "Rasa")
    if not RASA_PYTHON.exists():
        console.print(f"[red]{RASA_PYTHON} is missing: run `make setup` first[/red]")
        raise typer.Exit(1)
    try:
        model = current_model(settings)
    except LaunchError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    execute(rasa_argv(model, write_rasa_endpoints(settings), host,
                      port or settings.rasa_port), rasa_env(settings))


@app.command()
def actions(host: str = typer.Option("127.0.0.1", help=HOST_HELP),
            port: int | None = typer.Option(None, help="Default FRONTDOOR_ACTIONS_PORT.")) -> None:
    """The action server: knowledge answers, escalation (rasa-sdk).

    Answers 401 to any call without FRONTDOOR_ACTIONS_TOKEN, except /health."""
    settings = get_settings()
    require(unset(settings, "actions_token"), "the action server")
    execute(actions_argv(host, port or settings.actions_port), actions_env(settings))


@app.command()
def sandbox(host: str = typer.Option("127.0.0.1", help=HOST_HELP),
            port: int | None = typer.Option(None, help="Default FRONTDOOR_SANDBOX_PORT.")
            ) -> None:
    """The local Telegram, Slack and Twilio stand-ins (demo and tests).

    They deliver to the gateway at FRONTDOOR_HOST:FRONTDOOR_PORT; give the
    gateway FRONTDOOR_SANDBOXES=true and the same channel secrets."""
    settings = get_settings()
    settings = sandbox_settings(settings.model_copy(
        update={"sandbox_port": port or settings.sandbox_port}), "the sandbox")
    execute(sandbox_argv(host, settings.sandbox_port), sandbox_env(settings))
