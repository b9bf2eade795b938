"""The customer side against the real stack (Rasa, action server, gateway and
the channel sandboxes): a suggested topic answered from the knowledge base in
the browser, a typed rating on SMS and Telegram, and the link confirmation on
the channel that issued the code."""

import re
import uuid

import pytest
from playwright.async_api import expect

from core.settings import HandoffSettings
from handoff.service import HandoffService
from tests.bot.channels.test_conversations import Customer
from tests.bot.gateway.test_stack import Chat
from tests.e2e.chromium import chromium
from tests.e2e.test_agent_console import ASK_FOR_A_PERSON, REF_RE
from tests.e2e.test_one_customer import code_in, said_to
from tests.staff import make_staff, signed_in_client

pytestmark = [pytest.mark.stack, pytest.mark.e2e]
THANKS = "Thank you for your rating!"


async def test_pressing_a_suggested_topic_answers_it_from_the_knowledge_base(stack):
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"http://{stack.host}:{stack.port}/")
        topic = page.get_by_test_id("fd-topic").filter(has_text="Payment methods")
        await expect(topic).to_be_visible(timeout=20_000)
        await topic.click()
        answer = page.locator('[data-testid="fd-msg"][data-author="bot"]').last
        await expect(answer).to_contain_text("PayPal", timeout=90_000)  # a cold KB
        await expect(answer.get_by_test_id("fd-article-link")).to_have_text("Payment methods")


async def _rating_asked(stack, redis, customer: Customer) -> str:
    """The customer asks for a person, an agent helps and resolves with a rating
    request; returns the ticket's ref once the customer was asked."""
    # Sent without waiting for the usual 30 s: the first turn of a cold stack is slower.
    await customer.http.post(f"{customer.base}/send",
                             json={"user": customer.user, "text": ASK_FOR_A_PERSON})
    ref = REF_RE.search((await said_to(customer, "FD-", timeout=90))["text"])[0]
    username = f"rater{uuid.uuid4().hex[:6]}"
    await make_staff(redis, username, "agent")
    agent = await signed_in_client(f"http://{stack.host}:{stack.port}", username)
    try:
        assert (await agent.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
        assert (await agent.post(f"/api/agent/tickets/{ref}/resolve",
                                 json={"csat": True})).status_code == 200
    finally:
        await agent.aclose()
    await said_to(customer, "How did we do?")
    return ref


@pytest.mark.parametrize("channel", ["sms", "telegram"])
async def test_a_typed_5_rates_while_a_rating_is_asked_and_goes_to_the_bot_otherwise(
        stack, stack_redis, channel):
    customer = Customer(stack, channel)
    try:
        ref = await _rating_asked(stack, stack_redis, customer)
        assert (await customer.say("5"))["text"] == THANKS
        ticket = await HandoffService(stack_redis, HandoffSettings()).queue.get(ref)
        assert ticket.csat == 5
        # Nothing asked any more: "5" is a message for the assistant again.
        assert (await customer.say("5"))["text"] != THANKS
    finally:
        await customer.http.aclose()


async def test_a_link_by_code_is_confirmed_on_the_channel_that_issued_it(stack):
    telegram = Customer(stack, "telegram")
    chat = await Chat.open(stack)
    try:
        code = code_in(await telegram.say("link"))
        await chat.say(code)
        await said_to(telegram, "wants to join")
        confirmed = await telegram.say("YES")
        assert re.search(r"Linked: this conversation continues on web chat too",
                         confirmed["text"])
    finally:
        await chat.close()
        await telegram.http.aclose()
