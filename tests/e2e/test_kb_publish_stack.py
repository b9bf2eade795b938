"""The whole product: an editor publishes a change in the editor page and a web
chat customer gets the new answer seconds later (real Rasa server, action
server, gateway and Redis; no restart, no retraining)."""

import time

import pytest
from playwright.async_api import expect

from core.redis import text_client
from knowledge.store import ArticleStore
from tests.e2e.chromium import chromium
from tests.e2e.test_kb_editor_browser import open_article
from tests.e2e.test_webchat_browser import ask, bot_messages
from tests.staff import make_staff

pytestmark = [pytest.mark.stack, pytest.mark.e2e]
QUESTION = "when is the showroom open?"
NEW_ANSWER = "From this week the showroom is open **every day, 7 to 23**."


@pytest.fixture
async def stack_redis(stack):
    redis = text_client(stack.effective_redis_url)
    yield redis
    await redis.aclose()


async def test_a_published_change_reaches_the_web_chat_within_seconds(stack, stack_redis):
    base = f"http://{stack.host}:{stack.port}"
    username = f"ed{time.time_ns() % 10**8}"
    await make_staff(stack_redis, username, "editor")
    store = ArticleStore(stack_redis)
    async with chromium() as browser:
        customer = await (await browser.new_context()).new_page()
        await customer.goto(f"{base}/")
        await expect(customer.get_by_test_id("fd-status")).to_have_attribute(
            "data-state", "online", timeout=20_000)
        await ask(customer, QUESTION)
        await expect(bot_messages(customer).last).to_contain_text("showroom",
                                                                  timeout=30_000)
        assert "7 to 23" not in await bot_messages(customer).last.inner_text()
        before = await store.get("showroom-hours")

        editor = await (await browser.new_context()).new_page()
        await editor.goto(f"{base}/login?next=/kb")
        await editor.fill("input[name=username]", username)
        await editor.fill("input[name=password]", "correct horse battery")
        await editor.click("button[type=submit]")
        await expect(editor.get_by_test_id("kb-article").first).to_be_visible()
        await open_article(editor, "showroom", before.title)
        await editor.get_by_test_id("f-answer").fill(NEW_ANSWER)
        await editor.get_by_test_id("f-status").select_option("published")
        await editor.get_by_test_id("kb-save").click()
        await editor.get_by_test_id("kb-confirm-go").click()
        await expect(editor.get_by_test_id("kb-message")).to_contain_text(
            "live on every channel now")
        published = time.monotonic()

        answered = await bot_messages(customer).count()
        await ask(customer, QUESTION)
        await expect(bot_messages(customer)).to_have_count(answered + 1, timeout=30_000)
        await expect(bot_messages(customer).last).to_contain_text("every day, 7 to 23")
        assert time.monotonic() - published < 30
    # Leave the shared stack's knowledge base as it was (a rollback is a new version).
    current = await store.get("showroom-hours")
    await store.save(before, expected_version=current.version, author="test-cleanup")
