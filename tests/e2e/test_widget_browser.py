"""What a customer sees in the web chat widget, in headless Chromium, against a
real gateway and Redis served in-process (no Rasa: nothing here needs the
assistant; tests/e2e/test_widget_stack.py has what does). The handoff side is
driven as the console drives it: the handoff service on the same Redis, and the
agent API."""

import contextlib
import re

import pytest
import yaml
from playwright.async_api import expect

from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.customers.transcript import TranscriptStore
from core.models import ArticleRef, TranscriptEntry
from core.settings import HandoffSettings
from core.staff import StaffStore
from handoff.reports import report
from handoff.service import HandoffService
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa
from tests.e2e.chromium import chromium
from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
ASSISTANT = "Assistant · replies right away"


@contextlib.asynccontextmanager
async def product(redis_server, **overrides):
    async with (gateway_without_rasa(redis_server, 14, **overrides) as (settings, redis, _),
                chromium() as browser):
        yield settings, redis, browser


@pytest.fixture
async def served(redis_server):
    async with product(redis_server) as running:
        yield running


async def open_widget(browser, settings, viewport=DESKTOP, path="/"):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await page.goto(f"{settings.base_url}{path}")
    return page


async def customer_behind(page, settings, redis) -> str:
    """The customer this browser's visitor is (made now if need be, as their
    first message would), read from the widget's session token."""
    token = await page.evaluate("() => localStorage.getItem('frontdoor.token')")
    visitor = SessionSigner(settings.session_secret.get_secret_value(), 86400).visitor(token)
    identities = IdentityStore(redis)
    customer_id = await identities.resolve("web", visitor, None)
    await identities.touch(customer_id, "web", visitor)
    return customer_id


def status(page):
    return page.get_by_test_id("fd-status")


async def test_the_widget_greets_a_new_customer_with_suggested_topics(served):
    settings, _redis, browser = served
    page = await open_widget(browser, settings)
    greeting = page.get_by_test_id("fd-greeting")
    await expect(greeting).to_contain_text("Hi! I'm the Brightside assistant", timeout=20_000)
    topics = page.get_by_test_id("fd-topic")
    await expect(topics).to_have_text(["Track your order", "How to return an item",
                                       "Delivery times", "Payment methods"])
    # In German, the greeting and the topics' titles follow at once.
    await page.get_by_test_id("fd-language").select_option("de")
    await expect(greeting).to_contain_text("Hallo! Ich bin der Brightside-Assistent")
    await expect(topics.first).to_have_text("Bestellung verfolgen")
    assert page.errors == []


async def test_choosing_a_topic_with_the_keyboard_asks_it_and_keeps_focus_in_the_input(served):
    settings, _redis, browser = served
    page = await open_widget(browser, settings)
    topic = page.get_by_test_id("fd-topic").first
    await expect(topic).to_be_visible(timeout=20_000)
    await topic.focus()
    await page.keyboard.press("Enter")
    customer = page.locator('[data-testid="fd-msg"][data-author="customer"]')
    await expect(customer).to_have_text(re.compile("How do I track my order?"))
    await expect(page.get_by_test_id("fd-input")).to_be_focused()
    await expect(page.get_by_test_id("fd-topic")).to_have_count(0)  # asked: they step aside


async def test_on_a_phone_the_widget_does_not_open_by_itself(served):
    settings, _redis, browser = served
    phone = await open_widget(browser, settings, PHONE)
    launcher = phone.get_by_test_id("fd-launcher")
    await expect(launcher).to_be_visible(timeout=20_000)
    await expect(phone.get_by_test_id("fd-panel")).to_be_hidden()
    await launcher.click()
    await expect(phone.get_by_test_id("fd-greeting")).to_be_visible()
    desktop = await open_widget(browser, settings, DESKTOP)  # as before: open on load
    await expect(desktop.get_by_test_id("fd-panel")).to_be_visible(timeout=20_000)


async def test_the_editor_sets_the_topics_and_the_widget_shows_them(served):
    settings, redis, browser = served
    await ArticleStore(redis, seed_folder=settings.knowledge.articles_dir).all()  # seeded first
    await make_staff(redis, "edna", "editor")
    editor = await (await browser.new_context()).new_page()
    await editor.goto(f"{settings.base_url}/kb")
    await editor.get_by_label("Username").fill("edna")
    await editor.get_by_label("Password").fill("correct horse battery")
    await editor.get_by_role("button", name="Sign in").click()
    panel = editor.get_by_test_id("kb-topics")
    await expect(panel.get_by_test_id("kb-topics-source")).to_have_text("most asked",
                                                                        timeout=20_000)
    slots = panel.get_by_test_id("kb-topic-slot")
    await slots.nth(0).select_option("warranty-claim")
    await slots.nth(1).select_option("price-match")
    await slots.nth(2).select_option("")
    await slots.nth(3).select_option("")
    await panel.get_by_test_id("kb-topics-save").click()
    await expect(panel.get_by_test_id("kb-topics-status")).to_contain_text("Topics saved.")
    await expect(panel.get_by_test_id("kb-topics-source")).to_have_text("chosen by editors")

    page = await open_widget(browser, settings)
    await expect(page.get_by_test_id("fd-topic")).to_have_text(
        ["Make a warranty claim", "Price match promise"], timeout=20_000)


