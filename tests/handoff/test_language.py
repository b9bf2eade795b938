"""The customer's language on the agent's side: on the ticket, in the queue and
the conversation, and canned answers in it first."""

import pytest

from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from core.settings import HandoffSettings
from handoff.service import HandoffService
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, _app):
        yield settings.base_url, redis


async def escalated(redis, visitor: str, language: str | None) -> tuple[str, str]:
    identities = IdentityStore(redis)
    customer_id = await identities.resolve("web", visitor, "Dana")
    await identities.touch(customer_id, "web", visitor)
    await CustomerLanguages(redis).detected(customer_id, "de", words=4)
    ticket, _ = await HandoffService(redis, HandoffSettings()).escalate(
        customer_id, "web", "asked_for_human", display_name="Dana", language=language)
    return customer_id, ticket.ref


async def test_a_ticket_carries_the_customers_language_into_the_queue_and_the_detail(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    _, german = await escalated(redis, "w-de", "de")
    _, unsaid = await escalated(redis, "w-old", None)  # opened without: looked up
    ada = await signed_in_client(base, "ada")
    try:
        queued = {t["ref"]: t["language"] for t in
                  (await ada.get("/api/agent/queue")).json()["queued"]}
        assert queued == {german: "de", unsaid: "de"}
        detail = (await ada.get(f"/api/agent/tickets/{german}")).json()
        assert detail["ticket"]["language"] == "de"
        assert (detail["customer"]["language"], detail["customer"]["language_source"]) == (
            "de", "detected")
    finally:
        await ada.aclose()


