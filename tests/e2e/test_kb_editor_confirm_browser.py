"""What an editor sees before and after going live (issue 16, items 11-14), in
headless Chromium against a real gateway (in process), Redis and embedding
model: the publish and rollback confirmations, the rendered diff, the
unanswered questions' suggestions and success messages, search by relevance.

With FRONTDOOR_SCREENSHOTS=<folder> the tests also save the screenshots of
docs/knowledge.md there (`make`-free: FRONTDOOR_SCREENSHOTS=docs/screenshots
pytest tests/e2e/test_kb_editor_confirm_browser.py)."""

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from core.settings import KnowledgeSettings
from knowledge.models import Article
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa
from tests.e2e.test_kb_editor_browser import editor_page, open_article
from tests.staff import make_staff

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("FRONTDOOR_SCREENSHOTS")
KLARNA = "\n\nWe now take Klarna, pay in 3."


@pytest.fixture
async def gateway(redis_server, kb_embedder):
    async with gateway_without_rasa(redis_server, 14) as (settings, redis, _):
        await make_staff(redis, "edna", "editor")
        yield settings.base_url, redis


async def wide_editor(browser, base: str):
    page = await editor_page(browser, base, "edna")
    await page.set_viewport_size({"width": 1500, "height": 1000})
    return page


async def shot(target, name: str) -> None:
    if SHOTS:  # Playwright makes the folder
        await target.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


