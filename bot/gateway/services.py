"""The clients and services of one gateway process, made in the app lifespan and
handed to routes as dependencies."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request, WebSocket
from jinja2 import Environment
from redis.asyncio import Redis

from bot.channels.base import ChannelAdapter
from bot.channels.web.session import SessionSigner
from bot.gateway.inbound import InboundStream
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import Router
from bot.infra.live import LiveHub
from core.settings import Settings


@dataclass
class Services:
    settings: Settings
    redis: Redis
    http: httpx.AsyncClient
    rasa: RasaClient
    hub: LiveHub
    router: Router
    inbound: InboundStream
    channels: dict[str, ChannelAdapter]
    sessions: SessionSigner
    templates: Environment


def services(request: Request) -> Services:
    return request.app.state.services


def services_ws(websocket: WebSocket) -> Services:
    return websocket.app.state.services
