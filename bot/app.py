"""The gateway's FastAPI app factory: `uvicorn bot.app:create_app --factory`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.channels.base import ChannelAdapter
from bot.channels.web import routes as webchat_routes
from bot.channels.web.adapter import WebChatChannel
from bot.channels.web.session import SessionSigner
from bot.customers import api as customers_api
from bot.gateway.handoff_bridge import HandoffBridge
from bot.gateway.inbound import InboundStream
from bot.gateway.outbox import OutboxSender
from bot.gateway.rasa_client import RasaClient
from bot.gateway.responses import Health
from bot.gateway.router import Router
from bot.gateway.services import Services
from bot.infra import metrics
from bot.infra.live import LiveHub
from bot.infra.streams import StreamWorker
from bot.rendering.previews import PREVIEWS
from core import webauth
from core.keys import KEYS
from core.models import InboundMessage
from core.settings import Settings, get_settings
from handoff import api as handoff_api
from handoff.reports import report
from handoff.service import HandoffService
from handoff.webhooks import WebhookSender
from knowledge.editor import api as editor_api
from knowledge.editor import page as editor_page
from knowledge.editor import tools_api as editor_tools_api
from knowledge.editor.backend import EditorBackend
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)
TEMPLATES = webchat_routes.STATIC.parent / "templates"


def build_channels(settings: Settings, hub: LiveHub, redis: Redis) -> dict[str, ChannelAdapter]:
    """Channels are registered explicitly: web chat always, the others when their
    credentials are set."""
    channels: dict[str, ChannelAdapter] = {"web": WebChatChannel(hub)}
    if settings.telegram_enabled:
        from bot.channels.telegram.adapter import TelegramChannel

        channels["telegram"] = TelegramChannel(settings, redis)
    if settings.slack_enabled:
        from bot.channels.slack.adapter import SlackChannel

        channels["slack"] = SlackChannel(settings, redis)
    if settings.sms_enabled:
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
    return StreamWorker(redis, KEYS.webhook_stream, "webhooks", sender.deliver,
                        key_of=lambda f: f.get("ref", ""), concurrency=16,
                        reclaim_idle_ms=settings.reclaim_idle_ms, dead_letter=KEYS.webhook_dead)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = Redis.from_url(settings.effective_redis_url, max_connections=512)
        http = httpx.AsyncClient(
            timeout=settings.rasa_timeout_s,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )
        hub = LiveHub(redis)
        await hub.start()
        channels = build_channels(settings, hub, redis)
        rasa = RasaClient(http, settings.rasa_url, settings.actions_url,
                          settings.rasa_token.get_secret_value())
        router = Router(redis, rasa, channels, hub, backoff_s=settings.retry_backoff_s,
                        backoff_max_s=settings.retry_backoff_max_s)

        async def route(entry_id: str, fields: dict) -> None:
            await router.handle(entry_id, InboundMessage.model_validate_json(fields["m"]))

        inbound_worker = StreamWorker(
            redis, KEYS.inbound_stream, "router", route,
            key_of=lambda f: (f["channel"], f["channel_user_id"]),
            concurrency=settings.worker_concurrency,
            reclaim_idle_ms=settings.reclaim_idle_ms,
            dead_letter=KEYS.inbound_dead,
        )
        router.keep_alive = inbound_worker.keep_alive
        sender = OutboxSender(
            redis, channels, concurrency=settings.worker_concurrency,
            reclaim_idle_ms=settings.reclaim_idle_ms, max_attempts=settings.outbox_max_attempts,
            backoff_s=settings.retry_backoff_s, backoff_max_s=settings.retry_backoff_max_s,
        )
        app.state.services = Services(
            settings=settings, redis=redis, http=http, rasa=rasa, hub=hub, router=router,
            inbound=InboundStream(redis),
            channels=channels,
            sessions=SessionSigner(settings.session_secret.get_secret_value(),
                                   settings.session_max_age_days * 86400),
            templates=Environment(loader=FileSystemLoader(TEMPLATES),
                                  autoescape=select_autoescape(["html"])),
        )
        handoff_service = HandoffService(redis)
        bridge = HandoffBridge(redis, router, hub, rasa, handoff_service)
        router.handoff = bridge
        app.state.handoff = handoff_service
        app.state.gateway = bridge
        app.state.staff = webauth.StaffAuth(
            redis, settings.staff_secret.get_secret_value(),
            secure_cookies=settings.base_url.startswith("https://"))
        # The knowledge editor: its own KnowledgeService (made on first use) follows
        # the store's revision, and the channel previews come from the bot's renderers.
        app.state.kb_editor = EditorBackend(redis, KnowledgeSettings(), PREVIEWS)
        await inbound_worker.start()
        await sender.worker.start()
        await bridge.start()
        webhook_worker = webhook_stream_worker(redis, http, handoff_service, settings)
        if webhook_worker is not None:
            await webhook_worker.start()
        log.info("front door gateway ready on %s", settings.base_url)
        try:
            yield
        finally:
            await bridge.stop()
            if webhook_worker is not None:
                await webhook_worker.stop()
            await inbound_worker.stop()
            await sender.worker.stop()
            for channel in channels.values():
                close = getattr(channel, "close", None)
                if close is not None:
                    await close()
            await hub.stop()
            await http.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Front Door",
        description="Chatbot-first conversational front door with human handoff.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(webchat_routes.router)
    app.include_router(webauth.router)
    app.include_router(handoff_api.router)
    app.include_router(customers_api.router)
    for kb_router in (editor_api.router, editor_tools_api.router, editor_page.router):
        app.include_router(kb_router)
    # Webhook routes answer 404 while their channel has no credentials.
    from bot.channels.slack import routes as slack
    from bot.channels.sms import routes as sms
    from bot.channels.telegram import routes as telegram

    for channel_module in (telegram, slack, sms):
        app.include_router(channel_module.router, tags=["channels"])

    @app.get("/healthz", tags=["operations"], response_model=Health,
             responses={503: {"model": Health}})
    async def healthz(request: Request) -> JSONResponse:
        """Redis is required; Rasa or the action server being down is 'degraded'
        (messages wait and are answered when they are back)."""
        svc: Services = request.app.state.services
        try:
            redis_ok = bool(await svc.redis.ping())
        except (RedisError, OSError):
            redis_ok = False
        rasa_ok = await svc.rasa.healthy()
        actions_ok = await svc.rasa.actions_healthy()
        status = "ok" if redis_ok and rasa_ok and actions_ok else (
            "degraded" if redis_ok else "down")
        return JSONResponse(
            {"status": status, "redis": redis_ok, "rasa": rasa_ok, "actions": actions_ok},
            status_code=200 if redis_ok else 503,
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=True,
             response_class=PlainTextResponse)  # Prometheus' text format
    async def prometheus_metrics(request: Request) -> Response:
        handoff: HandoffService = request.app.state.handoff
        waiting = {team: len(await handoff.queue.waiting(team)) for team in handoff.teams.teams}
        metrics.set_handoff_gauges(
            await report(handoff.redis, days=metrics.REPORT_WINDOW_DAYS), waiting)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
