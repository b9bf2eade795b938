"""Rasa unreachable: the customer is told once, the message is kept, and it is
answered when Rasa is back. A real gateway, the real Rasa behind a TCP proxy
that the test opens and closes."""

import asyncio
import contextlib
import json

import pytest

from bot.app import create_app
from bot.gateway.router import DELAY_TEXT
from core.settings import Settings
from tests.bot.gateway.test_stack import Chat
from tests.conftest import SESSION_SECRET, free_port, serve

pytestmark = pytest.mark.stack


async def _pipe(reader, writer):
    with contextlib.suppress(Exception):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def tcp_proxy(listen_port: int, target_port: int):
    async def handle(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    try:
        yield
    finally:
        server.close()


@pytest.fixture
async def gateway_without_rasa(stack, redis_server):
    settings = Settings(
        redis_url=f"{redis_server}/3", port=free_port(), rasa_port=free_port(),
        actions_port=stack.actions_port, retry_backoff_s=0.2, retry_backoff_max_s=0.5,
        session_secret=SESSION_SECRET, rasa_token=stack.rasa_token,  # it reads the tracker
    )
    async with serve(create_app(settings), settings.port):
        yield settings


async def test_a_message_waits_for_rasa_and_the_customer_is_told_about_the_delay(
        stack, gateway_without_rasa):
    settings = gateway_without_rasa
    chat = await Chat.open(settings)
    try:
        await chat.say("hello")
        notice = await chat.next_frame("notice")
        assert notice["level"] == "warning" and "delay" in notice["text"]
        while not any(f["type"] == "entry" and f["entry"]["author"] == "system"
                      for f in chat.frames):
            await chat.next_frame("entry")
        system = next(f["entry"] for f in chat.frames
                      if f["type"] == "entry" and f["entry"]["author"] == "system")
        assert system["text"] == DELAY_TEXT

        async with tcp_proxy(settings.rasa_port, stack.rasa_port):  # Rasa is back
            reply = await chat.bot_reply(timeout=30)
            assert "Brightside" in reply["text"]
            # The banner's "clear" is the router's own frame; the reply comes through
            # the outbox, so either may arrive first.
            while not any(f["type"] == "notice" and f["level"] == "clear" for f in chat.frames):
                await chat.next_frame("notice", timeout=10)
            notices = [f["level"] for f in chat.frames if f["type"] == "notice"]
            assert notices == ["warning", "clear"]  # the banner goes away again
        texts = [json.dumps(f) for f in chat.frames]
        assert sum(DELAY_TEXT in t for t in texts) == 2  # one banner, one transcript line
    finally:
        await chat.close()
