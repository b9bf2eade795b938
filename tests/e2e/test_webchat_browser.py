"""The web chat widget in headless Chromium against the real stack."""

import re

import pytest
from playwright.async_api import expect

from tests.e2e.chromium import chromium

pytestmark = [pytest.mark.stack, pytest.mark.e2e]


@pytest.fixture
async def page(stack):
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://{stack.host}:{stack.port}/")
        yield page
        assert errors == [], f"JavaScript errors on the page: {errors}"


async def ask(page, text: str) -> None:
    await page.get_by_test_id("fd-input").fill(text)
    await page.get_by_test_id("fd-input").press("Enter")


def bot_messages(page):
    return page.locator('[data-testid="fd-msg"][data-author="bot"]')


async def test_customer_asks_picks_a_button_and_keeps_the_history_across_a_reload(page):
    await expect(page.get_by_test_id("fd-status")).to_have_attribute(
        "data-state", "online", timeout=20_000)

    # A seed question in the customer's own words.
    await ask(page, "do you take paypal?")
    await expect(bot_messages(page).last).to_contain_text("PayPal", timeout=30_000)

    # An ambiguous one: the assistant offers articles as buttons.
    await ask(page, "returns")
    buttons = page.locator('[data-testid="fd-button"]:not([disabled])')
    await expect(buttons.first).to_be_visible(timeout=30_000)
    assert await buttons.count() >= 2
    title = (await buttons.first.inner_text()).strip()
    answered = await bot_messages(page).count()
    await buttons.first.click()
    await expect(bot_messages(page)).to_have_count(answered + 1, timeout=30_000)
    await expect(bot_messages(page).last).to_contain_text(title)

    # Reload: the whole conversation is still there.
    await page.reload()
    await expect(page.get_by_test_id("fd-status")).to_have_attribute(
        "data-state", "online", timeout=20_000)
    customer = page.locator('[data-testid="fd-msg"][data-author="customer"]')
    await expect(customer.first).to_contain_text("do you take paypal?")
    await expect(customer).to_have_count(3)  # two typed messages and the button choice
    await expect(bot_messages(page)).to_have_count(answered + 1)


async def test_customer_markup_is_shown_as_text_never_run(page):
    await expect(page.get_by_test_id("fd-status")).to_have_attribute(
        "data-state", "online", timeout=20_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    attack = '<img src=x onerror="alert(1)"> <b>bold?</b>'
    await ask(page, attack)
    customer = page.locator('[data-testid="fd-msg"][data-author="customer"]').last
    await expect(customer).to_contain_text(attack)
    assert await customer.locator("img, b").count() == 0
    await expect(bot_messages(page).last).to_be_visible(timeout=30_000)
    assert dialogs == []


async def test_the_page_is_served_with_a_strict_content_security_policy(stack, page):
    response = await page.goto(f"http://{stack.host}:{stack.port}/")
    assert re.search(r"default-src 'self'", response.headers["content-security-policy"])
