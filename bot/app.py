"""The gateway's FastAPI app factory: `uvicorn bot.app:create_app --factory`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.channels.base import ChannelAdapter
from bot.channels.web import routes as webchat_routes
from bot.channels.web.adapter import WebChatChannel
from bot.channels.web.limits import VisitorLimiter, VisitorLimits
from bot.channels.web.session import SessionSigner
from bot.customers import api as customers_api
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.transcript import TranscriptStore
from bot.gateway import operations
from bot.gateway.handoff_bridge import HandoffBridge
from bot.gateway.inbound import InboundStream
from bot.gateway.keys import GATEWAY_KEYS
from bot.gateway.outbox import Outbox, OutboxSender
from bot.gateway.rasa_client import RasaClient, rasa_http_client
from bot.gateway.replies import ReplySender
from bot.gateway.responses import Health
from bot.gateway.router import Router
from bot.gateway.services import Services, services
from bot.infra.children import DOWN_STATES, read_status
from bot.infra.live import LiveHub
from bot.infra.streams import AckWith, KeepAlive, StreamWorker
from bot.rasa_store.sessions import RasaSessions, SessionRule
from bot.rendering.previews import PREVIEWS
from core import language, webauth
from core.models import InboundMessage
from core.redis import text_client
from core.settings import Settings, get_settings
from core.signin import SignInLimits
from handoff import api as handoff_api
from handoff.service import HandoffService
from handoff.webhooks import WebhookSender
from knowledge.editor import api as editor_api
from knowledge.editor import page as editor_page
from knowledge.editor import tools_api as editor_tools_api
from knowledge.editor import topics_api as editor_topics_api
from knowledge.editor.backend import EditorBackend
from knowledge.store import ArticleStore
from knowledge.topics import SuggestedTopics

log = logging.getLogger(__name__)
TEMPLATES = webchat_routes.STATIC.parent / "templates"


def build_channels(settings: Settings, hub: LiveHub, redis: Redis) -> dict[str, ChannelAdapter]:
    """Channels are registered explicitly: web chat always, the others when their
    credentials are set."""
    channels: dict[str, ChannelAdapter] = {"web": WebChatChannel(hub)}
    if settings.channels.telegram_enabled:
        from bot.channels.telegram.adapter import TelegramChannel

        channels["telegram"] = TelegramChannel(settings, redis)
    if settings.channels.slack_enabled:
        from bot.channels.slack.adapter import SlackChannel

        channels["slack"] = SlackChannel(settings, redis)
    if settings.channels.sms_enabled:
        from bot.channels.sms.adapter import SmsChannel

        channels["sms"] = SmsChannel(settings, redis)
    return channels


def webhook_stream_worker(redis: Redis, http: httpx.AsyncClient, handoff: HandoffService,
                          settings: Settings) -> StreamWorker | None:
    """Signed ticket-event webhooks, when URLs and a secret are configured."""
    hs = handoff.settings
    if not hs.webhook_urls or hs.webhook_secret is None:
        return None
    sender = WebhookSender(redis, http, hs.webhook_urls, hs.webhook_secret.get_secret_value(),
                           max_attempts=hs.webhook_max_attempts,
                           backoff_s=settings.retry_backoff_s,
                           backoff_max_s=settings.retry_backoff_max_s)
    return StreamWorker(redis, sender.stream, "webhooks", sender.deliver,
                        key_of=lambda f: f.get("ref", ""), concurrency=16,
                        reclaim_idle_ms=settings.reclaim_idle_ms, dead_letter=sender.dead_letter)


@contextlib.asynccontextmanager
async def gateway_services(settings: Settings) -> AsyncIterator[Services]:
    """Build every object of one gateway process, whole, in dependency order, and
    start its background work. Whatever was started is stopped again, in reverse
    order, when the block ends or when a later step fails to start."""
    async with contextlib.AsyncExitStack() as running:
        redis = text_client(settings.effective_redis_url, max_connections=512)
        running.push_async_callback(redis.aclose)
        rasa_redis = redis  # Rasa's trackers and locks, unless in a Redis of their own
        if settings.rasa_redis_url is not None:
            rasa_redis = text_client(settings.rasa_redis_url)
            running.push_async_callback(rasa_redis.aclose)
        http = rasa_http_client(settings.rasa_timeout_s)
        running.push_async_callback(http.aclose)
        hub = LiveHub(redis)
        await hub.start()
        running.push_async_callback(hub.stop)
        channels = build_channels(settings, hub, redis)
        for channel in channels.values():
            running.push_async_callback(channel.close)
        sessions = RasaSessions(rasa_redis, SessionRule(
            idle_s=settings.rasa_session_idle_s,
            max_tracker_bytes=settings.rasa_session_max_kb * 1024))
        rasa = RasaClient(http, settings.rasa_replicas, settings.actions_url,
                          settings.rasa_token.get_secret_value(), sessions=sessions)
        transcripts = TranscriptStore(redis)
        replies = ReplySender(transcripts, Outbox(redis), hub)
        handoff = HandoffService(redis, settings.handoff)
        articles = ArticleStore(redis, seed_folder=settings.knowledge.articles_dir)
        bridge = HandoffBridge(redis, replies, transcripts, hub, rasa, handoff, articles)
        # The language detector's models load once, here, not on a customer's message.
        await asyncio.to_thread(language.preload)
        router = Router(redis, rasa, channels, hub, transcripts, replies, bridge,
                        backoff_s=settings.retry_backoff_s,
                        backoff_max_s=settings.retry_backoff_max_s,
                        lease_ms=settings.reclaim_idle_ms, rasa_redis=rasa_redis)

        async def route(entry_id: str, fields: dict, keep_alive: KeepAlive) -> AckWith | None:
            return await router.handle(
                entry_id, InboundMessage.model_validate_json(fields["m"]), keep_alive)

        # One consumer name per process slot (host and port): a restarted gateway
        # resumes its own pending messages and replies at once.
        slot = f"{socket.gethostname()}-{settings.port}"
        workers = [
            StreamWorker(redis, GATEWAY_KEYS.inbound_stream, "router", route,
                         key_of=lambda f: (f["channel"], f["channel_user_id"]),
                         concurrency=settings.worker_concurrency,
                         reclaim_idle_ms=settings.reclaim_idle_ms,
                         dead_letter=GATEWAY_KEYS.inbound_dead, consumer=slot, ordered=True),
            OutboxSender(redis, channels, concurrency=settings.worker_concurrency,
                         reclaim_idle_ms=settings.reclaim_idle_ms,
                         max_attempts=settings.outbox_max_attempts,
                         backoff_s=settings.retry_backoff_s,
                         backoff_max_s=settings.retry_backoff_max_s, consumer=slot).worker,
            webhook_stream_worker(redis, http, handoff, settings),
        ]
        for worker in workers:
            if worker is not None:
                await worker.start()
                running.push_async_callback(worker.stop)
        await bridge.start()
        running.push_async_callback(bridge.stop)
        staff = webauth.StaffAuth(redis, settings.staff_secret.get_secret_value(),
                                  secure_cookies=settings.base_url.startswith("https://"),
                                  limits=SignInLimits.from_settings(settings),
                                  hash_threads=settings.staff_hash_threads)
        running.callback(staff.close)
        yield Services(
            settings=settings, redis=redis, rasa_redis=rasa_redis, http=http, rasa=rasa, hub=hub,
            inbound=InboundStream(redis), channels=channels,
            identities=IdentityStore(redis), transcripts=transcripts,
            languages=CustomerLanguages(redis), router=router,
            sessions=SessionSigner(settings.session_secret.get_secret_value(),
                                   settings.session_max_age_days * 86400),
            visitor_limits=VisitorLimiter(redis, VisitorLimits.from_settings(settings)),
            templates=Environment(loader=FileSystemLoader(TEMPLATES),
                                  autoescape=select_autoescape(["html"])),
            handoff=handoff, gateway=bridge,
            staff=staff,
            # The knowledge editor: its own KnowledgeService (made on first use) follows
            # the store's revision; the channel previews come from the bot's renderers.
            kb_editor=EditorBackend(redis, settings.knowledge, PREVIEWS),
            topics=SuggestedTopics(redis, articles),  # the web chat greeting's
        )


def configure_logging() -> None:
    """Timestamped lines with level and logger for the gateway's own logs (uvicorn
    configures only its own loggers; without this, only bare warnings reach the
    log and nothing can be matched to a moment). A host that configured logging
    already (a test runner, an embedding app) keeps its own."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        for chatty in ("httpx", "httpcore", "aiogram.event", "twilio"):  # lines per request
            logging.getLogger(chatty).setLevel(logging.WARNING)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway_services(settings) as built:
            app.state.services = built
            log.info("front door gateway ready on %s", settings.base_url)
            yield

    app = FastAPI(
        title="Front Door",
        description="Chatbot-first conversational front door with human handoff.",
        version="0.1.0",
        lifespan=lifespan,
        # The API documentation is for admins: served by bot/gateway/operations.py.
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.include_router(operations.router)
    app.include_router(webchat_routes.router)
    app.include_router(webauth.router)
    app.include_router(handoff_api.router)
    app.include_router(customers_api.router)
    for kb_router in (editor_api.router, editor_tools_api.router, editor_page.router):
        app.include_router(kb_router)
    app.include_router(editor_topics_api.router)  # the web chat greeting's topics
    # Webhook routes answer 404 while their channel has no credentials.
    from bot.channels.slack import routes as slack
    from bot.channels.sms import routes as sms
    from bot.channels.telegram import routes as telegram

    for channel_module in (telegram, slack, sms):
        app.include_router(channel_module.router, tags=["channels"])

    redis_seen_ok = [True]  # the last health check's answer: log only the changes

    @app.get("/healthz", tags=["operations"], response_model=Health,
             responses={503: {"model": Health}})
    async def healthz(request: Request) -> JSONResponse:
        """Redis is required; Rasa or the action server being down is 'degraded'
        (messages wait and are answered when they are back), and so is, under
        `frontdoor up`, a process restarting or given up on (`children`)."""
        svc = services(request)
        try:
            redis_ok = bool(await svc.redis.ping())
        except (RedisError, OSError) as error:  # e.g. MasterNotFoundError from Sentinel
            redis_ok = False
            if redis_seen_ok[0]:
                log.warning("health check: Redis unreachable: %s", error)
        if redis_ok and not redis_seen_ok[0]:
            log.info("health check: Redis reachable")
        redis_seen_ok[0] = redis_ok
        rasa_ok = await svc.rasa.healthy()
        actions_ok = await svc.rasa.actions_healthy()
        children = read_status(svc.settings.supervisor_state)  # None: no supervisor
        children_ok = not any(c.state in DOWN_STATES for c in children or ())
        status = "ok" if redis_ok and rasa_ok and actions_ok and children_ok else (
            "degraded" if redis_ok else "down")
        body: dict = {"status": status, "redis": redis_ok, "rasa": rasa_ok, "actions": actions_ok}
        if children is not None:
            body["children"] = [c.model_dump() for c in children]
        return JSONResponse(body, status_code=200 if redis_ok else 503)

    return app
