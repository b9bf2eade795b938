"""`frontdoor run <process>` refuses to start a process whose shared secrets are
not set: a random default would differ from the other processes' and every
call between them would be refused. (The commands running for real:
test_run_stack.py.)"""

import os

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from core.settings import get_settings

runner = CliRunner()
SANDBOX_SECRETS = ["FRONTDOOR_TELEGRAM_WEBHOOK_SECRET", "FRONTDOOR_SLACK_SIGNING_SECRET",
                   "FRONTDOOR_TWILIO_ACCOUNT_SID", "FRONTDOOR_TWILIO_AUTH_TOKEN"]


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch):
    """A host where no FRONTDOOR_* variable is set; each test is a new process."""
    for name in [n for n in os.environ if n.startswith("FRONTDOOR_")]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def refused(args: list[str]) -> str:
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())  # the console wraps long lines


@pytest.mark.parametrize("process, needs", [
    ("rasa", ["FRONTDOOR_RASA_TOKEN", "FRONTDOOR_ACTIONS_TOKEN"]),
    ("actions", ["FRONTDOOR_ACTIONS_TOKEN"]),
    ("gateway", ["FRONTDOOR_RASA_TOKEN"]),
    ("sandbox", SANDBOX_SECRETS),
])
def test_a_process_without_the_secrets_it_shares_refuses_to_start_naming_them(process, needs):
    output = refused([process])
    assert "refuses to start" in output
    assert all(name in output for name in needs), output


def test_a_gateway_playing_against_sandboxes_needs_the_sandboxes_channel_secrets(monkeypatch):
    monkeypatch.setenv("FRONTDOOR_RASA_TOKEN", "r" * 20)
    monkeypatch.setenv("FRONTDOOR_SANDBOXES", "true")
    output = refused(["gateway"])
    assert all(name in output for name in SANDBOX_SECRETS), output
