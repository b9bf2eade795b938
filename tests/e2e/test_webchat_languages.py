"""The web chat widget speaks the visitor's language: German labels for a
browser that prefers German, English otherwise, and a switch without a reload
when the customer's language changes mid-conversation. Headless Chromium
against an in-process gateway (no assistant needed for labels)."""

import asyncio
import time

import pytest
from playwright.async_api import expect

from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from core.settings import HandoffSettings
from handoff.service import HandoffService
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.e2e


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 13) as (settings, redis, app):
        yield settings.base_url, redis, app


async def _open(browser, base: str, locale: str):
    context = await browser.new_context(locale=locale)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base + "/")
    await expect(page.get_by_test_id("fd-status")).to_have_attribute("data-state", "online",
                                                                      timeout=20_000)
    return page, errors


async def test_the_widget_labels_are_german_for_a_german_visitor(gateway, browser):
    base, _redis, _app = gateway
    page, errors = await _open(browser, base, "de-DE")
    panel = page.get_by_test_id("fd-panel")
    await expect(panel.locator(".fd-title")).to_have_text("Brightside — Chat mit uns")
    await expect(page.get_by_test_id("fd-input")).to_have_attribute("placeholder",
                                                                    "Ihre Nachricht…")
    await expect(page.get_by_test_id("fd-send")).to_have_attribute("aria-label",
                                                                   "Nachricht senden")
    await expect(page.get_by_test_id("fd-launcher")).to_have_attribute("aria-label",
                                                                       "Chat schließen")
    await expect(panel.locator(".fd-hint")).to_have_text(
        "Enter zum Senden · Umschalt+Enter für eine neue Zeile")
    await expect(page.locator(".fd-root")).to_have_attribute("lang", "de")
    await page.get_by_test_id("fd-input").fill("x" * 2001)
    await expect(page.get_by_test_id("fd-error")).to_have_text(
        "Ihre Nachricht ist zu lang: 2001 von 2000 Zeichen. Bitte kürzen Sie sie.")
    assert errors == []


async def test_an_english_visitor_whose_customer_turns_german_sees_german_labels_without_reload(
        gateway, browser):
    base, redis, app = gateway
    page, errors = await _open(browser, base, "en-US")
    await expect(page.get_by_test_id("fd-input")).to_have_attribute("placeholder",
                                                                    "Type your message…")
    await page.get_by_test_id("fd-input").fill("Ich möchte mit einem Menschen sprechen")
    await page.get_by_test_id("fd-input").press("Enter")
    token = await page.evaluate("localStorage.getItem('frontdoor.token')")
    visitor = app.state.services.sessions.visitor(token)
    customer_id = await _customer_of(redis, visitor)
    # The customer's language becomes German (as detection or the agent would set
    # it), and a person takes the conversation: the widget follows, no reload.
    await CustomerLanguages(redis).choose(customer_id, "de", "agent")
    ticket, _ = await HandoffService(redis, HandoffSettings()).escalate(
        customer_id, "web", "asked_for_human")
    await make_staff(redis, "ada", "agent")
    ada = await signed_in_client(base, "ada")
    try:
        assert (await ada.post(f"/api/agent/tickets/{ticket.ref}/claim")).status_code == 200
    finally:
        await ada.aclose()
    system = page.locator('[data-testid="fd-msg"][data-author="system"]')
    await expect(system.last).to_contain_text("ada ist jetzt für Sie da", timeout=10_000)
    await expect(page.get_by_test_id("fd-input")).to_have_attribute("placeholder",
                                                                    "Ihre Nachricht…")
    await expect(page.locator('[data-testid="fd-msg"][data-author="customer"] .fd-sr-only')
                 ).to_have_text("Sie: ")
    await expect(page.get_by_test_id("fd-send")).to_have_attribute("title", "Senden")
    assert errors == []
    # And a reload starts in German at once: the session says the customer's language.
    await page.reload()
    await expect(page.get_by_test_id("fd-input")).to_have_attribute("placeholder",
                                                                    "Ihre Nachricht…")


async def _customer_of(redis, visitor: str, deadline_s: float = 10.0) -> str:
    until = time.monotonic() + deadline_s
    while (found := await IdentityStore(redis).find("web", visitor)) is None:
        assert time.monotonic() < until, "the first message created no customer"
        await asyncio.sleep(0.05)
    return found
