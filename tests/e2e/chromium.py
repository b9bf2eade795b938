"""Headless Chromium for the browser tests: one launcher, and a close that
cannot hang a test's teardown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
CLOSE_TIMEOUT_S = 30


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                          args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            try:
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_S)
            except TimeoutError:  # stopping the Playwright driver below kills it
                log.warning("Chromium did not close within %ss", CLOSE_TIMEOUT_S)
