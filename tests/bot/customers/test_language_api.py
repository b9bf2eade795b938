"""An agent sets a customer's language through the customer API (CSRF-guarded,
audited); the profile, transcript and export show it."""

import pytest

from bot.customers.language import CustomerLanguages
from core.audit import AUDIT_KEYS
from core.models import TranscriptEntry
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, app):
        yield settings.base_url, redis, app


async def test_an_agent_sets_the_customers_language_and_it_is_audited(gateway):
    base, redis, app = gateway
    await make_staff(redis, "ada", "agent")
    await make_staff(redis, "root", "admin")
    svc = app.state.services
    customer = await svc.identities.resolve("telegram", "t7", "Jo")
    await svc.transcripts.append(customer, TranscriptEntry(
        channel="telegram", author="customer", text="Wo ist meine Bestellung?", language="de"))
    await CustomerLanguages(redis).detected(customer, "de", words=4)
    agent = await signed_in_client(base, "ada")
    admin = await signed_in_client(base, "root")
    try:
        profile = (await agent.get(f"/api/customers/{customer}")).json()
        assert (profile["language"], profile["language_source"]) == ("de", "detected")

        url = f"/api/customers/{customer}/language"
        forged = await agent.put(url, json={"language": "en"},
                                 headers={"X-Requested-With": ""})
        assert forged.status_code == 403  # no CSRF header: refused
        assert await CustomerLanguages(redis).get(customer) == "de"
        assert (await agent.put(url, json={"language": "fr"})).status_code == 422
        assert (await agent.put("/api/customers/c_nobodyxxxxxxxxxx/language",
                                json={"language": "en"})).status_code == 404

        done = await agent.put(url, json={"language": "en"})
        assert done.json() == {"customer_id": customer, "language": "en", "source": "agent"}
        assert await CustomerLanguages(redis).get(customer) == "en"
        audit = [(f["action"], f["actor"], f["customer"], f["language"])
                 for _, f in await redis.xrange(AUDIT_KEYS.audit)
                 if f["action"] == "customer.language"]
        assert audit == [("customer.language", "ada", customer, "en")]

        entries = (await agent.get(f"/api/customers/{customer}/transcript")).json()["entries"]
        assert entries[0]["language"] == "de"
        export = (await admin.get(f"/api/admin/customers/{customer}/export")).json()
        mine = export["customers"][0]
        assert mine["language"]["language"] == "en" and mine["language"]["source"] == "agent"
        assert mine["transcript"][0]["language"] == "de"
    finally:
        await agent.aclose()
        await admin.aclose()
