"""No feature runs on an empty or weak secret: every process refuses to start,
with a one-line reason naming the variable and its minimum."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli.main import app as cli
from core.settings import PROJECT_ROOT, ChannelSettings, HandoffSettings, Settings, get_settings
from tests.conftest import free_port

# (variable, a weak value, the minimum the refusal states)
WEAK = [
    ("FRONTDOOR_SESSION_SECRET", "", 32),
    ("FRONTDOOR_SESSION_SECRET", "x" * 31, 32),
    ("FRONTDOOR_STAFF_SECRET", "", 32),
    ("FRONTDOOR_RASA_TOKEN", "", 16),
    ("FRONTDOOR_TELEGRAM_WEBHOOK_SECRET", "", 16),
    ("FRONTDOOR_SLACK_SIGNING_SECRET", "", 16),
    ("FRONTDOOR_TWILIO_AUTH_TOKEN", "", 16),
    ("FRONTDOOR_TWILIO_AUTH_TOKEN", "0123456789abcde", 16),
    ("FRONTDOOR_HANDOFF_WEBHOOK_SECRET", "", 16),
    ("FRONTDOOR_HANDOFF_WEBHOOK_SECRET", " " * 20, 16),
]


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()  # each test is a new "process"
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("variable, value, minimum", WEAK)
def test_the_gateway_refuses_to_start_on_an_empty_or_short_secret_and_says_the_minimum(
        variable, value, minimum, monkeypatch, fresh_settings):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as refused:
        create_app()
    reason = str(refused.value)
    assert f"{variable} is too short: at least {minimum} characters" in reason
    assert "\n" not in reason
    if value.strip():
        assert value not in reason  # the refusal does not echo the secret


@pytest.mark.parametrize("variable, value, minimum", WEAK)
def test_the_settings_models_refuse_an_empty_or_short_secret(variable, value, minimum,
                                                            monkeypatch):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=f"{variable} is too short: at least {minimum}"):
        Settings()


def test_the_settings_refuse_a_weak_secret_passed_in_code_too():
    with pytest.raises(ValidationError, match="FRONTDOOR_SESSION_SECRET is too short"):
        Settings(session_secret="x")
    with pytest.raises(ValidationError, match="FRONTDOOR_SLACK_SIGNING_SECRET is too short"):
        ChannelSettings(slack_signing_secret="")
    with pytest.raises(ValidationError, match="FRONTDOOR_HANDOFF_WEBHOOK_SECRET is too short"):
        HandoffSettings(webhook_secret="secret")


@pytest.mark.parametrize("value", ["has space in it 0123", "only/slashes/are/bad", "a" * 257])
def test_a_telegram_webhook_secret_with_characters_telegram_refuses_is_refused(value,
                                                                               monkeypatch):
    monkeypatch.setenv("FRONTDOOR_TELEGRAM_WEBHOOK_SECRET", value)
    with pytest.raises(ValidationError, match="FRONTDOOR_TELEGRAM_WEBHOOK_SECRET may only hold"):
        Settings()


def test_an_empty_bot_token_does_not_enable_a_channel(monkeypatch):
    monkeypatch.setenv("FRONTDOOR_TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("FRONTDOOR_TELEGRAM_WEBHOOK_SECRET", "a" * 24)
    with pytest.raises(ValidationError, match="FRONTDOOR_TELEGRAM_BOT_TOKEN is too short"):
        Settings()


def test_generated_defaults_pass_even_when_they_start_with_a_dash(monkeypatch):
    settings = Settings(session_secret="-" + "a" * 42, staff_secret="-" * 43,
                        rasa_token="-" + "b" * 31)
    assert settings.session_secret.get_secret_value().startswith("-")
    for _ in range(50):  # the generated ones
        Settings()


def test_frontdoor_up_refuses_to_start_on_an_empty_secret(monkeypatch, fresh_settings):
    monkeypatch.setenv("FRONTDOOR_STAFF_SECRET", "")
    result = CliRunner().invoke(cli, ["up"])
    assert result.exit_code != 0
    assert "FRONTDOOR_STAFF_SECRET is too short: at least 32 characters" in str(result.exception)


def test_the_action_server_refuses_to_start_on_an_empty_secret():
    env = {**os.environ, "FRONTDOOR_SESSION_SECRET": ""}
    done = subprocess.run([sys.executable, "-m", "actions.server", "--port", str(free_port())],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "FRONTDOOR_SESSION_SECRET is too short: at least 32 characters" in done.stderr


def test_a_takeover_time_not_above_the_rasa_timeout_is_refused_in_one_line(
        monkeypatch, fresh_settings):
    # a slow turn would be taken over by another gateway while it still runs
    monkeypatch.setenv("FRONTDOOR_RECLAIM_IDLE_MS", "5000")
    monkeypatch.setenv("FRONTDOOR_RASA_TIMEOUT_S", "10")
    with pytest.raises(SystemExit) as refused:
        create_app()
    reason = str(refused.value)
    assert "FRONTDOOR_RECLAIM_IDLE_MS (5000) must be above FRONTDOOR_RASA_TIMEOUT_S*1000 " \
           "(10000)" in reason
    assert "\n" not in reason and "Value error" not in reason
    monkeypatch.delenv("FRONTDOOR_RECLAIM_IDLE_MS")
    monkeypatch.delenv("FRONTDOOR_RASA_TIMEOUT_S")
    assert Settings().reclaim_idle_ms > Settings().rasa_timeout_s * 1000  # the defaults pass
