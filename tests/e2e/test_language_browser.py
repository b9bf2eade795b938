"""The customer's language in the browser, against the real stack: the web chat
widget's EN/DE setting, and what the agent console shows and changes."""

import re

import pytest
from playwright.async_api import expect

from bot.customers.language import CustomerLanguages
from tests.bot.gateway.test_language_stack import customer_of
from tests.bot.gateway.test_stack import Chat
from tests.e2e.test_agent_console import (  # noqa: F401 (fixtures)
    ASK_FOR_A_PERSON,
    REF_RE,
    browser,
    open_console,
    queue_item,
    redis,
    resolve_quietly,
    web_says,
)
from tests.e2e.test_webchat_browser import ask, bot_messages, page  # noqa: F401 (fixture)

pytestmark = [pytest.mark.stack, pytest.mark.e2e]


async def test_the_customer_sets_german_in_the_widget_and_it_stays_after_a_reload(
        page):  # noqa: F811
    await expect(page.get_by_test_id("fd-status")).to_have_attribute(
        "data-state", "online", timeout=20_000)
    setting = page.get_by_test_id("fd-language")
    await expect(setting).to_have_value("en")
    await setting.select_option("de")
    await ask(page, "hello there")  # English, but the customer chose German
    await expect(bot_messages(page).last).to_be_visible(timeout=30_000)
    await page.reload()
    await expect(page.get_by_test_id("fd-status")).to_have_attribute(
        "data-state", "online", timeout=20_000)
    await expect(page.get_by_test_id("fd-language")).to_have_value("de")


async def test_the_agent_sees_a_german_customer_and_can_switch_them_to_english(
        stack, open_console, redis):  # noqa: F811
    chat = await Chat.open(stack)
    ref = None
    agent = None
    try:
        told = await web_says(chat, "Deutsch", author="system")
        assert told["text"] == "In Ordnung, ich schreibe Ihnen ab jetzt auf Deutsch."
        ref = REF_RE.search((await web_says(chat, ASK_FOR_A_PERSON))["text"])[0]
        customer = await customer_of(redis, chat)

        agent = await open_console("Ada Agent")
        badge = queue_item(agent, ref).get_by_test_id("language")
        await expect(badge).to_have_text("DE")
        await expect(badge).to_have_attribute("title", "Deutsch")
        await queue_item(agent, ref).locator("button.open").click()
        await expect(agent.get_by_test_id("conv-ref")).to_have_text(ref)
        await expect(agent.get_by_test_id("conv-language-badge")).to_have_text("DE")
        await expect(agent.get_by_test_id("customer-language")).to_have_value("de")
        await expect(agent.get_by_test_id("language-source")).to_contain_text("chosen")
        await expect(agent.get_by_test_id("entry-language").first).to_have_text(
            re.compile("DE|EN"))

        await agent.get_by_test_id("customer-language").select_option("en")
        await expect(agent.get_by_test_id("conv-language-badge")).to_have_text("EN")
        await expect(agent.get_by_test_id("language-source")).to_contain_text("agent")
        languages = CustomerLanguages(redis)
        assert (await languages.get(customer), await languages.source(customer)) == (
            "en", "agent")
    finally:
        await chat.close()
        if ref is not None and agent is not None:
            await resolve_quietly(stack, ref, agent.username)
