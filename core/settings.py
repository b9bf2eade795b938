"""Settings of the gateway and the launcher, from FRONTDOOR_* environment variables.

Built by `get_settings()` (or passed in by tests), never at import time."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    # Where things run. Unset redis_url: the launcher starts a local Redis.
    redis_url: str | None = None
    redis_port: int = 6379
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_port: int = 5005
    # Token for Rasa's HTTP API (enabled on 127.0.0.1 so the gateway can tell a
    # tracker that an agent resolved the conversation).
    rasa_token: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    actions_port: int = 5055
    public_url: str | None = None  # external base URL; defaults to http://host:port
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"

    # Web chat
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    session_max_age_days: int = 30
    allowed_origins: list[str] = Field(default_factory=list)  # empty: same host only
    max_message_chars: int = 2000
    max_frame_bytes: int = 16_384
    history_limit: int = 500
    rate_limit_per_10s: int = 20  # messages one web chat connection may send in 10 seconds

    # Staff (agents, editors, admins) sign-in cookies; set it when running more
    # than one gateway so a session works on every replica.
    staff_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))

    # Channels: each is enabled when its credentials are set. The *_api_base
    # settings point the platform clients at the local sandboxes in the demo and
    # the tests; in production they keep the platforms' real addresses.
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_base: str = "https://slack.com/api/"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    sandboxes: bool = False  # run the local platform sandboxes and talk to them
    sandbox_port: int = 8001

    # Router and workers
    rasa_timeout_s: float = 30.0
    worker_concurrency: int = 64
    retry_backoff_s: float = 1.0
    retry_backoff_max_s: float = 15.0
    outbox_max_attempts: int = 8
    reclaim_idle_ms: int = 30_000  # pending entries of a dead worker are taken over after this

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and self.telegram_webhook_secret is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def sms_enabled(self) -> bool:
        return None not in (self.twilio_account_sid, self.twilio_auth_token,
                            self.twilio_from_number)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def with_sandboxes(settings: Settings) -> Settings:
    """The settings with every channel enabled against the local sandboxes, for
    the demo and the tests. Credentials already set are kept."""
    base = f"http://127.0.0.1:{settings.sandbox_port}"
    fill = {
        "sandboxes": True,
        "telegram_bot_token": SecretStr("123456789:SANDBOX-telegram-bot-token"),
        "telegram_webhook_secret": SecretStr(secrets.token_urlsafe(24)),
        "telegram_api_base": f"{base}/telegram",
        "slack_bot_token": SecretStr("xoxb-sandbox-bot-token"),
        "slack_signing_secret": SecretStr(secrets.token_hex(16)),
        "slack_api_base": f"{base}/slack/api/",
        "twilio_account_sid": "AC" + secrets.token_hex(16),
        "twilio_auth_token": SecretStr(secrets.token_hex(16)),
        "twilio_from_number": "+15005550006",
        "twilio_api_base": f"{base}/twilio",
    }
    return settings.model_copy(
        update={k: v for k, v in fill.items() if k not in settings.model_fields_set})


def get_settings() -> Settings:
    return Settings()
