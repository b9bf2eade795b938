"""Screenshots of the web chat widget for docs/customers.md, taken with Playwright
from a running product: a throwaway Redis and the real stack (Rasa, action
server, gateway, sandboxes), as the tests start them.

    .venv/bin/python scripts/widget_screenshots.py

Writes docs/screenshots/widget-*.png (desktop 1280x860 and phone 390x844)."""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright, expect  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.channels.web.session import SessionSigner  # noqa: E402
from bot.customers.identity import IdentityStore  # noqa: E402
from bot.infra.redis_procs import free_port, start_redis  # noqa: E402
from bot.infra.supervisor import Stack  # noqa: E402
from core.redis import text_client  # noqa: E402
from core.settings import Settings, with_sandboxes  # noqa: E402
from handoff.service import HandoffService  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SETTLED = "() => document.getAnimations().every(a => a.playState !== 'running')"


async def snap(page, name: str) -> None:
    """A screenshot once the panel's opening animation (and any other) is over."""
    await page.wait_for_function(SETTLED)
    await page.screenshot(path=OUT / name)
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


async def shoot(settings: Settings) -> None:
    base = f"http://{settings.host}:{settings.port}"
    redis = text_client(settings.effective_redis_url)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                          args=["--no-sandbox", "--disable-gpu"])
        page = await (await browser.new_context(viewport=DESKTOP)).new_page()
        await page.goto(base + "/")
        await expect(page.get_by_test_id("fd-topic").first).to_be_visible(timeout=30_000)
        await snap(page, "widget-greeting.png")

        await page.get_by_test_id("fd-topic").filter(has_text="Track your order").click()
        answer = page.locator('[data-testid="fd-msg"][data-author="bot"]').last
        await expect(answer).to_contain_text("track", timeout=120_000)
        await snap(page, "widget-answer.png")

        # Queued behind one other customer: the header says where they stand.
        token = await page.evaluate("() => localStorage.getItem('frontdoor.token')")
        visitor = SessionSigner(settings.session_secret.get_secret_value(), 86400).visitor(token)
        customer_id = await IdentityStore(redis).find("web", visitor)
        handoff = HandoffService(redis, settings.handoff)
        await handoff.escalate("c_screenshot_ahead", "web", "asked_for_human")
        await handoff.escalate(customer_id, "web", "asked_for_human")
        await expect(page.get_by_test_id("fd-status")).to_contain_text("number 2",
                                                                       timeout=30_000)
        await snap(page, "widget-queued.png")

        phone = await (await browser.new_context(viewport=PHONE, is_mobile=True,
                                                 has_touch=True)).new_page()
        await phone.goto(base + "/")
        await expect(phone.get_by_test_id("fd-launcher")).to_be_visible(timeout=30_000)
        await snap(phone, "widget-phone-closed.png")
        await phone.get_by_test_id("fd-launcher").click()
        await expect(phone.get_by_test_id("fd-topic").first).to_be_visible(timeout=30_000)
        await snap(phone, "widget-phone-open.png")
        await browser.close()
    await redis.aclose()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="fd-shots-"))
    redis = start_redis(free_port(), work / "redis")
    stack = Stack(with_sandboxes(Settings(
        redis_url=f"{redis.url}/0", port=free_port(), rasa_port=free_port(),
        actions_port=free_port(), sandbox_port=free_port(), var_dir=work / "var",
        # set here, so this script can read the widget's session token too
        session_secret=SecretStr(secrets.token_urlsafe(32)))),
        echo=lambda *_: None)
    stack.start()
    try:
        asyncio.run(shoot(stack.settings))
    finally:
        stack.stop()
        redis.stop()
    for png in sorted(OUT.glob("widget-*.png")):
        print(png.relative_to(ROOT))


if __name__ == "__main__":
    main()
