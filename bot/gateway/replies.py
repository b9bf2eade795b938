"""The sending half of a conversation: every message to a customer (the bot's,
an agent's, a system notice) is logged to the customer's transcript, queued on
the durable outbox for their channel, and shown live to an agent watching the
conversation. The router and the handoff bridge both send through this one
object, so neither depends on the other."""

from __future__ import annotations

from typing import cast

from bot.channels.base import Recipient
from bot.customers.transcript import TranscriptStore
from bot.gateway.outbox import Outbox
from bot.infra import metrics
from bot.infra.live import LiveHub
from core.models import Channel, OutboundMessage, TranscriptEntry


class ReplySender:
    def __init__(self, transcripts: TranscriptStore, outbox: Outbox, hub: LiveHub) -> None:
        self._transcripts = transcripts
        self._outbox = outbox
        self._hub = hub

    async def send(self, channel: str, recipient: Recipient, message: OutboundMessage
                   ) -> TranscriptEntry:
        """Log a reply to the transcript, hand it to the outbox, show it live."""
        entry = await self._transcripts.append(
            recipient.customer_id,
            # a channel name as the router and outbox carry it; pydantic validates it
            TranscriptEntry(channel=cast(Channel, channel), author=message.author,
                            text=message.text, buttons=message.buttons,
                            article=message.article, decision=message.decision),
        )
        if self._hub.publishes_in_pipelines:
            async with self._outbox.pipeline() as pipe:  # one round trip for both
                self._outbox.enqueue_in(pipe, channel, recipient, entry)
                self._hub.publish_log_in(pipe, recipient.customer_id, entry)
                await pipe.execute()
        else:
            await self._outbox.enqueue(channel, recipient, entry)
            await self._hub.publish_log(recipient.customer_id, entry)
        if message.decision:
            metrics.KNOWLEDGE_DECISIONS.labels(decision=message.decision).inc()
        return entry
