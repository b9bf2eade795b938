"""The knowledge editor page in headless Chromium against a real gateway (in
process), a real Redis and the real embedding model."""

import re

import pytest
from playwright.async_api import expect

from knowledge.models import Article
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff

pytestmark = pytest.mark.e2e


@pytest.fixture
async def gateway(redis_server, kb_embedder):
    async with gateway_without_rasa(redis_server, 6) as (settings, redis, _):
        await make_staff(redis, "edna", "editor")
        await make_staff(redis, "otto", "editor")
        yield settings.base_url, redis


async def editor_page(browser, base: str, username: str):
    """A signed-in editor on /kb; JavaScript errors and dialogs are collected."""
    context = await browser.new_context()
    page = await context.new_page()
    page.errors, page.dialogs = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    async def on_dialog(dialog) -> None:
        page.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await page.goto(f"{base}/kb")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{base}/kb")
    # the first list seeds the knowledge base (every seed article saved), while the
    # gateway fits the knowledge head in the background: over 30 s in a CI run
    await expect(page.get_by_test_id("kb-article").first).to_be_visible(timeout=90_000)
    return page


async def open_article(page, query: str, title: str) -> None:
    everything = await page.locator("#kb-count").inner_text()
    await page.get_by_test_id("kb-search").fill(query)
    await expect(page.locator("#kb-count")).not_to_have_text(everything)  # the search ran
    # by its title: other articles' snippets may quote it ("contact us")
    item = page.get_by_test_id("kb-article").filter(
        has=page.locator(".kb-title", has_text=re.compile(f"^{re.escape(title)}$")))
    await expect(item).to_have_count(1)
    await item.click()
    await expect(page.get_by_test_id("f-title")).to_have_value(title)


async def test_search_edit_preview_publish_then_history_and_rollback(gateway, browser):
    base, redis = gateway
    page = await editor_page(browser, base, "edna")
    await open_article(page, "paypal", "Payment methods")
    assert await page.get_by_test_id("kb-article").count() < 5  # the search narrowed the list
    original = await page.get_by_test_id("f-answer").input_value()

    answer = page.get_by_test_id("f-answer")
    await answer.fill(original + "\n\nWe now take **Klarna** — pay in 3 😀.")
    # The seed's short SMS variant would go out by SMS instead: without it, the answer does.
    await page.get_by_test_id("f-ch-sms").fill("")
    preview = page.get_by_test_id("kb-preview")
    await expect(preview.locator("strong", has_text="Klarna")).to_be_visible()  # web chat
    await page.get_by_test_id("preview-tab-sms").click()
    await expect(preview.get_by_test_id("preview-summary")).to_contain_text("UCS-2")
    await expect(preview.get_by_test_id("preview-checks")).to_contain_text("because of: 😀")
    await page.get_by_test_id("preview-tab-telegram").click()
    await expect(preview.get_by_test_id("preview-checks")).to_contain_text("valid Telegram HTML")
    await expect(preview.locator("b", has_text="Klarna")).to_be_visible()

    await page.get_by_test_id("f-status").select_option("published")
    await expect(page.get_by_test_id("kb-save")).to_have_text("Save and publish")
    await page.get_by_test_id("kb-save").click()
    await page.get_by_test_id("kb-confirm-go").click()  # what and where: its own tests
    await expect(page.get_by_test_id("kb-message")).to_contain_text(
        "Saved version 2: live on every channel now.")
    assert "Klarna" in (await ArticleStore(redis).get("payment-methods")).answer

    rows = page.get_by_test_id("kb-version-row")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("v2 (current)")
    await expect(rows.first).to_contain_text("edna")
    await expect(rows.first).to_contain_text("answer")
    await rows.first.get_by_test_id("kb-diff-button").click()
    diff = page.get_by_test_id("kb-diff")
    await expect(diff.locator("ins").last).to_contain_text("We now take **Klarna**")
    await expect(diff).to_contain_text("Changes from v1 to v2")

    await rows.nth(1).get_by_test_id("kb-rollback-button").click()
    await page.get_by_test_id("kb-confirm-go").click()
    await expect(page.get_by_test_id("kb-message")).to_contain_text(
        "Rolled back: version 3 has the content of version 1")
    await expect(page.get_by_test_id("f-answer")).to_have_value(original)
    await expect(rows).to_have_count(3)
    assert (await ArticleStore(redis).get("payment-methods")).answer == original
    assert page.errors == [] and page.dialogs == []


