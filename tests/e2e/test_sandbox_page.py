"""The /sandbox page in headless Chromium, against an in-memory stand-in for the
three platform sandboxes' control APIs (the page talks to nothing else), so
the page's own contract is tested: what it sends, what it renders and how
safely, and what it presses."""

from __future__ import annotations

import html
import itertools
import time

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from playwright.async_api import expect
from pydantic import BaseModel

from core.settings import Settings
from sandbox import page as sandbox_page
from tests.conftest import free_port, serve

pytestmark = pytest.mark.e2e

ATTACK = "<img src=x onerror=alert(1)>"
BUTTONS = ["Yes, that's it", "No, something else"]
PANES = ("pane-telegram", "pane-slack", "pane-sms")
# What a buggy adapter could let through: none of it may become live markup.
HOSTILE = {
    "telegram": ('<script>alert(1)</script><img src=x onerror="alert(2)"><svg onload="alert(3)">'
                 '</svg><iframe src="javascript:alert(4)"></iframe><b onclick="alert(5)">b</b>'
                 '<a href=" javascript:alert(6)">js</a><a href="data:text/html,x">data</a>'),
    "slack": "<javascript:alert(1)|js> <data:text/html,x|data> <img src=x onerror=alert(2)>",
}


class Send(BaseModel):
    user: str
    text: str = ""
    kind: str = "text"
    phone: str | None = None


class Press(BaseModel):
    user: str
    message_id: str
    index: int


