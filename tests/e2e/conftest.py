"""The browser tests' shared fixture: one headless Chromium per test."""

import pytest

from tests.e2e.chromium import chromium


@pytest.fixture
async def browser():
    async with chromium() as launched:
        yield launched
