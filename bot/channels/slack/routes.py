"""The Slack events and interactivity route: bounded body, then slack-bolt's
signature check, before anything is parsed.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from bot.channels.slack.adapter import SlackChannel
from bot.channels.slack.parse import EVENTS_PATH
from bot.gateway.services import Services, services

router = APIRouter()


log = logging.getLogger(__name__)


# -- route ----------------------------------------



@router.post(EVENTS_PATH, include_in_schema=False)
async def slack_events(request: Request, svc: Services = Depends(services)) -> Response:
    """Events API and interactivity: one Request URL for both."""
    channel = svc.channels.get("slack")
    if not isinstance(channel, SlackChannel):
        raise HTTPException(404)
    return await channel.handle(request, svc.inbound)
