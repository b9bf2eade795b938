"""The fixed-window counter behind the web chat's and the link codes' limits."""

import asyncio

from core.counters import FixedWindow


async def test_concurrent_hits_are_each_counted_once_in_one_window(redis):
    windows = FixedWindow(redis)
    hits = await asyncio.gather(*(windows.hit("fd:test:counter", 60) for _ in range(25)))
    assert sorted(h.count for h in hits) == list(range(1, 26))
    assert all(0 < h.window_left_ms <= 60_000 for h in hits)
    assert 0 < await redis.pttl("fd:test:counter") <= 60_000  # the window ends by itself


async def test_a_new_window_starts_after_the_last_one_ends(redis):
    windows = FixedWindow(redis)
    await windows.hit("fd:test:counter", 0.05)
    await asyncio.sleep(0.1)
    assert (await windows.hit("fd:test:counter", 0.05)).count == 1
