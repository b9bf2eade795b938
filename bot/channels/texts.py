"""The channels' own texts (keyword replies, "we can only read text", option
prompts, delay notices) in the customer's language, from the `channels`
catalogue (locale/<language>/LC_MESSAGES/channels.po).

The pure modules (parse.py, render.py) keep the English text, marked with N_
so the catalogue check finds it; the adapters translate it when they send,
once they know who they are talking to: the customer's language if the
channel identity belongs to a customer who has one, else the platform's hint
(Telegram's language_code, the browser's Accept-Language), else English.
"""

from __future__ import annotations

from babel import Locale
from redis.asyncio import Redis

from bot.customers.language import CustomerLanguages
from bot.customers.merge import Customers
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, supported, translator


def say(language: str | None, message: str, **values: object) -> str:
    """A channel text in `language`. A text that is not in the channels catalogue
    (e.g. the gateway's "message too long") is tried in the gateway's."""
    translated = translator("channels", language).gettext(message)
    if translated == message:
        translated = translator("gateway", language).gettext(message)
    return translated.format(**values) if values else translated


def from_accept_language(header: str | None) -> str | None:
    """The supported language a browser prefers most (Babel's negotiation over
    an Accept-Language header, q-values honoured), or None if none is."""
    if not header:
        return None
    preferred = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag.strip() and q > 0:
            preferred.append((q, tag.strip()))
    preferred.sort(key=lambda p: -p[0])  # stable: equal weights keep the browser's order
    found = Locale.negotiate([t for _, t in preferred], list(LANGUAGES), sep="-")
    return str(found.language) if found is not None else None


async def customer_language(redis: Redis, customer_id: str | None) -> str | None:
    """The language of a customer who has one on record (None otherwise)."""
    if customer_id is None:
        return None
    return await CustomerLanguages(redis).known(await Customers(redis).live(customer_id))


async def language_of(redis: Redis, channel: str, channel_user_id: str,
                      hint: str | None = None) -> str:
    """What to answer a channel identity in: its customer's language, else the
    platform's hint, else English."""
    known = await customer_language(redis, await Customers(redis).find(channel, channel_user_id))
    if known is not None:
        return known
    return supported(hint) if hint else DEFAULT_LANGUAGE
