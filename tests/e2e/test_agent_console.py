"""The agent console in headless Chromium against the real stack: customers on
web chat and Telegram ask for a person, agents see them in the queue with the
whole transcript, claim, reply and hand back to the bot, live in every console.

The stack is shared with other modules: every test uses its own customers and
agents, and resolves the tickets it opened."""

import asyncio
import re
import uuid

import httpx
import pytest
from playwright.async_api import expect

from core.staff import StaffStore
from tests.bot.gateway.test_stack import Chat
from tests.e2e.chromium import chromium
from tests.staff import signed_in_client

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

PASSWORD = "correct horse battery"
REF_RE = re.compile(r"FD-[A-Z0-9]{4}")
ASK_FOR_A_PERSON = "I want to talk to a person"
SILENCE_S = 3  # long enough for a bot turn (about 1 s here) to have happened


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class TelegramCustomer:
    """A Telegram user of the channel sandbox (its /_sandbox/ endpoints)."""

    def __init__(self, stack, first_name: str) -> None:
        self.base = f"http://127.0.0.1:{stack.sandbox_port}/telegram/_sandbox"
        self.user = unique("tg-")
        self.first_name = first_name
        self.http = httpx.AsyncClient(timeout=30)

    async def inbox(self) -> list[dict]:
        response = await self.http.get(f"{self.base}/transcript", params={"user": self.user})
        response.raise_for_status()
        return [m for m in response.json() if m["from"] == "bot"]

    async def send(self, text: str) -> None:
        response = await self.http.post(f"{self.base}/send", json={
            "user": self.user, "first_name": self.first_name, "text": text})
        assert response.json()["status"] in (200, 204), response.text

    async def say(self, text: str) -> dict:
        before = len(await self.inbox())
        await self.send(text)
        return await self.received_after(before)

    async def received_after(self, before: int, containing: str = "", timeout: float = 30
                             ) -> dict:
        for _ in range(int(timeout / 0.1)):
            for message in (await self.inbox())[before:]:
                if containing in message["text"]:
                    return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"Telegram got no message containing {containing!r}")


async def web_says(chat: Chat, text: str, author: str = "bot", containing: str = "",
                   timeout: float = 30) -> dict:
    """Say something on web chat; the next entry by `author` that contains `containing`."""
    await chat.say(text)
    return await web_receives(chat, author, containing, timeout)


async def web_receives(chat: Chat, author: str, containing: str = "", timeout: float = 30
                       ) -> dict:
    while True:
        entry = (await chat.next_frame("entry", timeout))["entry"]
        if entry["author"] == author and containing in entry["text"]:
            return entry


@pytest.fixture
def redis(stack_redis):
    return stack_redis  # these tests look at the stack's own Redis


@pytest.fixture
async def browser(stack):
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def open_console(stack, browser, redis):
    """Sign a new agent in through /login; their console page, once it is live."""
    errors: list[str] = []

    async def open_as(display_name: str):
        username = unique("agent")
        await StaffStore(redis).create(username, PASSWORD, ["agent"], display_name)
        context = await browser.new_context()
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://{stack.host}:{stack.port}/agent")
        await expect(page).to_have_url(re.compile(r"/login\?next="))
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(re.compile(r"/agent$"))
        await expect(page.get_by_test_id("connection")).to_have_text("live", timeout=10_000)
        page.username = username
        return page

    yield open_as
    assert errors == [], f"JavaScript errors in the console: {errors}"


def queue_item(page, ref: str):
    return page.locator(f'[data-testid="queue-item"][data-ref="{ref}"]')


def entries(page, author: str | None = None):
    selector = '[data-testid="transcript"] [data-testid="entry"]'
    return page.locator(selector + (f'[data-author="{author}"]' if author else ""))


async def resolve_quietly(stack, ref: str, *usernames: str) -> None:
    """Clean-up through the API, whoever of them holds the ticket (if anyone)."""
    for username in usernames:
        client = await signed_in_client(f"http://{stack.host}:{stack.port}", username)
        try:
            response = await client.post(f"/api/agent/tickets/{ref}/resolve",
                                         json={"csat": False})
        finally:
            await client.aclose()
        if response.status_code == 200:
            return


