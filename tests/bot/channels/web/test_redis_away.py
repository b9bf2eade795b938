"""Redis away: the web chat tells the customer within seconds and acknowledges
a message only once it is stored (the widget re-sends what was not
acknowledged). A real gateway over its own real redis-server, stopped and
started again on the same port."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_sync

from bot.app import create_app
from bot.channels.web.routes import STORE_DELAY_TEXT
from core.settings import Settings
from tests.bot.gateway.test_stack import Chat
from tests.conftest import SESSION_SECRET, free_port, serve


class RedisProcess:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis_sync.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis_sync.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


async def test_while_redis_is_away_a_message_is_not_acknowledged_and_the_customer_is_told(
        own_redis):
    settings = Settings(redis_url=f"redis://127.0.0.1:{own_redis.port}/0", port=free_port(),
                        rasa_port=free_port(), actions_port=free_port(),
                        session_secret=SESSION_SECRET)
    async with serve(create_app(settings), settings.port):  # no Rasa behind it: not needed
        chat = await Chat.open(settings)
        try:
            await chat.say("hello")
            assert (await chat.next_frame("ack", timeout=10))["client_id"] == "m1"

            own_redis.stop()
            sent_at = time.monotonic()
            waiting = await chat.say("are you there?")
            notice = await chat.next_frame("notice", timeout=10)
            assert notice["level"] == "warning" and notice["text"] == STORE_DELAY_TEXT
            assert time.monotonic() - sent_at < 5  # told within seconds
            assert not any(f["type"] == "ack" and f["client_id"] == waiting
                           for f in chat.frames)

            await asyncio.to_thread(own_redis.start)  # back, empty
            ack = await chat.next_frame("ack", timeout=15)
            assert ack["client_id"] == waiting  # acknowledged once it is stored
            assert (await chat.next_frame("notice", timeout=5))["level"] == "clear"
            check = redis_sync.Redis(port=own_redis.port, decode_responses=True)
            stored = [f["m"] for _, f in check.xrange("fd:inbound")]
            assert len(stored) == 1 and "are you there?" in stored[0]
        finally:
            await chat.close()
