"""Screenshots of the staff pages for docs/screenshots/: the console with a
queue on four channels, a claimed conversation, the reports, the sign-in page
after a wrong password. Starts what it needs (a throwaway Redis, the gateway
and the channel sandboxes; no Rasa) and stops it again.

    .venv/bin/python scripts/staff_screenshots.py   # from the repository root
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import expect  # noqa: E402

from bot.infra.redis_procs import free_port, start_redis  # noqa: E402
from handoff.reports import count_conversation  # noqa: E402
from tests.e2e.chromium import chromium  # noqa: E402
from tests.e2e.staff_scene import busy_queue, knowledge, running_product, sign_in  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


async def figures(scene) -> None:
    """A week's worth of counters for the reports: conversations per channel and
    a few resolved, rated tickets."""
    now = time.time()
    for channel, n in (("web", 46), ("telegram", 21), ("slack", 9), ("sms", 13)):
        for _ in range(n):
            await count_conversation(scene.redis, now, channel)
    for n, (channel, score) in enumerate((("web", 5), ("web", 4), ("telegram", 5), ("sms", 3),
                                          ("slack", 4))):
        customer = await scene.customer(channel, f"done-{n}", f"Done {n}")
        ticket = await scene.escalate(customer, channel,
                                      "repeated_fallback" if n % 2 else "asked_for_human")
        await scene.handoff.claim(ticket.ref, "lee")
        await scene.handoff.agent_replied(ticket.ref)
        await scene.handoff.resolve(ticket.ref, "lee")
        await scene.handoff.expect_csat(customer, ticket.ref)
        await scene.handoff.record_csat(customer, score, channel=channel)


async def main() -> None:
    # The scene's customers have no sandbox chats: their notices fail to send, quietly.
    logging.disable(logging.ERROR)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        redis = start_redis(free_port(), Path(tmp))
        try:
            async with running_product(redis.url, 0) as scene, chromium() as browser:
                await knowledge(scene)
                await scene.agent("lee", "Lee")
                await figures(scene)
                tickets = await busy_queue(scene)
                await scene.agent("ada", "Ada Agent")
                context = await browser.new_context(viewport={"width": 1440, "height": 900},
                                                    device_scale_factor=1)
                page = await context.new_page()

                await page.goto(f"{scene.base}/login?next=/agent")
                await page.get_by_label("Username").fill("ada")
                await page.get_by_label("Password").fill("wrong")
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("alert")).to_be_visible()
                await page.screenshot(path=OUT / "signin.png")

                await sign_in(page, scene.base, "ada")
                await expect(page.get_by_test_id("connection")).to_have_text("live")
                await expect(page.get_by_test_id("queue-item")).to_have_count(5)
                await page.screenshot(path=OUT / "console-queue.png")

                ref = tickets["telegram"].ref
                await page.locator(f'[data-testid="queue-item"][data-ref="{ref}"]'
                                   ).get_by_test_id("claim").click()
                await expect(page.get_by_test_id("conv-status")).to_have_text("with you")
                await page.get_by_test_id("canned-q").fill("track")
                await expect(page.get_by_test_id("canned-item")).to_have_count(1)
                await page.get_by_test_id("reply-text").fill(
                    "Hi Tove, Ada here. I've asked the courier about order 44-1187 and will "
                    "update you within the hour.")
                await page.get_by_test_id("reply-send").click()
                await expect(page.locator('[data-testid="entry"][data-author="agent"]')
                             ).to_have_count(1)
                await page.get_by_test_id("reply-text").focus()
                await page.screenshot(path=OUT / "console-conversation.png")

                await page.keyboard.press("Escape")
                await page.locator("body").click(position={"x": 700, "y": 20})
                await page.keyboard.press("?")
                await expect(page.get_by_test_id("shortcuts")).to_be_visible()
                await page.evaluate(  # the opening animation has ended
                    "() => Promise.all(document.getElementById('shortcuts')"
                    ".getAnimations().map((a) => a.finished))")
                await page.screenshot(path=OUT / "console-shortcuts.png")
                await page.keyboard.press("Escape")

                await page.goto(f"{scene.base}/reports")
                await page.screenshot(path=OUT / "reports.png", full_page=True)
                await context.close()
        finally:
            redis.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
