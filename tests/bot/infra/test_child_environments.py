"""Each process the supervisor starts gets only the settings it needs: no
channel secret reaches Rasa or the action server, the sandbox gets only the
channel credentials it plays the platforms with, and neither the Rasa token
nor the action server's token is ever on a command line (`ps` shows every
user's argv) or in a file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from bot.infra import processes, rasa_run, supervisor
from core.settings import Settings, with_sandboxes

RASA_TOKEN = "rasa-token-0123456789abcdef"
ACTIONS_TOKEN = "actions-token-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789"
HOOK_SECRET = "hook-secret-0123456789"


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    base = with_sandboxes(Settings(var_dir=tmp_path, rasa_token=SecretStr(RASA_TOKEN),
                                   actions_token=SecretStr(ACTIONS_TOKEN),
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
        "rasa": RASA_TOKEN, "actions": ACTIONS_TOKEN, "metrics": METRICS_TOKEN,
        "webhook": HOOK_SECRET,
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


def test_rasa_gets_its_api_token_the_action_servers_and_redis_password_and_nothing_else(
        settings):
    env = supervisor.rasa_env(settings)
    assert holding(env, settings) == {"rasa", "actions"}
    assert sorted(k for k in env if k.startswith("FRONTDOOR_")) == [
        "FRONTDOOR_ACTIONS_TOKEN", "FRONTDOOR_RASA_REDIS_PASSWORD", "FRONTDOOR_RASA_TOKEN"]
    assert env["FRONTDOOR_RASA_REDIS_PASSWORD"] == "pw"  # endpoints.yml says ${...}


def test_rasas_conversation_locks_last_no_longer_than_a_turn_may_take(settings):
    # a lock left behind by a crash (Redis restarted mid-turn) freezes its
    # conversation for this long at most, not Rasa's default minute
    env = supervisor.rasa_env(settings.model_copy(update={"rasa_timeout_s": 7.5}))
    assert env["TICKET_LOCK_LIFETIME"] == "8"  # the gateway's Rasa timeout, not a minute


def test_rasas_endpoints_name_the_action_servers_token_without_holding_it(settings):
    """Rasa fills ${FRONTDOOR_ACTIONS_TOKEN} from its environment when it reads
    the file (rasa/shared/utils/io.py); it sends it as the `token` parameter."""
    path = supervisor.write_rasa_endpoints(settings)
    assert ACTIONS_TOKEN not in path.read_text()
    endpoint = yaml.safe_load(path.read_text())["action_endpoint"]
    assert endpoint == {"url": f"{settings.actions_url}/webhook",
                        "token": "${FRONTDOOR_ACTIONS_TOKEN}",
                        "enable_selective_domain": True}  # no domain with each call
    assert "token: ${FRONTDOOR_ACTIONS_TOKEN}\n" in path.read_text()  # plain: Rasa expands it


def test_the_action_server_gets_its_token_redis_handoff_and_knowledge_and_no_other_secret(
        settings):
    env = supervisor.actions_env(settings)
    assert holding(env, settings) == {"actions"}
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
            assert child.actions_token == settings.actions_token
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
    """rasa_run.py with a stand-in `rasa` package and patch module: the patches
    are applied first; Rasa sees --auth-token in its sys.argv, while the
    process's real command line (what `ps` reads from /proc/<pid>/cmdline) never
    holds it, and the variable is gone for Rasa's own children."""
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
    (tmp_path / "frontdoor_rasa_patches.py").write_text("def apply():\n    print('PATCHED')\n")
    out = subprocess.run(
        [sys.executable, str(Path(rasa_run.__file__)), "run", "--enable-api"],
        env={"PYTHONPATH": str(tmp_path), "FRONTDOOR_RASA_TOKEN": RASA_TOKEN},
        capture_output=True, text=True, timeout=60, check=True).stdout
    patched, argv_line, cmdline, env_line = out.splitlines()
    assert patched == "PATCHED"  # our repairs are in before Rasa starts
    assert argv_line == repr(["rasa", "run", "--enable-api", f"--auth-token={RASA_TOKEN}"])
    assert RASA_TOKEN not in cmdline and "run --enable-api" in cmdline
    assert env_line == "ENV None"


@pytest.mark.stack  # runs Rasa's own parser in .venv-rasa
def test_rasas_own_parser_reads_a_token_that_starts_with_a_dash():
    """secrets.token_urlsafe starts with "-" one time in 64; as a separate argument
    Rasa's parser took it for an option and `rasa run` would not start."""
    argv = rasa_run.argv_with_token(["run", "--enable-api"], {"FRONTDOOR_RASA_TOKEN": "-Zx9_tok"})
    parsed = subprocess.run(
        [str(processes.RASA_PYTHON), "-c", "import sys\n"
         "from rasa.__main__ import create_argument_parser\n"
         "print(create_argument_parser().parse_args(sys.argv[1:]).auth_token)", *argv[1:]],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert parsed.strip().splitlines()[-1] == "-Zx9_tok"


def test_the_rasa_launcher_refuses_a_missing_token_or_one_on_the_command_line():
    with pytest.raises(SystemExit, match="not set"):
        rasa_run.argv_with_token(["run"], {})
    with pytest.raises(SystemExit, match="not on the command line"):
        rasa_run.argv_with_token(["run", "--auth-token", "x"], {"FRONTDOOR_RASA_TOKEN": "y"})


def test_up_starts_each_process_the_way_frontdoor_run_does(settings, monkeypatch):
    """One definition of each command line (bot/infra/processes.py)."""
    monkeypatch.setattr(supervisor, "current_model", lambda s: Path("/models/m.tar.gz"))
    children = {c.name: c for wave in supervisor.plan(settings) for c in wave}
    endpoints = supervisor.write_rasa_endpoints(settings)
    assert children["rasa"].argv == processes.rasa_argv(
        Path("/models/m.tar.gz"), endpoints, "127.0.0.1", settings.rasa_port)
    assert children["actions"].argv == processes.actions_argv("127.0.0.1", settings.actions_port)
    assert children["gateway"].argv == processes.gateway_argv(settings, settings.host,
                                                              settings.port)
    assert children["sandbox"].argv == processes.sandbox_argv("127.0.0.1", settings.sandbox_port)


def test_up_starts_no_rasa_or_action_server_of_its_own_where_their_urls_are_given(settings):
    elsewhere = settings.model_copy(update={
        "rasa_urls": ["http://rasa-1:5005", "http://rasa-2:5005"],
        "action_server_url": "http://actions:5055"})
    children = {c.name: c for wave in supervisor.plan(elsewhere) for c in wave}
    assert set(children) == {"gateway", "sandbox"}
    env = children["gateway"].env
    assert env["FRONTDOOR_RASA_URLS"] == '["http://rasa-1:5005", "http://rasa-2:5005"]'
    assert env["FRONTDOOR_ACTION_SERVER_URL"] == "http://actions:5055"
