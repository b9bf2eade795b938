"""A router built the way the app factory builds it (without the handoff side),
together with the stores it shares, so tests can look behind it."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.channels.base import ChannelAdapter
from bot.customers.identity import IdentityStore
from bot.customers.linking import LinkCodes
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from bot.customers.verified import VerifiedAttributes
from bot.gateway.outbox import Outbox
from bot.gateway.rasa_client import RasaClient
from bot.gateway.replies import ReplySender
from bot.gateway.router import NoHandoff, Router
from bot.infra.live import LiveHub
from core import language
from core.models import InboundMessage


@dataclass
class WiredRouter:
    router: Router
    identities: IdentityStore
    transcripts: TranscriptStore
    customers: Customers
    verified: VerifiedAttributes
    links: LinkCodes
    router_redis: Redis

    async def handle(self, stream_id: str, message: InboundMessage) -> None:
        """As the inbound stream worker runs it: what the router asks to be written
        with the acknowledgement is written (there is no stream entry to ack)."""
        ack_with = await self.router.handle(stream_id, message)
        if ack_with is not None:
            async with self.router_redis.pipeline(transaction=False) as pipe:
                ack_with(pipe)
                await pipe.execute()


def wired_router(redis: Redis, rasa: RasaClient, channels: dict[str, ChannelAdapter], *,
                 links: LinkCodes | None = None, backoff_s: float = 0.01,
                 backoff_max_s: float = 0.05, lease_ms: int = 15_000,
                 delay_notice_s: float = 5.0, typing_after_s: float = 0.4) -> WiredRouter:
    language.preload()  # as the app factory does: not inside a timed turn
    hub = LiveHub(redis)
    transcripts = TranscriptStore(redis)
    links = links or LinkCodes(redis)
    router = Router(redis, rasa, channels, hub, transcripts,
                    ReplySender(transcripts, Outbox(redis), hub), NoHandoff(), links=links,
                    backoff_s=backoff_s, backoff_max_s=backoff_max_s, lease_ms=lease_ms,
                    delay_notice_s=delay_notice_s, typing_after_s=typing_after_s)
    return WiredRouter(router, IdentityStore(redis), transcripts, Customers(redis),
                       VerifiedAttributes(redis), links, redis)
