"""The knowledge editor's two languages in headless Chromium against a real
gateway (in process) and a real Redis: English and German side by side, the
German preview and history, and the "missing German" filter."""

import pytest
from playwright.async_api import expect

from core.settings import KnowledgeSettings
from knowledge.models import Article
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa
from tests.e2e.test_kb_editor_browser import editor_page, open_article
from tests.staff import make_staff

pytestmark = pytest.mark.e2e


@pytest.fixture
async def gateway(redis_server, kb_embedder):
    async with gateway_without_rasa(redis_server, 6) as (settings, redis, _):
        await make_staff(redis, "edna", "editor")
        yield settings.base_url, redis


async def test_the_german_version_is_edited_beside_the_english_and_saved(gateway, browser):
    base, redis = gateway
    page = await editor_page(browser, base, "edna")
    await open_article(page, "paypal", "Payment methods")
    # side by side: the English article and its German version
    await expect(page.get_by_test_id("lang-main")).to_contain_text("English (main language)")
    await expect(page.get_by_test_id("lang-other")).to_contain_text("German")
    await expect(page.get_by_test_id("t-title")).to_have_value("Zahlungsarten")
    main_box = await page.get_by_test_id("lang-main").bounding_box()
    other_box = await page.get_by_test_id("lang-other").bounding_box()
    assert main_box and other_box and other_box["x"] > main_box["x"] + main_box["width"] - 1

    # keyboard only: from the German title into its answer
    await page.get_by_test_id("t-title").focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.get_by_test_id("t-answer")).to_be_focused()
    german = await page.get_by_test_id("t-answer").input_value()
    await page.keyboard.press("Control+End")
    await page.keyboard.type("\n\nNeu: Sie können jetzt auch mit **Klarna** zahlen.")
    await page.get_by_test_id("t-questions").press("Control+End")
    await page.get_by_test_id("t-questions").type("\nGeht Klarna?")

    # the German preview, per channel
    preview = page.get_by_test_id("kb-preview")
    await page.get_by_test_id("preview-lang-de").click()
    await expect(preview.locator("strong", has_text="Klarna")).to_be_visible()
    await expect(preview.get_by_test_id("preview-summary")).to_contain_text("German")
    await page.get_by_test_id("preview-tab-sms").click()  # the short German SMS variant goes
    await expect(preview.get_by_test_id("preview-summary")).to_contain_text("sms variant")
    await expect(preview.get_by_test_id("preview-message").first).to_contain_text("Wir akzeptieren")
    await expect(preview.get_by_test_id("preview-summary")).to_contain_text("GSM-7")
    await page.get_by_test_id("preview-lang-en").click()
    await expect(preview.get_by_test_id("preview-message").first).not_to_contain_text("Klarna")

    await page.get_by_test_id("kb-save").click()
    await page.get_by_test_id("kb-confirm-go").click()  # a live article changes
    await expect(page.get_by_test_id("kb-message")).to_contain_text("Saved version 2")
    saved = await ArticleStore(redis).get("payment-methods")
    assert saved.translations["de"].answer.startswith(german.strip())
    assert saved.translations["de"].answer.endswith("mit **Klarna** zahlen.")
    assert "Geht Klarna?" in saved.translations["de"].questions
    assert "Klarna" not in saved.answer

    # the history names the German fields and shows their diff
    rows = page.get_by_test_id("kb-version-row")
    await expect(rows.first).to_contain_text("de.questions, de.answer")
    await rows.first.get_by_test_id("kb-diff-button").click()
    german_diff = page.get_by_test_id("kb-diff").locator("[data-lang=de]")
    await expect(german_diff.locator("ins").last).to_contain_text("mit **Klarna** zahlen")
    await expect(german_diff.get_by_test_id("kb-diff-questions")).to_contain_text("Geht Klarna?")
    await expect(page.get_by_test_id("kb-diff").locator("[data-lang=en]")).to_have_count(0)
    assert page.errors == [] and page.dialogs == []


async def test_the_missing_german_filter_lists_the_articles_without_german(gateway, browser):
    base, redis = gateway
    store = ArticleStore(redis, seed_folder=KnowledgeSettings().articles_dir)
    await store.revision()  # seeded: every seed article has its German version
    await store.save(Article(id="purple-unicorns", title="Purple unicorns",
                             questions=("Do you sell purple unicorns?",),
                             answer="Yes, in three sizes."),
                     expected_version=None, author="test")
    page = await editor_page(browser, base, "edna")
    await expect(page.get_by_test_id("kb-missing-count")).to_have_text("1")
    await page.get_by_test_id("kb-missing-de").check()
    items = page.get_by_test_id("kb-article")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("Purple unicorns")
    await expect(items.first.get_by_test_id("kb-no-german")).to_be_visible()

    await items.first.click()
    await expect(page.get_by_test_id("t-missing")).to_contain_text("No German version yet")
    await page.get_by_test_id("t-title").fill("Lila Einhörner")
    await page.get_by_test_id("t-questions").fill("Habt ihr lila Einhörner?\nlila Einhorn")
    await page.get_by_test_id("t-answer").fill("Ja, in drei Größen.")
    await expect(page.get_by_test_id("t-missing")).to_be_hidden()
    await page.get_by_test_id("kb-save").click()
    await expect(page.get_by_test_id("kb-confirm-languages")).to_have_text(
        "Languages: German (added).")  # a live article gets its German version
    await page.get_by_test_id("kb-confirm-go").click()
    await expect(page.get_by_test_id("kb-message")).to_contain_text("Saved version 2")
    await expect(page.get_by_test_id("kb-missing-count")).to_have_text("0")
    await expect(items).to_have_count(0)
    german = (await store.get("purple-unicorns")).text("de")
    assert german.title == "Lila Einhörner"
    assert german.questions == ("Habt ihr lila Einhörner?", "lila Einhorn")

    # a German version half written is refused, and nothing changes
    await page.get_by_test_id("kb-missing-de").uncheck()
    await expect(page.locator("#kb-count")).to_have_text("47 articles")
    await page.reload()  # so the form below is the article as loaded, not as it was
    await expect(page.get_by_test_id("kb-article").first).to_be_visible()
    await open_article(page, "unicorns", "Purple unicorns")
    await page.get_by_test_id("t-answer").fill("")
    await page.get_by_test_id("kb-save").click()
    await expect(page.get_by_test_id("kb-message")).to_contain_text("Not saved")
    assert (await store.get("purple-unicorns")).version == 2
    assert page.errors == []
