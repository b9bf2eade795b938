"""Each process the supervisor starts gets only the settings it needs: no
channel secret reaches Rasa or the action server, the sandbox gets only the
channel credentials it plays the platforms with, and the Rasa token is never
on a command line (`ps` shows every user's argv)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.infra import rasa_run, supervisor
from core.settings import Settings, with_sandboxes

RASA_TOKEN = "rasa-token-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789"
HOOK_SECRET = "hook-secret-0123456789"


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    base = with_sandboxes(Settings(var_dir=tmp_path, rasa_token=SecretStr(RASA_TOKEN),
                                   metrics_token=SecretStr(METRICS_TOKEN),
                                   redis_url="redis://:pw@127.0.0.1:6390/0"))
    handoff = base.handoff.model_copy(update={"webhook_urls": ["https://ops.example/hook"],
                                              "webhook_secret": SecretStr(HOOK_SECRET)})
    # A launcher's own environment (not its settings: the tests and benchmarks pass
    # theirs in) is never handed on as it is.
    monkeypatch.setenv("FRONTDOOR_SLACK_SIGNING_SECRET", "exported-slack-secret-0123")
    monkeypatch.setenv("FRONTDOOR_SOMETHING_ELSE", "x")
    return base.model_copy(update={"handoff": handoff})


def secrets_of(settings: Settings) -> dict[str, str]:
    channels = settings.channels
    return {
        "rasa": RASA_TOKEN, "metrics": METRICS_TOKEN, "webhook": HOOK_SECRET,
        "session": supervisor.session_secret(settings),
        "staff": settings.staff_secret.get_secret_value(),
        "telegram bot": channels.telegram_bot_token.get_secret_value(),  # type: ignore[union-attr]
        "telegram hook": channels.telegram_webhook_secret.get_secret_value(),  # type: ignore[union-attr]
        "slack bot": channels.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
        "slack signing": channels.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
        "twilio": channels.twilio_auth_token.get_secret_value(),  # type: ignore[union-attr]
        "exported": "exported-slack-secret-0123",
    }


def holding(env: dict[str, str], settings: Settings) -> set[str]:
    values = " ".join(env.values())
    return {name for name, secret in secrets_of(settings).items() if secret in values}


def test_rasa_gets_its_api_token_and_nothing_else_of_ours(settings):
    env = supervisor.rasa_env(settings)
    assert holding(env, settings) == {"rasa"}
    assert [k for k in env if k.startswith("FRONTDOOR_")] == ["FRONTDOOR_RASA_TOKEN"]


def test_rasas_conversation_locks_last_no_longer_than_a_turn_may_take(settings):
    # a lock left behind by a crash (Redis restarted mid-turn) freezes its
    # conversation for this long at most, not Rasa's default minute
    env = supervisor.rasa_env(settings.model_copy(update={"rasa_timeout_s": 7.5}))
    assert env["TICKET_LOCK_LIFETIME"] == "8"  # the gateway's Rasa timeout, not a minute


def test_the_action_server_gets_redis_handoff_and_knowledge_but_no_secret(settings):
    env = supervisor.actions_env(settings)
    assert holding(env, settings) == set()
    assert env["FRONTDOOR_REDIS_URL"] == "redis://:pw@127.0.0.1:6390/0"
    assert env["FRONTDOOR_HANDOFF_WEBHOOK_URLS"] == '["https://ops.example/hook"]'
    assert "FRONTDOOR_ANSWER_THRESHOLD" in env and "FRONTDOOR_HANDOFF_TEAMS_FILE" in env
    assert not any(k.startswith(("FRONTDOOR_TELEGRAM", "FRONTDOOR_SLACK", "FRONTDOOR_TWILIO"))
                   for k in env)


def test_the_sandbox_gets_only_the_channel_credentials_it_signs_with(settings):
    env = supervisor.sandbox_env(settings)
    assert holding(env, settings) == {"telegram bot", "telegram hook", "slack bot",
                                      "slack signing", "twilio"}
    assert "FRONTDOOR_REDIS_URL" not in env
    assert env["FRONTDOOR_PORT"] == str(settings.port)


def test_the_gateway_gets_every_setting_as_the_launcher_has_them(settings):
    env = supervisor.gateway_env(settings)
    assert holding(env, settings) == set(secrets_of(settings)) - {"exported"}
    assert env["FRONTDOOR_SLACK_SIGNING_SECRET"] != "exported-slack-secret-0123"
    assert "FRONTDOOR_SOMETHING_ELSE" not in env


def test_the_child_settings_rebuild_from_their_environment(settings, monkeypatch):
    for name in ("FRONTDOOR_SLACK_SIGNING_SECRET", "FRONTDOOR_SOMETHING_ELSE"):
        monkeypatch.delenv(name)
    for build in (supervisor.actions_env, supervisor.sandbox_env):
        with monkeypatch.context() as patch:
            for key, value in build(settings).items():
                if key.startswith("FRONTDOOR_"):
                    patch.setenv(key, value)
            child = Settings()
        if build is supervisor.actions_env:
            assert child.handoff == settings.handoff.model_copy(update={"webhook_secret": None})
            assert child.knowledge == settings.knowledge
        else:
            assert child.channels == settings.channels
            assert child.base_url == settings.base_url


def test_no_command_line_holds_a_secret(settings, monkeypatch):
    monkeypatch.setattr(supervisor, "current_model", lambda s: Path("/models/m.tar.gz"))
    children = [c for wave in supervisor.plan(settings) for c in wave]
    assert {c.name for c in children} == {"redis", "rasa", "actions", "gateway", "sandbox"} - (
        {"redis"} if settings.redis_url else set())
    for child in children:
        argv = " ".join(child.argv)
        assert not {n for n, s in secrets_of(settings).items() if s in argv}, child.name
    rasa = next(c for c in children if c.name == "rasa")
    assert "--auth-token" not in rasa.argv and rasa.argv[1].endswith("rasa_run.py")


def test_the_rasa_launcher_passes_the_token_inside_the_process_only(tmp_path):
    """rasa_run.py with a stand-in `rasa` package: Rasa sees --auth-token in its
    sys.argv, while the process's real command line (what `ps` reads from
    /proc/<pid>/cmdline) never holds it, and the variable is gone for Rasa's own
    children."""
    fake = tmp_path / "rasa"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(textwrap.dedent("""
        import os, sys
        def main():
            cmdline = open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode()
            print(repr(sys.argv))
            print("CMDLINE", cmdline)
            print("ENV", os.environ.get("FRONTDOOR_RASA_TOKEN"))
    """))
    out = subprocess.run(
        [sys.executable, str(Path(rasa_run.__file__)), "run", "--enable-api"],
        env={"PYTHONPATH": str(tmp_path), "FRONTDOOR_RASA_TOKEN": RASA_TOKEN},
        capture_output=True, text=True, timeout=60, check=True).stdout
    argv_line, cmdline, env_line = out.splitlines()
    assert argv_line == repr(["rasa", "run", "--enable-api", "--auth-token", RASA_TOKEN])
    assert RASA_TOKEN not in cmdline and "run --enable-api" in cmdline
    assert env_line == "ENV None"


def test_the_rasa_launcher_refuses_a_missing_token_or_one_on_the_command_line():
    with pytest.raises(SystemExit, match="not set"):
        rasa_run.argv_with_token(["run"], {})
    with pytest.raises(SystemExit, match="not on the command line"):
        rasa_run.argv_with_token(["run", "--auth-token", "x"], {"FRONTDOOR_RASA_TOKEN": "y"})