class FakeSandboxes:
    """In-memory control APIs under /telegram, /slack and /twilio: every text
    is echoed with two buttons (none on SMS), formatted as the platform would."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.chats: dict[tuple[str, str], list[dict]] = {}
        self.presses: list[tuple[str, dict]] = []
        self.contacts: list[tuple[str, str, str]] = []

    def add(self, platform: str, user: str, author: str, text: str, buttons=(), **extra) -> None:
        self.chats.setdefault((platform, user), []).append(
            {"id": str(next(self.ids)), "from": author, "text": text, "buttons": list(buttons),
             "ts": time.time(), **extra})

    def reply(self, platform: str, user: str, text: str) -> None:
        if text == "hostile":
            self.add(platform, user, "bot", HOSTILE[platform], BUTTONS)
        elif platform == "telegram":
            self.add(platform, user, "bot",
                     f"<b>You said:</b> {html.escape(text, quote=False)}\n"
                     '<a href="https://example.com/help">Help centre</a>', BUTTONS)
        elif platform == "slack":
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            self.add(platform, user, "bot",
                     f"*You said:* {escaped}\n<https://example.com/help|Help centre>", BUTTONS)
        else:
            self.add(platform, user, "bot", f"You said: {text}\nReply 1 for Returns",
                     segments=1, encoding="GSM-7")

    def router(self, platform: str) -> APIRouter:
        router = APIRouter()

        @router.post("/_sandbox/send")
        async def send(body: Send) -> dict:
            if body.text == "forged":
                return {"status": 403}  # as if the gateway rejected the signature
            if body.kind == "contact":
                self.contacts.append((platform, body.user, body.phone))
                self.add(platform, body.user, "user", f"[contact: {body.phone}]")
                return {"status": 200}
            if body.text == "/share_phone":
                self.add(platform, body.user, "user", body.text)
                self.add(platform, body.user, "bot", "Tap the button to share your number.",
                         keyboard=[{"text": "Share my phone number", "request_contact": True}])
                return {"status": 200}
            self.add(platform, body.user, "user", body.text)
            self.reply(platform, body.user, body.text)
            return {"status": 200}

        @router.post("/_sandbox/press")
        async def press(body: Press) -> dict:
            self.presses.append((platform, body.model_dump()))
            for msg in self.chats.get((platform, body.user), []):
                if msg["id"] == body.message_id:
                    self.add(platform, body.user, "bot", f"You picked {msg['buttons'][body.index]}")
                    return {"status": 200}
            raise HTTPException(404)

        @router.get("/_sandbox/transcript")
        async def transcript(user: str) -> list[dict]:
            return self.chats.get((platform, user), [])

        return router


@pytest.fixture
async def sandbox():
    fake = FakeSandboxes()
    app = FastAPI()
    app.state.settings = Settings(port=free_port())  # the gateway the page links to
    app.include_router(sandbox_page.router)
    for platform in ("telegram", "slack", "twilio"):
        app.include_router(fake.router(platform), prefix=f"/{platform}")
    port = free_port()
    async with serve(app, port):
        fake.url = f"http://127.0.0.1:{port}/sandbox"
        fake.settings = app.state.settings
        yield fake


async def open_page(browser, sandbox):
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.problems = []  # console errors, uncaught exceptions, dialogs
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("dialog", lambda d: page.problems.append(f"dialog: {d.message}"))
    page.response = await page.goto(sandbox.url)
    return page


async def say(pane, text: str) -> None:
    await pane.get_by_test_id("input").fill(text)
    await pane.get_by_test_id("input").press("Enter")


def messages(pane, author: str):
    return pane.locator(f'[data-testid="msg"][data-from="{author}"]')


async def test_three_customers_send_see_formatted_replies_and_press_buttons(browser, sandbox):
    page = await open_page(browser, sandbox)
    assert "default-src 'self'" in page.response.headers["content-security-policy"]
    link = page.get_by_role("link", name="Open the web chat")
    await expect(link).to_have_attribute("href", f"{sandbox.settings.base_url}/")

    for pane_id in PANES:
        pane = page.get_by_test_id(pane_id)
        await say(pane, "where is my order?")
        await expect(messages(pane, "bot")).to_have_count(1)
        await expect(messages(pane, "user")).to_contain_text(["where is my order?"])

    # Telegram HTML and Slack mrkdwn become real formatting and safe links.
    for pane_id in ("pane-telegram", "pane-slack"):
        bot = messages(page.get_by_test_id(pane_id), "bot").first
        await expect(bot.locator("b")).to_have_text("You said:")
        help_link = bot.get_by_role("link", name="Help centre")
        await expect(help_link).to_have_attribute("href", "https://example.com/help")
        await expect(help_link).to_have_attribute("target", "_blank")
        await expect(help_link).to_have_attribute("rel", "noopener noreferrer")
        await expect(bot.get_by_test_id("button")).to_have_text(BUTTONS)

    # SMS: plain text, a segment hint, no buttons.
    sms = page.get_by_test_id("pane-sms")
    await expect(messages(sms, "bot").first).to_contain_text("Reply 1 for Returns")
    await expect(messages(sms, "bot").first).to_contain_text("1 segment, GSM-7")
    assert await sms.get_by_test_id("button").count() == 0

    # Pressing sends exactly the user, message id and button index.
    for pane_id, platform in (("pane-telegram", "telegram"), ("pane-slack", "slack")):
        pane = page.get_by_test_id(pane_id)
        message_id = await messages(pane, "bot").first.get_attribute("data-id")
        await messages(pane, "bot").first.get_by_test_id("button").nth(1).click()
        await expect(messages(pane, "bot").last).to_contain_text("You picked No, something else")
        assert (platform, {"user": "alice", "message_id": message_id, "index": 1}) \
            in sandbox.presses
    assert page.problems == []


async def test_a_rejected_delivery_shows_an_error_and_users_are_separate(browser, sandbox):
    page = await open_page(browser, sandbox)
    slack = page.get_by_test_id("pane-slack")
    await say(slack, "forged")
    await expect(slack.get_by_test_id("error")).to_contain_text("403")

    # Another identity is another customer with their own transcript.
    sms = page.get_by_test_id("pane-sms")
    await say(sms, "first phone")
    await expect(messages(sms, "bot")).to_have_count(1)
    await sms.get_by_test_id("user").fill("+15551230002")
    await expect(sms.get_by_test_id("msg")).to_have_count(0)
    await say(sms, "\u00bfD\u00f3nde est\u00e1 mi pedido? \U0001f600")
    await expect(messages(sms, "user")).to_have_count(1)
    # The page counts the customer's own segments when the sandbox does not.
    await expect(messages(sms, "user").first).to_contain_text("1 segment, UCS-2")
    assert ("twilio", "+15551230002") in sandbox.chats
    assert page.problems == []


async def test_markup_is_shown_as_text_and_never_runs(browser, sandbox):
    page = await open_page(browser, sandbox)
    for pane_id in PANES:
        pane = page.get_by_test_id(pane_id)
        await say(pane, ATTACK)
        await expect(messages(pane, "user").first).to_contain_text(ATTACK)
        await expect(messages(pane, "bot").first).to_contain_text(ATTACK)
    for pane_id in ("pane-telegram", "pane-slack"):
        await say(page.get_by_test_id(pane_id), "hostile")
        await expect(messages(page.get_by_test_id(pane_id), "bot")).to_have_count(2)
    await page.wait_for_timeout(500)

    live = await page.eval_on_selector_all(
        '[data-testid="messages"] *',
        """nodes => nodes.filter(n =>
             ['SCRIPT', 'IMG', 'SVG', 'svg', 'IFRAME'].includes(n.tagName)
             || Array.from(n.attributes).some(a => a.name.startsWith('on'))
             || (n.tagName === 'A' && !/^https?:|^mailto:|^tel:/.test(n.getAttribute('href'))))
           .map(n => n.outerHTML)""")
    assert live == []
    telegram_bot = messages(page.get_by_test_id("pane-telegram"), "bot").last
    await expect(telegram_bot).to_contain_text("<script>alert(1)</script>")
    # Chromium reports the blocked handler attributes of the parsed (inert)
    # hostile markup to the console; nothing may actually run.
    assert [p for p in page.problems if "Content Security Policy" not in p] == []


async def test_a_telegram_reply_keyboard_can_share_the_users_own_contact(browser, sandbox):
    page = await open_page(browser, sandbox)
    page.on("dialog", lambda dialog: dialog.accept("+15551234567"))
    pane = page.get_by_test_id("pane-telegram")
    await pane.get_by_test_id("user").fill("ada")
    await say(pane, "/share_phone")
    share = pane.get_by_test_id("share-contact")
    await expect(share).to_have_text("Share my phone number")
    await share.click()
    await expect(pane.get_by_test_id("msg").last).to_contain_text("[contact: +15551234567]")
    assert sandbox.contacts == [("telegram", "ada", "+15551234567")]
