"""Everything one gateway process is made of, built whole in the app factory
(`bot/app.py`) and handed to routes as typed dependencies.

Routes of the gateway's own parts depend on `services`; the handoff, knowledge
and staff routes declare the narrower protocol of what they need (e.g.
`handoff.api.HandoffServices`), which this object satisfies, so those packages
never import the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request, WebSocket
from jinja2 import Environment
from redis.asyncio import Redis

from bot.channels.base import ChannelAdapter
from bot.channels.web.limits import VisitorLimiter
from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.transcript import TranscriptStore
from bot.gateway.handoff_bridge import HandoffBridge
from bot.gateway.inbound import InboundStream
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import Router
from bot.infra.live import LiveHub
from core.settings import Settings
from core.webauth import StaffAuth
from handoff.service import HandoffService
from knowledge.editor.backend import EditorBackend
from knowledge.topics import SuggestedTopics


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: Redis
    rasa_redis: Redis  # where Rasa keeps trackers and locks: `redis` unless set apart
    http: httpx.AsyncClient
    rasa: RasaClient
    hub: LiveHub
    inbound: InboundStream
    channels: dict[str, ChannelAdapter]
    identities: IdentityStore
    transcripts: TranscriptStore
    languages: CustomerLanguages  # each customer's language (bot/customers/language.py)
    router: Router
    sessions: SessionSigner
    visitor_limits: VisitorLimiter  # per client address: sessions, connects, messages
    templates: Environment
    handoff: HandoffService
    gateway: HandoffBridge  # what the agent console needs of the gateway (handoff.ports)
    staff: StaffAuth
    kb_editor: EditorBackend
    topics: SuggestedTopics  # the web chat greeting's suggested topics


def services(request: Request) -> Services:
    return request.app.state.services


def services_ws(websocket: WebSocket) -> Services:
    return websocket.app.state.services
