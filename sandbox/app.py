"""The sandbox server: one FastAPI app, one router per platform, and the
/sandbox page where a person can be a Telegram user, a Slack user and a phone."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.http = httpx.AsyncClient(timeout=30)
        try:
            yield
        finally:
            await app.state.http.aclose()

    app = FastAPI(title="Front Door platform sandboxes", lifespan=lifespan)
    from sandbox import page, slack, telegram, twilio

    app.include_router(page.router)
    app.include_router(telegram.router, prefix="/telegram", tags=["telegram"])
    app.include_router(slack.router, prefix="/slack", tags=["slack"])
    app.include_router(twilio.router, prefix="/twilio", tags=["twilio"])

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app
