"""The Telegram webhook route (the secret-token header is verified before the
body is read; the update is enqueued and answered at once), webhook
registration, and long polling for development without a public URL.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram.exceptions import (
    TelegramRetryAfter,
)
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from redis.asyncio import Redis

from bot import BadInput
from bot.channels.telegram.adapter import TelegramChannel, make_bot
from bot.channels.telegram.parse import (
    ALLOWED_UPDATES,
    MAX_UPDATE_BYTES,
    SECRET_HEADER,
    WEBHOOK_PATH,
    parse_update,
)
from bot.gateway.inbound import InboundStream
from bot.gateway.services import Services, services
from core.bodies import read_bounded
from core.settings import Settings

router = APIRouter()


log = logging.getLogger(__name__)


# -- webhook route ----------------------------------------


class WebhookAck(BaseModel):
    ok: bool  # Telegram only looks at the status code



@router.post(WEBHOOK_PATH, tags=["telegram"], response_model=WebhookAck)
async def telegram_webhook(request: Request, svc: Services = Depends(services)) -> dict:
    channel = svc.channels.get("telegram")
    if not isinstance(channel, TelegramChannel):
        raise HTTPException(404, "The Telegram channel is not enabled.")
    # Authenticity first: nothing of the body is read for a forged request.
    if not channel.verify(request.headers.get(SECRET_HEADER)):
        raise HTTPException(403, "Missing or wrong secret token.")
    # Telegram always sends Content-Length: 411 without it, 413 over the limit,
    # and the read itself stops at the limit (a chunked body included).
    body = await read_bounded(request, MAX_UPDATE_BYTES)
    try:
        update = parse_update(body)
    except BadInput as exc:
        raise HTTPException(400, exc.message) from None
    await channel.process(update, svc.inbound)
    return {"ok": True}


# -- operations: webhook registration and long polling ----------------------------------------



async def set_webhook(settings: Settings, url: str) -> None:
    """Point Telegram at our webhook (`frontdoor telegram set-webhook URL`)."""
    if settings.channels.telegram_webhook_secret is None:
        raise ValueError("Telegram is not configured (FRONTDOOR_TELEGRAM_WEBHOOK_SECRET)")
    bot = make_bot(settings)
    try:
        secret = settings.channels.telegram_webhook_secret.get_secret_value()
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    finally:
        await bot.session.close()


async def poll_forever(settings: Settings, inbound: InboundStream, redis: Redis,
                       *, poll_timeout: int = 25) -> None:
    """Development without a public URL: delete the webhook and long-poll
    getUpdates, feeding every update through the same path as the webhook. An
    update is confirmed (offset moves past it) only once it is enqueued."""
    channel = TelegramChannel(settings, redis)
    offset: int | None = None
    webhook_deleted = False
    backoff = 1.0
    try:
        while True:
            try:
                if not webhook_deleted:  # getUpdates is refused while a webhook is set
                    await channel.bot.delete_webhook(drop_pending_updates=False)
                    webhook_deleted = True
                updates = await channel.bot.get_updates(
                    offset=offset, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES,
                    request_timeout=poll_timeout + 10)
                for update in updates:
                    await channel.process(update, inbound)
                    offset = update.update_id + 1
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
            except Exception as exc:  # noqa: BLE001 - keep polling through outages
                log.warning("telegram polling failed (%s); retrying in %.0fs",
                            channel.scrub(exc), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        await channel.close()
