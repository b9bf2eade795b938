"""Anonymous web chat visitors cost little and expire: connecting writes no
customer (only expiring counters), the first message creates one, and sessions,
connects and messages are limited per client address, as an attacker would try
them. A real gateway in-process (no Rasa behind it); client addresses are told
apart through a trusted proxy's X-Forwarded-For, as behind a load balancer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from starlette.requests import Request

from core.addresses import client_address
from core.settings import Settings
from knowledge.store import ArticleStore
from tests.conftest import gateway_without_rasa

DB = 9
BEHIND_PROXY = {"trusted_proxy_header": "X-Forwarded-For", "trusted_proxies": ["127.0.0.1"]}


@contextlib.asynccontextmanager
async def gateway(redis_server, **overrides) -> AsyncIterator[tuple[Settings, object]]:
    async with gateway_without_rasa(redis_server, DB, **overrides) as (settings, redis, _app):
        yield settings, redis


async def new_token(settings: Settings, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{settings.base_url}/webchat/session", json={}, headers=headers)


async def open_socket(settings: Settings, token: str, address: str | None = None):
    headers = {"X-Forwarded-For": address} if address else {}
    return await websockets.connect(
        f"ws://{settings.host}:{settings.port}/webchat/ws?token={token}",
        additional_headers=headers)


async def next_frame(socket, kind: str, timeout: float = 30) -> dict:
    async def read() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind:
                return frame
    return await asyncio.wait_for(read(), timeout)


async def say(socket, text: str, client_id: str) -> dict:
    """Send a message; the server's answer to it (an ack or an error)."""
    await socket.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))

    async def read() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
                return frame
    return await asyncio.wait_for(read(), 30)


async def customer_keys(redis) -> list[str]:
    return sorted([k async for k in redis.scan_iter("fd:identity:*")]
                  + [k async for k in redis.scan_iter("fd:{c_*")])


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_fifty_connects_without_a_message_leave_no_customer_keys(redis_server):
    # (limits raised: this attacker stays under them and still costs nothing lasting)
    async with gateway(redis_server, webchat_connects_per_address=1000,
                       webchat_sessions_per_address=1000) as (settings, redis):
        token = (await new_token(settings)).json()["token"]
        # The greeting's topics read the knowledge base, which is seeded on its
        # first use: product content, there before any visitor in a real run.
        await ArticleStore(redis, seed_folder=settings.knowledge.articles_dir).all()
        before = {k async for k in redis.scan_iter("*")}
        for _ in range(50):
            socket = await open_socket(settings, token)
            assert (await next_frame(socket, "history"))["entries"] == []
            await socket.close()
        # ...and 50 visitors with a token each
        for _ in range(25):
            socket = await open_socket(settings, (await new_token(settings)).json()["token"])
            await next_frame(socket, "history")
            await socket.close()
        assert await customer_keys(redis) == []
        written = {k async for k in redis.scan_iter("*")} - before
        assert written and all([await redis.pttl(k) > 0 for k in written]), \
            {k: await redis.pttl(k) for k in written}


async def test_the_first_message_creates_the_customer_and_the_socket_follows_it(redis_server):
    async with gateway(redis_server) as (settings, redis):
        token = (await new_token(settings)).json()["token"]
        socket = await open_socket(settings, token)
        await next_frame(socket, "history")
        assert await customer_keys(redis) == []
        assert (await say(socket, "where is my parcel?", "m1"))["type"] == "ack"
        # the router logs the message to the new customer; this socket shows it live
        live = await next_frame(socket, "entry")
        assert live["entry"]["author"] == "customer"
        assert live["entry"]["text"] == "where is my parcel?"
        keys = await customer_keys(redis)
        assert any(k.startswith("fd:identity:web:") for k in keys)
        assert any(k.endswith(":customer") for k in keys)
        await socket.close()
        again = await open_socket(settings, token)
        history = (await next_frame(again, "history"))["entries"]
        await again.close()
        assert [e["text"] for e in history if e["author"] == "customer"] == [
            "where is my parcel?"]


async def test_a_button_from_a_visitor_who_never_wrote_is_stale_and_creates_nothing(
        redis_server):
    async with gateway(redis_server) as (settings, redis):
        socket = await open_socket(settings, (await new_token(settings)).json()["token"])
        await next_frame(socket, "history")
        await socket.send(json.dumps({"type": "button", "title": "x", "payload": "/greet",
                                      "client_id": "b1"}))
        assert (await next_frame(socket, "error"))["code"] == "stale_button"
        await socket.close()
        assert await customer_keys(redis) == []


