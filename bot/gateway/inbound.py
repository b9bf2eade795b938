"""The durable inbound stream: channel routes append and answer the platform at
once; the router worker consumes it."""

from __future__ import annotations

import re
import unicodedata

from redis.asyncio import Redis

from bot import BadInput
from bot.gateway.keys import GATEWAY_KEYS, GatewayKeys
from core.models import InboundMessage

# C0/C1 control characters other than newline and tab, plus bidi overrides
# that can make an agent read a message backwards.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, max_chars: int) -> str:
    """Normalise customer text, or raise BadInput with a code the channel can explain."""
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text)).strip()
    if not text:
        raise BadInput("empty", "Your message was empty.")
    if len(text) > max_chars:
        raise BadInput("too_long", f"Your message is too long; please keep it under "
                                   f"{max_chars} characters.")
    return text


class InboundStream:
    def __init__(self, redis: Redis, keys: GatewayKeys = GATEWAY_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def append(self, message: InboundMessage) -> str:
        stream_id = await self._redis.xadd(
            self._keys.inbound_stream,
            {"channel": message.channel, "channel_user_id": message.channel_user_id,
             "m": message.model_dump_json()},
            maxlen=100_000,
            approximate=True,
        )
        return stream_id
