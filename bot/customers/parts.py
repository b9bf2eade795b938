"""The one list of every part that keeps personal data (core/personal.py):
export and erasure (bot/customers/privacy.py) ask each of them. A part that
starts keeping customer data adds its PersonalData implementation here."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from bot.channels.slack.personal import SlackData
from bot.channels.sms.personal import SmsData
from bot.channels.telegram.personal import TelegramData
from bot.customers.personal import CustomerData
from bot.gateway.personal import GatewayData
from bot.rasa_store.store import RasaStore
from core.personal import PersonalData
from handoff.personal import HandoffData
from knowledge.personal import KnowledgeData

PERSONAL_DATA: tuple[Callable[[Redis], PersonalData], ...] = (
    GatewayData, TelegramData, SlackData, SmsData, HandoffData, KnowledgeData, RasaStore,
    CustomerData,  # last: the others may still look a customer up while they erase
)


def personal_data_parts(redis: Redis, rasa_redis: Redis | None = None) -> list[PersonalData]:
    """Every part on our Redis; Rasa's trackers on `rasa_redis` when Rasa keeps
    them in a Redis of its own (FRONTDOOR_RASA_REDIS_URL)."""
    return [part(rasa_redis or redis) if part is RasaStore else part(redis)
            for part in PERSONAL_DATA]
