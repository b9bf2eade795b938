import asyncio

from bot.channels.base import Recipient
from bot.channels.memory import InMemoryChannel
from bot.gateway.keys import GATEWAY_KEYS
from bot.gateway.outbox import Outbox, OutboxSender
from core.models import TranscriptEntry


def sender_for(redis, channel, max_attempts=5):
    return OutboxSender(redis, {"web": channel}, concurrency=4, reclaim_idle_ms=60_000,
                        max_attempts=max_attempts, backoff_s=0.01, backoff_max_s=0.02)


async def wait_for(predicate, timeout=3.0):
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_a_failing_platform_is_retried_and_the_message_sent_exactly_once(redis):
    channel = InMemoryChannel(fail_times=3)
    sender = sender_for(redis, channel)
    await sender.worker.start()
    try:
        await Outbox(redis).enqueue("web", Recipient("c_1", "v_1"),
                                    TranscriptEntry(channel="web", author="bot", text="hello"))
        await wait_for(lambda: channel.sent)
        await asyncio.sleep(0.1)
    finally:
        await sender.worker.stop()
    assert channel.attempts == 4 and len(channel.sent) == 1
    pending = await redis.xpending(GATEWAY_KEYS.outbox_stream, "senders")
    assert pending["pending"] == 0


async def test_a_message_that_never_goes_through_is_kept_as_dead_letter(redis):
    channel = InMemoryChannel(fail_times=100)
    sender = sender_for(redis, channel, max_attempts=3)
    await sender.worker.start()
    try:
        await Outbox(redis).enqueue("web", Recipient("c_1", "v_1"),
                                    TranscriptEntry(channel="web", author="bot", text="lost?"))
        await wait_for(lambda: channel.attempts == 3)
        await asyncio.sleep(0.1)
    finally:
        await sender.worker.stop()
    dead = await redis.xrange(GATEWAY_KEYS.outbox_dead)
    assert len(dead) == 1 and "lost?" in dead[0][1]["entry"]


async def test_an_entry_delivered_before_a_crash_is_not_sent_again(redis):
    channel = InMemoryChannel()
    outbox_id = await Outbox(redis).enqueue(
        "web", Recipient("c_1", "v_1"), TranscriptEntry(channel="web", author="bot", text="x"))
    # sent, then the worker died before its ack
    await redis.set(GATEWAY_KEYS.outbox_done(outbox_id), "1")
    sender = sender_for(redis, channel)
    await sender.worker.start()
    try:
        await asyncio.sleep(0.3)
    finally:
        await sender.worker.stop()
    assert channel.sent == []