async def test_an_agent_takes_over_from_the_bot_on_telegram_and_hands_back(stack, open_console):
    # Two customers ask for a person: one on web chat, one on Telegram.
    web = await Chat.open(stack)
    telegram = TelegramCustomer(stack, first_name="Tove")
    refs: list[str] = []
    agent = None
    try:
        answer = await web_says(web, "can I pay with PayPal?")
        assert answer["article"]["id"] == "payment-methods"
        web_ref = REF_RE.search((await web_says(web, ASK_FOR_A_PERSON))["text"])[0]
        refs.append(web_ref)
        await telegram.say("hello")
        tg_ref = REF_RE.search((await telegram.say(ASK_FOR_A_PERSON))["text"])[0]
        refs.append(tg_ref)

        agent = await open_console("Ada Agent")
        for ref, channel in ((web_ref, "web"), (tg_ref, "telegram")):
            await expect(queue_item(agent, ref)).to_be_visible()
            await expect(queue_item(agent, ref)).to_have_attribute("data-channel", channel)
            await expect(queue_item(agent, ref)).to_contain_text("Asked for a person")
            await expect(queue_item(agent, ref).locator(".since")).to_contain_text("waiting")

        # The web customer's whole conversation, with the bot's article and what it understood.
        await queue_item(agent, web_ref).locator("button.open").click()
        await expect(agent.get_by_test_id("conv-ref")).to_have_text(web_ref)
        await expect(entries(agent, "customer").first).to_contain_text("can I pay with PayPal?")
        bot_answer = entries(agent, "bot").filter(has_text="PayPal").first
        await expect(bot_answer.get_by_test_id("entry-article")).to_contain_text(
            re.compile(r"payment-methods v\d+"))
        await expect(bot_answer.locator(".channel")).to_have_attribute("data-channel", "web")
        await expect(agent.get_by_test_id("summary-intents")).to_contain_text("request_human")
        await expect(agent.get_by_test_id("summary-articles")).to_contain_text("payment-methods")
        await expect(agent.get_by_test_id("claim-open")).to_be_visible()
        await expect(agent.get_by_test_id("reply-text")).to_be_disabled()

        # The Telegram customer's: claim it from the queue.
        await queue_item(agent, tg_ref).get_by_test_id("claim").click()
        await expect(agent.get_by_test_id("conv-ref")).to_have_text(tg_ref)
        await expect(agent.get_by_test_id("conv-status")).to_have_text("with you")
        await expect(agent.get_by_test_id("conv-name")).to_have_text("Tove")
        mine = agent.locator(f'[data-testid="mine-item"][data-ref="{tg_ref}"]')
        await expect(mine).to_be_visible()
        await expect(queue_item(agent, tg_ref)).to_have_count(0)
        await expect(entries(agent, "customer").first).to_have_text(re.compile("hello"))
        await expect(agent.get_by_test_id("identities")).to_contain_text("Telegram")
        await expect(agent.get_by_test_id("reply-channel")).to_contain_text(
            "Telegram (current channel)")
        await telegram.received_after(0, containing="has joined the conversation")

        # The agent's reply reaches Telegram.
        before = len(await telegram.inbox())
        await agent.get_by_test_id("reply-text").fill("Hi Tove, Ada here. How can I help?")
        await agent.get_by_test_id("reply-send").click()
        await expect(entries(agent, "agent").last).to_contain_text("Ada here")
        await telegram.received_after(before, containing="Ada here")

        # While the agent has the conversation the bot is silent; the agent sees
        # the customer's question live.
        before = len(await telegram.inbox())
        await telegram.send("can I pay with PayPal?")
        await expect(entries(agent, "customer").last).to_contain_text("can I pay with PayPal?")
        await asyncio.sleep(SILENCE_S)
        assert len(await telegram.inbox()) == before
        await expect(entries(agent, "bot").filter(has_text="PayPal")).to_have_count(0)

        # An internal note stays in the console.
        await agent.get_by_test_id("note-text").fill("Asked about PayPal again.")
        await agent.get_by_test_id("note-add").click()
        await expect(agent.get_by_test_id("note").last).to_contain_text("Asked about PayPal again.")
        assert all("Asked about PayPal" not in m["text"] for m in await telegram.inbox())

        # Resolve (asking for a rating): the customer is told and asked.
        before = len(await telegram.inbox())
        await agent.get_by_test_id("resolve").click()
        await expect(agent.get_by_test_id("conv-status")).to_have_text("resolved")
        await telegram.received_after(before, containing="handed you back to the assistant")
        await telegram.received_after(before, containing="How did we do?")
        refs.remove(tg_ref)

        # The agent is still online, and the bot answers again.
        reply = await telegram.say("can I pay with PayPal?")
        assert "PayPal" in reply["text"]

        # The web customer: claim from the open conversation, reply on web chat, resolve.
        await queue_item(agent, web_ref).locator("button.open").click()
        await expect(agent.get_by_test_id("conv-ref")).to_have_text(web_ref)
        await agent.get_by_test_id("claim-open").click()
        await expect(agent.get_by_test_id("conv-status")).to_have_text("with you")
        await web_receives(web, "system", containing="has joined the conversation")
        # A canned answer from the knowledge base, after a greeting of the agent's own.
        await agent.get_by_test_id("reply-text").fill("Hello from a person on web chat.")
        await agent.get_by_test_id("canned-q").fill("paypal")
        canned = agent.locator(
            '[data-testid="canned-item"][data-id="payment-methods"][data-language="en"]')
        await canned.get_by_test_id("canned-use").click()
        await expect(agent.get_by_test_id("reply-text")).to_have_value(
            re.compile(r"^Hello from a person on web chat\.\n\n.*PayPal", re.DOTALL))
        await agent.get_by_test_id("reply-text").press("Control+Enter")
        sent = await web_receives(web, "agent")
        assert sent["text"].startswith("Hello from a person on web chat.")
        assert "PayPal" in sent["text"]
        await agent.get_by_test_id("ask-rating").uncheck()
        await agent.get_by_test_id("resolve").click()
        await expect(agent.get_by_test_id("conv-status")).to_have_text("resolved")
        await web_receives(web, "system", containing="handed you back")
        refs.remove(web_ref)
    finally:
        for ref in refs if agent else ():
            await resolve_quietly(stack, ref, agent.username)
        await web.close()
        await telegram.http.aclose()