async def test_two_editors_saving_the_same_article_see_a_conflict_not_an_overwrite(
        gateway, browser):
    base, redis = gateway
    edna = await editor_page(browser, base, "edna")
    otto = await editor_page(browser, base, "otto")
    for page in (edna, otto):
        await open_article(page, "contact", "Contact us")

    await otto.get_by_test_id("f-title").fill("Contact us (Otto)")
    await otto.get_by_test_id("kb-save").click()
    await otto.get_by_test_id("kb-confirm-go").click()  # a live article changes
    await expect(otto.get_by_test_id("kb-message")).to_contain_text("Saved version 2")

    await edna.get_by_test_id("f-title").fill("Contact us (Edna)")
    await edna.get_by_test_id("kb-save").click()
    await edna.get_by_test_id("kb-confirm-go").click()
    message = edna.get_by_test_id("kb-message")
    await expect(message).to_contain_text("Someone else saved this article")
    await expect(message).to_contain_text("version 2 by otto")
    await expect(edna.get_by_test_id("f-title")).to_have_value("Contact us (Edna)")  # kept
    assert (await ArticleStore(redis).get("contact-us")).title == "Contact us (Otto)"

    await edna.get_by_test_id("kb-load-latest").click()
    await expect(edna.get_by_test_id("f-title")).to_have_value("Contact us (Otto)")
    await expect(edna.get_by_test_id("kb-version")).to_contain_text("version 2")
    assert edna.errors == otto.errors == []


async def test_try_a_question_shows_the_decision_and_the_scored_matches(gateway, browser):
    base, redis = gateway
    page = await editor_page(browser, base, "edna")
    await page.get_by_test_id("kb-try-q").fill("can I pay with paypal?")
    await page.get_by_test_id("kb-try-go").click()
    result = page.get_by_test_id("kb-try-result")
    await expect(result.get_by_test_id("kb-try-decision")).to_have_text("Answer", timeout=90_000)
    matches = result.get_by_test_id("kb-try-match")
    assert await matches.count() >= 3
    await expect(matches.first).to_contain_text("Payment methods")
    assert re.search(r"[01]\.\d{3}", await matches.nth(1).inner_text())  # a score
    await expect(result).to_contain_text("PayPal")

    await page.get_by_test_id("kb-try-q").fill("who won the football last night")
    await page.get_by_test_id("kb-try-go").click()
    await expect(result.get_by_test_id("kb-try-decision")).to_have_text("Fall back")
    assert await redis.xlen("fd:{kb}:unanswered") == 0  # trying is not a customer asking
    assert page.errors == []


async def test_customer_and_editor_text_is_shown_as_text_never_run(gateway, browser):
    base, redis = gateway
    page = await editor_page(browser, base, "edna")
    # The page's first list seeds the knowledge base; saved before that, the attack
    # would be the only article (nothing seeds a store that is not empty).
    await expect(page.locator("#kb-count")).to_have_text(re.compile(r"^\d{2,} articles"),
                                                         timeout=30_000)
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await ArticleStore(redis).save(Article(
        id="attack", title=f"Attack {attack}", questions=(attack,),
        answer=f"Answer {attack} [x](javascript:alert(3))", status="published"),
        expected_version=None, author="mallory")
    await ArticleStore(redis).record_unanswered(f"hello {attack}", "fallback", "web")

    await open_article(page, "attack", f"Attack {attack}")
    await expect(page.get_by_test_id("kb-article").first).to_contain_text(attack)
    preview = page.get_by_test_id("kb-preview")
    await expect(preview.get_by_test_id("preview-message").first).to_contain_text(attack)
    for channel in ("web", "telegram", "slack", "sms"):
        await page.get_by_test_id(f"preview-tab-{channel}").click()
        await expect(preview.get_by_test_id("preview-message").first).to_contain_text("Answer")
        assert await preview.locator("img, script, a[href^=javascript]").count() == 0

    await page.get_by_test_id("tab-unanswered").click()
    label = page.get_by_test_id("kb-group-label").first
    await expect(label).to_have_text(f"hello {attack}", timeout=90_000)
    assert await page.locator("main img, main script").count() == 0
    assert page.dialogs == [] and page.errors == []


async def test_an_unanswered_group_becomes_question_variants(gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis)
    for query in ("do you deliver to mars", "delivery to mars?", "Do you deliver to Mars?"):
        await store.record_unanswered(query, "fallback", "web")
    page = await editor_page(browser, base, "edna")
    await page.get_by_test_id("tab-unanswered").click()
    group = page.get_by_test_id("kb-group").first
    await expect(group.get_by_test_id("kb-group-count")).to_have_text("× 3", timeout=90_000)
    await group.get_by_test_id("kb-group-article").select_option("international-shipping")
    await group.get_by_test_id("kb-group-add").click()
    await expect(page.get_by_test_id("kb-toasts")).to_contain_text("Added 3 questions to")
    await expect(page.get_by_test_id("kb-groups-empty")).to_be_visible()
    assert "delivery to mars?" in (await store.get("international-shipping")).questions
    assert page.errors == []
