"""The Twilio inbound webhook route: bounded body, signature verified before
the form is used, then enqueued and answered with empty TwiML.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from bot import BadInput
from bot.channels.sms.adapter import SmsChannel
from bot.channels.sms.parse import EMPTY_TWIML, INBOUND_PATH
from bot.gateway.services import Services, services

router = APIRouter()


log = logging.getLogger(__name__)


# -- the webhook route ----------------------------------------


@router.post(INBOUND_PATH, include_in_schema=False)
async def sms_inbound(request: Request, svc: Services = Depends(services)) -> Response:
    channel = svc.channels.get("sms")
    if not isinstance(channel, SmsChannel):
        raise HTTPException(404, "SMS is not enabled")
    params = await channel.verified_params(request)
    try:
        message = await channel.receive(params, svc.settings.max_message_chars)
    except BadInput as exc:
        raise HTTPException(400, exc.message) from exc
    if message is not None:
        await svc.inbound.append(message)
    # Replies go out through the REST API from the outbox, so the TwiML is empty.
    return Response(EMPTY_TWIML, media_type="text/xml")
