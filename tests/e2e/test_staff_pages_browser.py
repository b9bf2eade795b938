"""The staff pages as an agent sees them, in headless Chromium against the real
gateway and channel sandboxes (no Rasa: tickets are opened as the escalation
action opens them): queue cards an agent can choose by, rendered canned
answers, the design system's controls and keyboard use, the sign-in page after
a wrong password, and reports in words with each rating under its channel."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from bot.customers.keys import CUSTOMER_KEYS
from handoff.service import HandoffService
from sandbox.telegram import FIRST_USER_ID
from tests.e2e.staff_scene import busy_queue, knowledge, running_product, sign_in

pytestmark = pytest.mark.e2e

ACCENT = "rgb(31, 81, 71)"  # --fd-accent, the widget's brand green


@pytest.fixture(scope="module")
async def product(redis_server):
    async with running_product(redis_server, 10) as scene:
        await knowledge(scene)
        scene.tickets = await busy_queue(scene)
        await scene.agent("ada", "Ada Agent")
        yield scene


@pytest.fixture
async def console(product, browser):
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, product.base, "ada")
    await expect(page.get_by_test_id("connection")).to_have_text("live", timeout=10_000)
    yield page
    await context.close()
    assert errors == [], f"JavaScript errors in the console: {errors}"


def card(page, ref: str):
    return page.locator(f'[data-testid="queue-item"][data-ref="{ref}"]')


async def test_a_queue_card_shows_who_where_why_and_what_they_asked_with_markup_as_text(
        product, console):
    tickets = product.tickets
    tove = card(console, tickets["telegram"].ref)
    await expect(tove.get_by_test_id("card-name")).to_have_text("Tove Lindqvist")
    await expect(tove.get_by_test_id("card-channel")).to_have_text(["✈Telegram"])
    await expect(tove.get_by_test_id("card-reason")).to_have_text("Asked for a person")
    await expect(tove.get_by_test_id("card-asked")).to_contain_text(
        "The tracking page says 'label created'")
    await expect(tove.locator(".since")).to_contain_text(re.compile(r"waiting \d+m"))

    phone = card(console, tickets["sms"].ref)  # no name: the masked number
    await expect(phone.get_by_test_id("card-name")).to_have_text("+49 ••• 5678")
    await expect(phone.get_by_test_id("card-reason")).to_have_text("Needs a person: Cancellation")
    await expect(phone.get_by_test_id("language")).to_have_text("DE")
    await expect(phone.get_by_test_id("card-asked")).to_contain_text("Abo kündigen")

    visitor = card(console, tickets["web"].ref)
    await expect(visitor.get_by_test_id("card-name")).to_have_text("Web visitor")
    await expect(visitor.get_by_test_id("card-reason")).to_have_text(
        "The assistant could not answer")
    asked = visitor.get_by_test_id("card-asked")
    await expect(asked).to_contain_text("<img src=x onerror=alert(1)> <b>twice</b>")
    assert await asked.locator("img, b").count() == 0  # the customer's markup stays text

    await expect(card(console, tickets["slack"].ref).get_by_test_id("card-reason")).to_have_text(
        "Upset customer")
    linked = card(console, tickets["linked"].ref)  # one person on Telegram and SMS
    await expect(linked.get_by_test_id("card-channel")).to_have_text(["✈Telegram", "✉SMS"])


async def test_a_canned_answer_preview_renders_bold_not_asterisks(product, console):
    await card(console, product.tickets["telegram"].ref).locator("button.open").click()
    preview = console.locator('[data-testid="canned-item"][data-id="track-order"] '
                              '[data-testid="canned-preview"]')
    await expect(preview.locator("strong").first).to_have_text("Your orders")
    await expect(preview.locator("li")).to_have_count(2)
    assert "**" not in await preview.inner_text()


async def test_a_waiting_customers_new_message_shows_on_their_card_at_once(product, console):
    scene = product
    phone = "+15551239999"
    customer = await scene.customer("sms", phone, said=(("customer", "Is my order shipped?"),))
    ticket = await scene.escalate(customer, "sms")
    asked = card(console, ticket.ref).get_by_test_id("card-asked")
    await expect(asked).to_contain_text("Is my order shipped?")
    await scene.sandbox_post("/twilio/_sandbox/send", user=phone,
                             text="Also: it is a gift, please no invoice in the box")
    await expect(asked).to_contain_text("it is a gift, please no invoice")
    await scene.handoff.resolve(ticket.ref, "ada")


async def test_the_console_controls_use_the_design_system_and_are_reachable_by_keyboard(
        product, console):
    team = console.get_by_test_id("team-filter")
    style = await team.evaluate("""(node) => { const s = getComputedStyle(node);
        return [s.borderTopLeftRadius, s.appearance, s.fontFamily]; }""")
    assert style[0] == "8px" and style[1] == "none" and style[2].startswith("system-ui")
    claim = card(console, product.tickets["telegram"].ref).get_by_test_id("claim")
    assert await claim.evaluate("(node) => getComputedStyle(node).backgroundColor") == ACCENT

    # Tab from the top of the page reaches the queue's Claim buttons, with a visible ring.
    await console.locator("body").click(position={"x": 5, "y": 300})
    for _ in range(40):
        await console.keyboard.press("Tab")
        if await console.evaluate("document.activeElement.dataset.testid") == "claim":
            break
    else:
        raise AssertionError("Tab never reached a Claim button")
    ring = await console.evaluate("""() => { const node = document.activeElement;
        const s = getComputedStyle(node);
        return [node.matches(':focus-visible'), s.outlineStyle, s.outlineWidth]; }""")
    assert ring == [True, "solid", "3px"]


async def test_the_shortcuts_dialog_opens_with_a_question_mark_and_closes_with_escape(console):
    dialog = console.get_by_test_id("shortcuts")
    await expect(dialog).to_be_hidden()
    await console.keyboard.press("?")
    await expect(dialog).to_be_visible()
    await expect(console.get_by_test_id("shortcuts-close")).to_be_focused()
    await console.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # And from its button, back to the button on close.
    await console.get_by_test_id("shortcuts-open").click()
    await expect(dialog).to_be_visible()
    await console.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(console.get_by_test_id("shortcuts-open")).to_be_focused()


async def test_the_sign_in_page_keeps_the_username_after_a_wrong_password(product, browser):
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{product.base}/login?next=/agent")
    await page.get_by_label("Username").fill("ada")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    await expect(page.get_by_label("Username")).to_have_value("ada")
    await expect(page.get_by_label("Password")).to_be_focused()
    await expect(page.get_by_label("Password")).to_have_value("")
    # The corrected password signs in, to the page asked for.
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_label("Password").press("Enter")
    await expect(page).to_have_url(re.compile(r"/agent$"))


async def test_a_telegram_rating_counts_under_telegram_and_an_sms_rating_under_sms(
        product, browser):
    """The customer who escalated by SMS and wrote last on Telegram is asked on
    Telegram and rates there: a Telegram rating. A phone that rates by SMS: an
    SMS rating. Then the reports page reads in words."""
    scene = product
    await scene.sandbox_post("/telegram/_sandbox/reset")
    chat_id = str(FIRST_USER_ID)  # the sandbox's first chat
    both = await scene.customer("sms", "+15551230001", "Rune")
    await scene.link(both, "telegram", chat_id)
    on_sms = await scene.escalate(both, "sms", name="Rune")
    phone = await scene.customer("sms", "+15551230002")
    by_sms = await scene.escalate(phone, "sms")
    # Rune writes on Telegram while he waits (a person owns it: no assistant turn).
    await scene.sandbox_post("/telegram/_sandbox/send", user="rune", first_name="Rune",
                             text="I'm on Telegram now")
    await scene.until(lambda: _last_channel(scene, both, "telegram"), what="Rune on Telegram")

    await scene.agent("rita", "Rita")
    rita = await scene.api("rita")
    try:
        for ticket in (on_sms, by_sms):
            assert (await rita.post(f"/api/agent/tickets/{ticket.ref}/claim")).status_code == 200
            assert (await rita.post(f"/api/agent/tickets/{ticket.ref}/resolve",
                                    json={"csat": True})).status_code == 200
    finally:
        await rita.aclose()

    asked = await scene.until(lambda: _telegram_rating_question(scene, "rune"),
                              what="the rating question on Telegram")
    await scene.sandbox_post("/telegram/_sandbox/press", user="rune", message_id=asked["id"],
                             index=asked["buttons"].index(next(
                                 b for b in asked["buttons"] if b.startswith("5 "))))
    sms = await scene.until(lambda: _sms_rating_question(scene, "+15551230002"),
                            what="the rating question by SMS")
    option = re.search(r"(\d) for \*\*\*\* ", sms["text"])  # SMS sends ★ as *
    assert option, sms["text"]
    await scene.sandbox_post("/twilio/_sandbox/send", user="+15551230002", text=option[1])

    service = HandoffService(scene.redis, scene.handoff.settings)
    await scene.until(lambda: _rated(service, on_sms.ref, by_sms.ref), what="both ratings")

    page = await (await browser.new_context()).new_page()
    await sign_in(page, scene.base, "ada", "/reports")
    await expect(page.locator('#per-channel tr[data-channel="telegram"] [data-testid="csat-cell"]')
                 ).to_have_text("5.0 (1)")
    await expect(page.locator('#per-channel tr[data-channel="sms"] [data-testid="csat-cell"]')
                 ).to_have_text("4.0 (1)")
    await expect(page.locator('#per-channel tr[data-channel="telegram"] th')).to_have_text(
        "Telegram")
    reasons = page.locator("#reasons")
    await expect(reasons).to_contain_text("Asked for a person")
    await expect(reasons).to_contain_text("Needs a person: Cancellation")
    assert "asked_for_human" not in await reasons.inner_text()


async def _last_channel(scene, customer_id: str, channel: str) -> bool:
    return await scene.redis.hget(CUSTOMER_KEYS.customer(customer_id), "last_channel") == channel


async def _telegram_rating_question(scene, user: str) -> dict | None:
    lines = await scene.sandbox_get("/telegram/_sandbox/transcript", user=user)
    return next((line for line in lines if line["from"] == "bot" and len(line["buttons"]) == 5),
                None)


async def _sms_rating_question(scene, phone: str) -> dict | None:
    lines = await scene.sandbox_get("/twilio/_sandbox/transcript", user=phone)
    # SMS numbers rating options by their score: "Reply 5 for ***** Excellent, 4 for **** …"
    return next((line for line in lines if "4 for ****" in line.get("text", "")), None)


async def _rated(service: HandoffService, *refs: str) -> bool:
    return all([(await service.queue.get(ref)).csat is not None for ref in refs])