async def test_sessions_over_the_per_address_limit_are_refused_while_another_address_is_served(
        redis_server):
    async with gateway(redis_server, webchat_sessions_per_address=3, **BEHIND_PROXY) as (
            settings, _redis):
        for _ in range(3):
            assert (await new_token(settings, "203.0.113.7")).status_code == 200
        refused = await new_token(settings, "203.0.113.7")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "moment" in refused.json()["detail"]
        assert (await new_token(settings, "198.51.100.2")).status_code == 200


async def test_connects_over_the_per_address_limit_are_refused_while_another_address_is_served(
        redis_server):
    async with gateway(redis_server, webchat_connects_per_address=3, **BEHIND_PROXY) as (
            settings, _redis):
        token = (await new_token(settings)).json()["token"]
        for _ in range(3):
            socket = await open_socket(settings, token, "203.0.113.7")
            await next_frame(socket, "history")
            await socket.close()
        refused = await open_socket(settings, token, "203.0.113.7")
        error = await next_frame(refused, "error")
        assert error["code"] == "rate_limited" and error["text"]  # the widget shows it
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(refused.recv(), 10)
        assert closed.value.rcvd.code == 4429
        other = await open_socket(settings, token, "198.51.100.2")
        assert (await next_frame(other, "history"))["entries"] == []
        await other.close()


async def test_several_sockets_from_one_address_share_one_message_budget(redis_server):
    async with gateway(redis_server, webchat_messages_per_address=4, **BEHIND_PROXY) as (
            settings, _redis):
        sockets = []
        for _ in range(3):  # three visitors (as a script would open them) on one address
            socket = await open_socket(settings, (await new_token(settings)).json()["token"],
                                       "203.0.113.7")
            await next_frame(socket, "history")
            sockets.append(socket)
        first, second, third = sockets
        answers = [await say(first, "one", "a1"), await say(second, "two", "b1"),
                   await say(first, "three", "a2"), await say(second, "four", "b2")]
        assert [a["type"] for a in answers] == ["ack"] * 4
        refused = await say(third, "five", "c1")
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert (await say(first, "six", "a3"))["code"] == "rate_limited"
        other = await open_socket(settings, (await new_token(settings)).json()["token"],
                                  "198.51.100.2")
        await next_frame(other, "history")
        assert (await say(other, "hello", "o1"))["type"] == "ack"
        for socket in (*sockets, other):
            await socket.close()


async def test_the_proxy_header_is_believed_only_from_a_trusted_proxy(redis_server):
    # The header is configured, but this peer (127.0.0.1) is not a trusted proxy:
    # rotating X-Forwarded-For does not make a new address.
    async with gateway(redis_server, webchat_sessions_per_address=2,
                       trusted_proxy_header="X-Forwarded-For",
                       trusted_proxies=["10.0.0.1"]) as (settings, _redis):
        answers = [await new_token(settings, f"203.0.113.{n}") for n in range(1, 5)]
        assert [a.status_code for a in answers] == [200, 200, 429, 429]


def _request(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers,
                    "client": (peer, 50000)})


@pytest.mark.parametrize("peer, forwarded, expected", [
    ("10.0.0.5", ["203.0.113.9"], "203.0.113.9"),  # from a trusted proxy: believed
    ("192.0.2.1", ["203.0.113.9"], "192.0.2.1"),  # from anyone else: ignored
    # the client prepends a lie; the proxy appends what it saw: the rightmost untrusted
    ("10.0.0.5", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),
    ("10.0.0.5", ["1.2.3.4", "203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # a chain of proxies
    ("10.0.0.5", [], "10.0.0.5"),
    ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
])
def test_the_client_address_follows_only_trusted_proxies(peer, forwarded, expected):
    settings = Settings(trusted_proxy_header="X-Forwarded-For", trusted_proxies=["10.0.0.0/8"])
    assert client_address(_request(peer, forwarded), settings) == expected


def test_without_a_proxy_header_the_peer_is_the_client():
    assert client_address(_request("192.0.2.1", ["203.0.113.9"]), Settings()) == "192.0.2.1"
