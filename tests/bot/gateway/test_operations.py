"""The operations pages are not public: /metrics, /docs and /openapi.json need
an admin's session (or, for /metrics, the scraper's bearer token), and /docs
loads Swagger UI from us, not from a CDN."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from core.settings import Settings
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client

METRICS_TOKEN = "scraper-token-0123456789"
OPERATIONS = ("/metrics", "/docs", "/openapi.json")


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 8,
                                    metrics_token=SecretStr(METRICS_TOKEN)) as (s, redis, _app):
        await make_staff(redis, "root", "admin")
        await make_staff(redis, "ada", "agent", "editor")
        yield s.base_url


async def test_anonymous_visitors_are_refused_every_operations_page(gateway):
    async with httpx.AsyncClient(base_url=gateway) as anonymous:
        for path in OPERATIONS:
            assert (await anonymous.get(path)).status_code == 401, path


async def test_an_agent_or_editor_is_refused_every_operations_page(gateway):
    agent = await signed_in_client(gateway, "ada")
    try:
        for path in OPERATIONS:
            assert (await agent.get(path)).status_code == 403, path
    finally:
        await agent.aclose()


async def test_an_admin_reads_metrics_the_schema_and_the_docs(gateway):
    admin = await signed_in_client(gateway, "root")
    try:
        metrics = await admin.get("/metrics")
        assert metrics.status_code == 200 and "frontdoor_queue_waiting" in metrics.text
        schema = await admin.get("/openapi.json")
        assert schema.json()["info"]["title"] == "Front Door"
        docs = await admin.get("/docs")
        assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    finally:
        await admin.aclose()


async def test_the_docs_page_loads_nothing_from_another_host(gateway):
    admin = await signed_in_client(gateway, "root")
    try:
        docs = await admin.get("/docs")
        # Every src/href is a path on this host; no URL with a scheme or // at all.
        assert not re.search(r"https?:|//[a-z]", docs.text, re.IGNORECASE), docs.text
        references = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert references and all(r.startswith("/docs/static/") for r in references)
        for reference in references:
            asset = await admin.get(reference)
            assert asset.status_code == 200 and asset.content, reference
        csp = docs.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in csp and "connect-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "https:" not in csp
        assert (await admin.get("/docs/static/index.html")).status_code == 404
    finally:
        await admin.aclose()


async def test_a_scraper_reads_metrics_with_the_bearer_token_and_nothing_else(gateway):
    async with httpx.AsyncClient(base_url=gateway) as scraper:
        bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        scraped = await scraper.get("/metrics", headers=bearer)
        assert scraped.status_code == 200 and "frontdoor_queue_waiting" in scraped.text
        wrong = await scraper.get("/metrics", headers={"Authorization": "Bearer " + "x" * 24})
        assert wrong.status_code == 401
        # The token opens /metrics only, not the admin API's documentation.
        assert (await scraper.get("/openapi.json", headers=bearer)).status_code == 401
        assert (await scraper.get("/docs", headers=bearer)).status_code == 401


async def test_without_a_token_set_a_bearer_header_opens_nothing(redis_server):
    async with (gateway_without_rasa(redis_server, 8) as (settings, _redis, _app),
                httpx.AsyncClient(base_url=settings.base_url) as scraper):
        for value in ("Bearer x", "Bearer " + METRICS_TOKEN):
            response = await scraper.get("/metrics", headers={"Authorization": value})
            assert response.status_code == 401, value


def test_a_weak_metrics_token_is_refused():
    with pytest.raises(ValidationError, match="FRONTDOOR_METRICS_TOKEN is too short"):
        Settings(metrics_token=SecretStr("short"))