async def test_the_header_shows_the_queue_position_then_the_agent_then_the_assistant(served):
    settings, redis, browser = served
    page = await open_widget(browser, settings)
    await expect(status(page)).to_have_text(ASSISTANT, timeout=20_000)
    customer_id = await customer_behind(page, settings, redis)
    handoff = HandoffService(redis, HandoffSettings())
    ahead, _ = await handoff.escalate("c_someone_else", "web", "asked_for_human")
    mine, _ = await handoff.escalate(customer_id, "web", "asked_for_human")

    await page.reload()  # the widget asks for the state when it connects again
    await expect(status(page)).to_have_text("Waiting for a person — you're number 2",
                                            timeout=20_000)
    await handoff.resolve(ahead.ref, "admin")  # the one ahead leaves: we move up
    await expect(status(page)).to_have_text("Waiting for a person — you're next",
                                            timeout=20_000)

    await StaffStore(redis).create("sam", "correct horse battery", ["agent"], "Sam")
    await handoff.claim(mine.ref, "sam")
    await expect(status(page)).to_have_text("Sam from Customer support", timeout=20_000)
    await expect(status(page)).to_have_attribute("data-conversation", "agent")

    await handoff.resolve(mine.ref, "sam")
    await expect(status(page)).to_have_text(ASSISTANT, timeout=20_000)
    assert page.errors == []


async def test_queued_outside_business_hours_the_header_says_we_are_closed(
        redis_server, tmp_path):
    teams = tmp_path / "teams.yml"
    teams.write_text(yaml.safe_dump({"default_team": "night", "teams": {
        "night": {"name": "Night desk", "timezone": "UTC", "hours": {}}}}))
    async with product(redis_server, handoff=HandoffSettings(teams_file=teams)) as (
            settings, redis, browser):
        page = await open_widget(browser, settings)
        await expect(status(page)).to_have_text(ASSISTANT, timeout=20_000)
        customer_id = await customer_behind(page, settings, redis)
        await HandoffService(redis, settings.handoff).escalate(customer_id, "web",
                                                               "asked_for_human")
        await page.reload()
        await expect(status(page)).to_have_text("We're closed — we'll reply here",
                                                timeout=20_000)
        await page.get_by_test_id("fd-language").select_option("de")
        await expect(status(page)).to_have_text("Wir haben geschlossen – wir antworten hier")


async def test_a_web_chat_customer_rates_with_a_button_and_the_report_counts_it(served):
    settings, redis, browser = served
    page = await open_widget(browser, settings)
    await expect(status(page)).to_have_text(ASSISTANT, timeout=20_000)
    customer_id = await customer_behind(page, settings, redis)
    handoff = HandoffService(redis, HandoffSettings())
    ticket, _ = await handoff.escalate(customer_id, "web", "asked_for_human")
    await make_staff(redis, "ada", "agent")
    agent = await signed_in_client(settings.base_url, "ada")
    try:
        assert (await agent.post(f"/api/agent/tickets/{ticket.ref}/claim")).status_code == 200
        await page.reload()
        resolved = await agent.post(f"/api/agent/tickets/{ticket.ref}/resolve",
                                    json={"csat": True})
        assert resolved.status_code == 200
    finally:
        await agent.aclose()

    ratings = page.locator('[data-testid="fd-msg"][data-author="system"]').filter(
        has_text="How did we do?").get_by_test_id("fd-button")
    await expect(ratings).to_have_text(["5 ★★★★★ Excellent", "4 ★★★★ Good", "3 ★★★ Okay",
                                        "2 ★★ Poor", "1 ★ Bad"], timeout=20_000)
    await ratings.first.focus()  # with the keyboard, as anyone may
    await page.keyboard.press("Enter")
    thanks = page.locator('[data-testid="fd-msg"][data-author="system"]').last
    await expect(thanks).to_contain_text("Thank you for your rating!", timeout=20_000)
    await expect(page.get_by_test_id("fd-input")).to_be_focused()
    web = (await report(redis))["per_channel"]["web"]
    assert (web["csat_n"], web["csat_avg"]) == (1, 5.0)
    assert (await handoff.queue.get(ticket.ref)).csat == 5


async def test_the_help_article_card_is_a_link_to_the_article(served):
    settings, redis, browser = served
    page = await open_widget(browser, settings)
    await expect(status(page)).to_have_text(ASSISTANT, timeout=20_000)
    customer_id = await customer_behind(page, settings, redis)
    await TranscriptStore(redis).append(customer_id, TranscriptEntry(
        channel="web", author="bot", text="You can track it from the email we sent.",
        article=ArticleRef(id="track-order", version=1, title="Bestellung verfolgen",
                           language="de")))
    await page.reload()
    link = page.get_by_test_id("fd-article-link")
    await expect(link).to_have_text("Bestellung verfolgen", timeout=20_000)
    await expect(link).to_have_attribute("href", re.compile(r"/help/track-order\?lang=de$"))
    async with page.context.expect_page() as opened:
        await link.click()
    article = await opened.value
    await expect(article.get_by_role("heading", level=1)).to_have_text("Bestellung verfolgen")
    await expect(article.get_by_test_id("help-article")).to_contain_text("Sendung")


async def test_the_placeholder_has_at_least_4_5_to_1_contrast(served):
    settings, _redis, browser = served
    page = await open_widget(browser, settings)
    field = page.get_by_test_id("fd-input")
    await expect(field).to_be_visible(timeout=20_000)
    placeholder, background = await field.evaluate("""input => [
        getComputedStyle(input, '::placeholder').color, getComputedStyle(input).backgroundColor]""")
    assert contrast(rgb(placeholder), rgb(background)) >= 4.5, (placeholder, background)


def rgb(css: str) -> tuple[float, float, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
    return parts[0], parts[1], parts[2]


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(c):
        linear = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
                  for v in c]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