async def test_two_agents_see_the_same_queue_change_live(stack, open_console, redis):
    ada = await open_console("Ada")
    bob = await open_console("Bob")
    web = await Chat.open(stack)
    ref = None
    try:
        # Markup from a customer is text in the console, never markup.
        attack = '<img src=x onerror="document.title=1"> <b>bold?</b>'
        await web_says(web, attack)
        ref = REF_RE.search((await web_says(web, ASK_FOR_A_PERSON))["text"])[0]

        # The new ticket appears in both consoles without a reload.
        for page in (ada, bob):
            await expect(queue_item(page, ref)).to_be_visible()
        await queue_item(bob, ref).locator("button.open").click()
        await expect(bob.get_by_test_id("conv-ref")).to_have_text(ref)
        shown = entries(bob, "customer").first
        await expect(shown).to_contain_text(attack)
        assert await shown.locator("img, b").count() == 0

        # Ada claims: the ticket leaves Bob's queue at once and shows as hers.
        await queue_item(ada, ref).get_by_test_id("claim").click()
        await expect(ada.locator(f'[data-testid="mine-item"][data-ref="{ref}"]')).to_be_visible()
        await expect(queue_item(bob, ref)).to_have_count(0)
        await expect(bob.locator(f'[data-testid="others-item"][data-ref="{ref}"]')).to_contain_text(
            ada.username)
        await expect(bob.get_by_test_id("conv-status")).to_have_text(f"with {ada.username}")
        await expect(bob.get_by_test_id("claim-open")).to_be_hidden()
        await expect(bob.get_by_test_id("reply-text")).to_be_disabled()

        # Bob, who is looking at the conversation too, sees Ada's reply live.
        await ada.get_by_test_id("reply-text").fill("Ada speaking.")
        await ada.get_by_test_id("reply-send").click()
        await expect(entries(bob, "agent").last).to_contain_text("Ada speaking.")
        assert (await web_receives(web, "agent"))["text"] == "Ada speaking."

        # Ada hands it to Bob; then Bob resolves.
        await ada.get_by_test_id("transfer-to").select_option(f"agent:{bob.username}")
        await ada.get_by_test_id("transfer").click()
        await expect(bob.locator(f'[data-testid="mine-item"][data-ref="{ref}"]')).to_be_visible()
        await expect(ada.locator(f'[data-testid="mine-item"][data-ref="{ref}"]')).to_have_count(0)
        await expect(bob.get_by_test_id("conv-status")).to_have_text("with you")
        await bob.get_by_test_id("ask-rating").uncheck()
        await bob.get_by_test_id("resolve").click()
        await expect(bob.get_by_test_id("conv-status")).to_have_text("resolved")
        await expect(bob.locator(f'[data-testid="mine-item"][data-ref="{ref}"]')).to_have_count(0)
        ref = None

        # Presence travels too: Bob steps away, then closes his console.
        bob_option = ada.locator(f'#transfer-to option[value="agent:{bob.username}"]')
        await bob.get_by_test_id("presence").select_option("away")
        await expect(bob_option).to_have_text(f"{bob.username} (away)")
        await bob.close()
        await expect(bob_option).to_have_text(f"{bob.username} (offline)")
    finally:
        if ref is not None:
            await resolve_quietly(stack, ref, ada.username, bob.username)
        await web.close()
