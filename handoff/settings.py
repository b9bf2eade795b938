"""Settings of the handoff package, from FRONTDOOR_HANDOFF_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

HERE = Path(__file__).resolve().parent


class HandoffSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_HANDOFF_", extra="ignore")

    teams_file: Path = HERE / "teams.yml"  # teams, business hours, holidays, SLAs
    # Escalation triggers (DESIGN §3)
    fallbacks_before_escalation: int = Field(default=2, ge=1)  # unanswered knowledge turns in a row
    human_only_topics: list[str] = ["complaint", "cancellation"]  # article tags
    sentiment_escalation: bool = False
    sentiment_threshold: float = -0.6  # VADER compound score at or below which we escalate
    # Queue
    claim_timeout_s: float = 180  # a claimed ticket with no agent reply by then is re-queued
    default_capacity: int = Field(default=3, ge=1)  # concurrent conversations per agent
    presence_ttl_s: float = 90  # an "online" agent without a heartbeat this long is offline
    default_wait_s: float = 180  # expected wait when there is no history yet
    # Customer updates while waiting: on a meaningful change, at most this often
    position_update_interval_s: float = 60
    sms_position_update_interval_s: float = 600
    # After resolve
    sticky_agent_s: float = 600  # a customer writing again within this reaches the same agent
    csat: bool = True
    # Outbound webhooks for operators' own tools
    webhook_urls: list[str] = []
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = 8
