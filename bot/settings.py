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
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def get_settings() -> Settings:
    return Settings()
