"""The real product: web chat WebSocket -> gateway -> Rasa server (trained model)
-> action server (knowledge) -> back to the socket."""

import asyncio
import json

import httpx
import pytest
import websockets

from tests.staff import make_staff, signed_in_client

pytestmark = pytest.mark.stack


class Chat:
    """A web chat customer speaking the widget's protocol."""

    def __init__(self, base: str, token: str, socket) -> None:
        self.base, self.token, self.socket = base, token, socket
        self.frames: list[dict] = []
        self._n = 0

    @classmethod
    async def open(cls, stack, token: str | None = None) -> "Chat":
        base = f"http://{stack.host}:{stack.port}"
        async with httpx.AsyncClient() as http:
            token = (await http.post(f"{base}/webchat/session", json={"token": token})).json()[
                "token"]
        socket = await websockets.connect(f"ws://{stack.host}:{stack.port}/webchat/ws?token={token}")
        chat = cls(base, token, socket)
        chat.history = (await chat.next_frame("history"))["entries"]
        return chat

    async def next_frame(self, kind: str, timeout: float = 30) -> dict:
        async def read():
            while True:
                frame = json.loads(await self.socket.recv())
                self.frames.append(frame)
                if frame["type"] == kind:
                    return frame
        return await asyncio.wait_for(read(), timeout)

    async def say(self, text: str, **extra) -> str:
        self._n += 1
        client_id = f"m{self._n}"
        await self.socket.send(json.dumps({"type": "message", "text": text,
                                           "client_id": client_id, **extra}))
        return client_id

    async def press(self, button: dict) -> None:
        self._n += 1
        await self.socket.send(json.dumps({"type": "button", "client_id": f"b{self._n}", **button}))

    async def bot_reply(self, timeout: float = 30) -> dict:
        while True:
            frame = await self.next_frame("entry", timeout)
            if frame["entry"]["author"] == "bot":
                return frame["entry"]

    async def close(self) -> None:
        await self.socket.close()


@pytest.fixture
async def chat(stack):
    c = await Chat.open(stack)
    yield c
    await c.close()


async def test_the_assistant_greets(chat):
    await chat.say("hello there")
    reply = await chat.bot_reply()
    assert "Brightside" in reply["text"]


async def test_a_business_question_is_answered_from_the_knowledge_base(chat):
    await chat.say("can I pay with PayPal?")
    echo = await chat.next_frame("entry")
    assert echo["entry"]["author"] == "customer" and echo["entry"]["client_id"] == "m1"
    reply = await chat.bot_reply()
    assert reply["article"]["id"] == "payment-methods" and reply["article"]["version"] >= 1
    assert "PayPal" in reply["text"]
    assert reply["html"].startswith("<")  # Markdown rendered for the widget


async def test_an_ambiguous_question_gets_buttons_and_a_button_gets_the_article(chat):
    await chat.say("returns")
    reply = await chat.bot_reply()
    assert len(reply["buttons"]) >= 2
    choice = reply["buttons"][0]
    await chat.press(choice)
    answer = await chat.bot_reply()
    assert answer["article"]["title"] == choice["title"]


async def test_an_unknown_question_gets_an_honest_fallback(chat):
    await chat.say("who won the football match last night")
    reply = await chat.bot_reply()
    assert "don't know" in reply["text"] or "not sure" in reply["text"].lower()
    assert reply["article"] is None


async def test_history_is_replayed_on_reconnect(stack, chat):
    await chat.say("hi")
    await chat.bot_reply()
    await chat.close()
    again = await Chat.open(stack, token=chat.token)
    try:
        assert [e["author"] for e in again.history] == ["customer", "bot"]
        assert again.history[0]["text"] == "hi"
    finally:
        await again.close()


@pytest.mark.parametrize("frame, code", [
    ("{not json", "bad_frame"),
    (json.dumps({"type": "message", "text": "   ", "client_id": "e1"}), "empty"),
    (json.dumps({"type": "message", "text": "\x00\x01\x02", "client_id": "e2"}), "empty"),
    # what a browser sends: 10 kB of emoji, UTF-8, not \u-escaped
    (json.dumps({"type": "message", "text": "😀" * 2600, "client_id": "e3"}, ensure_ascii=False),
     "too_long"),
    (json.dumps({"type": "button", "title": "x", "payload": "/restart", "client_id": "e4"}),
     "stale_button"),
])
async def test_bad_input_gets_a_clear_error_and_writes_nothing(stack, chat, frame, code):
    await chat.socket.send(frame)
    error = await chat.next_frame("error")
    assert error["code"] == code and error["text"]
    await chat.say("hello")  # the socket still works, and the transcript has no half entry
    await chat.bot_reply()
    again = await Chat.open(stack, token=chat.token)
    await again.close()
    assert [e["text"] for e in again.history if e["author"] == "customer"] == ["hello"]


async def test_a_binary_frame_is_refused_clearly(chat):
    await chat.socket.send(b"\x00\x01binary")
    error = await chat.next_frame("error")
    assert error["code"] == "bad_frame"
    await chat.say("hello")
    assert "Brightside" in (await chat.bot_reply())["text"]


async def test_an_oversized_frame_closes_nothing_but_that_frame(chat):
    await chat.socket.send("x" * 20_000)
    error = await chat.next_frame("error")
    assert error["code"] == "too_large"


async def test_an_unknown_session_token_is_refused(stack):
    uri = f"ws://{stack.host}:{stack.port}/webchat/ws?token=forged.token.value"
    socket = await websockets.connect(uri)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd.code == 4401


async def test_health_and_metrics_are_served(stack, stack_redis):
    base = f"http://{stack.host}:{stack.port}"
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{base}/healthz")).json()
        children = {c["name"]: c["state"] for c in health.pop("children")}  # the supervisor's
        assert health == {"status": "ok", "redis": True, "rasa": True, "actions": True}
        assert children == dict.fromkeys(("rasa", "actions", "gateway", "sandbox"), "running")
        assert (await http.get(f"{base}/metrics")).status_code == 401  # admins only
    await make_staff(stack_redis, "ops-admin", "admin")
    admin = await signed_in_client(base, "ops-admin")
    try:
        metrics = (await admin.get("/metrics")).text
        assert "frontdoor_inbound_messages_total" in metrics
        assert 'frontdoor_child_up{child="rasa"} 1.0' in metrics
        assert (await admin.get("/openapi.json")).json()["info"]["title"] == "Front Door"
    finally:
        await admin.aclose()


async def test_a_flood_from_one_connection_is_slowed_down_politely(chat):
    for i in range(25):
        await chat.socket.send(json.dumps({"type": "message", "text": f"spam {i}",
                                           "client_id": f"f{i}"}))
    error = await chat.next_frame("error")
    assert error["code"] == "rate_limited" and "wait" in error["text"]