async def test_publishing_asks_first_with_the_article_and_channels_and_cancel_changes_nothing(
        gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis)
    page = await wide_editor(browser, base)
    await open_article(page, "paypal", "Payment methods")
    await shot(page, "kb-editor")  # both languages side by side
    original = await page.get_by_test_id("f-answer").input_value()
    await page.get_by_test_id("f-answer").fill(original + KLARNA)

    dialog = page.get_by_test_id("kb-confirm")
    await page.get_by_test_id("kb-save").click()
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("kb-confirm-title")).to_have_text('Publish "Payment methods"?')
    await expect(dialog.get_by_test_id("kb-confirm-what")).to_contain_text("Payment methods")
    await expect(dialog.get_by_test_id("kb-confirm-languages")).to_have_text(
        "Languages: English (changed).")
    await expect(dialog.get_by_test_id("kb-confirm-channels")).to_have_text(
        "Where: at once on web chat, Telegram, Slack and SMS.")
    await expect(dialog.locator("ins")).to_contain_text("We now take Klarna")
    await shot(page, "kb-publish-confirm")

    await page.keyboard.press("Escape")  # Esc cancels
    await expect(dialog).to_be_hidden()
    await page.get_by_test_id("kb-save").click()
    await dialog.get_by_test_id("kb-confirm-cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("kb-message")).to_contain_text("Not published")
    live = await store.get("payment-methods")
    assert live.version == 1 and live.answer == original
    await expect(page.get_by_test_id("f-answer")).to_have_value(original + KLARNA)  # kept

    await page.get_by_test_id("kb-save").click()
    await dialog.get_by_test_id("kb-confirm-go").click()
    await expect(page.get_by_test_id("kb-message")).to_contain_text("live on every channel now")
    await expect(page.get_by_test_id("kb-toasts")).to_contain_text('Saved "Payment methods"')
    assert "Klarna" in (await store.get("payment-methods")).answer
    assert page.errors == []


async def test_rollback_asks_first_and_the_diff_marks_the_inserted_words(gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis, seed_folder=KnowledgeSettings().articles_dir)
    await store.revision()  # seeded
    v1 = await store.get("payment-methods")
    changed = v1.answer.replace("subject to approval", "subject to a quick check") + KLARNA
    await store.save(v1.model_copy(update={"answer": changed,
                                           "questions": (*v1.questions, "klarna?")}),
                     expected_version=1, author="otto")
    page = await wide_editor(browser, base)
    await open_article(page, "paypal", "Payment methods")
    rows = page.get_by_test_id("kb-version-row")
    await expect(rows).to_have_count(2)
    await rows.first.get_by_test_id("kb-diff-button").click()
    diff = page.get_by_test_id("kb-diff")
    await expect(diff.locator("ins").last).to_have_text("We now take Klarna, pay in 3.")
    await expect(diff.locator("del")).to_have_text(["approval"])  # a word replaced
    await expect(diff.get_by_test_id("kb-words").locator("ins").first).to_have_text(
        "a quick check")
    await expect(diff.get_by_test_id("kb-diff-questions")).to_contain_text("added klarna?")
    shown = await diff.inner_text()
    assert not re.search(r"^\+", shown, re.MULTILINE) and "@@" not in shown  # no raw diff lines
    assert "- **Visa**" in shown  # the Markdown as written, unchanged words unmarked
    await diff.scroll_into_view_if_needed()
    await shot(page.locator("#kb-history"), "kb-diff")

    dialog = page.get_by_test_id("kb-confirm")
    await rows.nth(1).get_by_test_id("kb-rollback-button").click()
    await expect(page.get_by_test_id("kb-confirm-title")).to_have_text(
        'Roll back "Payment methods" to version 1?')
    await expect(dialog.get_by_test_id("kb-confirm-channels")).to_contain_text("SMS")
    await expect(dialog.locator("del").last).to_contain_text("We now take Klarna")
    await dialog.get_by_test_id("kb-confirm-cancel").click()
    await expect(page.get_by_test_id("kb-toasts")).to_contain_text("Rollback cancelled")
    assert (await store.get("payment-methods")).version == 2

    await rows.nth(1).get_by_test_id("kb-rollback-button").click()
    await dialog.get_by_test_id("kb-confirm-go").click()
    await expect(page.get_by_test_id("kb-message")).to_contain_text("version 3 has the content")
    live = await store.get("payment-methods")
    assert live.version == 3 and live.answer == v1.answer
    assert page.errors == []


async def test_unanswered_suggests_only_good_matches_and_every_action_confirms(gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis)
    for query in ("purple elephants dance on the keyboard at midnight",
                  "hw do i retrn somthing i dont lik", "hw do i retrn somthing i dont lik"):
        await store.record_unanswered(query, "fallback", "web")
    page = await wide_editor(browser, base)
    await page.get_by_test_id("tab-unanswered").click()
    groups = page.get_by_test_id("kb-group")
    typo = groups.filter(has_text="hw do i retrn")
    nonsense = groups.filter(has_text="purple elephants")
    await expect(typo.get_by_test_id("kb-group-suggestion")).to_contain_text(
        "How to return an item", timeout=90_000)
    await expect(typo.get_by_test_id("kb-group-article")).to_have_value("how-to-return")
    await expect(nonsense.get_by_test_id("kb-group-no-suggestion")).to_contain_text(
        "No article matches well enough")
    await expect(nonsense.get_by_test_id("kb-group-article")).to_have_value("")
    await shot(page, "kb-unanswered")

    await nonsense.get_by_test_id("kb-group-add").click()  # no article chosen: told, not sent
    await expect(page.get_by_test_id("kb-toasts")).to_contain_text("Choose the article")
    await typo.get_by_test_id("kb-group-add").click()
    toasts = page.get_by_test_id("kb-toasts")
    await expect(toasts).to_contain_text('Added 1 question to "How to return an item"')
    await expect(toasts).to_have_attribute("role", "status")
    await expect(typo).to_have_count(0)
    assert "hw do i retrn somthing i dont lik" in (await store.get("how-to-return")).questions

    await nonsense.get_by_test_id("kb-group-dismiss").click()
    await expect(toasts).to_contain_text('Dismissed "purple elephants dance')
    await expect(page.get_by_test_id("kb-groups-empty")).to_be_visible()
    assert page.errors == []


async def test_searching_payment_ranks_payment_articles_first_and_shows_why(gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis, seed_folder=KnowledgeSettings().articles_dir)
    await store.revision()  # seeded
    attack = '<img src=x onerror="alert(1)">'
    await store.save(Article(id="odd-one", title="Odd one", questions=("odd",),
                             answer=f"Text {attack} about payment.", status="published"),
                     expected_version=None, author="mallory")
    page = await wide_editor(browser, base)
    items = page.get_by_test_id("kb-article")
    everything = await page.locator("#kb-count").inner_text()
    await page.get_by_test_id("kb-search").fill("payment")
    await expect(page.locator("#kb-count")).not_to_have_text(everything)
    top = [await items.nth(i).locator(".kb-title").inner_text() for i in range(3)]
    assert set(top[:2]) == {"Payment methods", "My payment was declined"}
    assert "Delete your account" not in top
    await expect(items.first.get_by_test_id("kb-why").locator("mark")).to_have_text(
        re.compile("^payment$", re.IGNORECASE))
    # lower down, and only with the sentence that says payment
    deleted = items.filter(has_text="Delete your account")
    await expect(deleted.get_by_test_id("kb-snippet")).to_contain_text("payment records")
    odd = items.filter(has_text="Odd one").get_by_test_id("kb-snippet")
    await expect(odd).to_contain_text(attack)  # text, not an image
    await expect(odd.locator("mark")).to_have_text("payment")
    assert await page.locator("#kb-articles img").count() == 0
    await shot(page.locator(".kb-list"), "kb-search")
    assert page.errors == [] and page.dialogs == []
