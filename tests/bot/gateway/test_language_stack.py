"""The customer's language through the real product: web chat -> gateway ->
the real Rasa, whose tracker holds the `language` slot the gateway set."""

import base64
import json

import httpx
import pytest

from bot.customers.keys import CUSTOMER_KEYS
from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack


async def customer_of(stack_redis, chat: Chat) -> str:
    """The chat's customer, by the visitor id its session token names (the
    token's first part is that JSON, signed, not encrypted)."""
    part = chat.token.split(".")[0]
    visitor = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["v"]
    return await stack_redis.get(CUSTOMER_KEYS.identity("web", visitor))


async def rasa_slot(stack, customer_id: str, name: str) -> object:
    async with httpx.AsyncClient() as http:
        tracker = (await http.get(f"{stack.rasa_url}/conversations/{customer_id}/tracker",
                                  params={"token": stack.rasa_token.get_secret_value()})).json()
    return tracker["slots"].get(name)


async def test_a_german_customers_rasa_conversation_has_the_language_slot_de(stack, stack_redis):
    chat = await Chat.open(stack)
    try:
        await chat.say("Wo ist meine Bestellung?")
        await chat.bot_reply()
        customer = await customer_of(stack_redis, chat)
        assert await rasa_slot(stack, customer, "language") == "de"
        entry = next(f["entry"] for f in chat.frames if f["type"] == "entry"
                     and f["entry"]["author"] == "customer")
        assert entry["language"] == "de"
    finally:
        await chat.close()


async def test_the_widgets_language_setting_outweighs_what_the_customer_writes(
        stack, stack_redis):
    chat = await Chat.open(stack)
    try:
        assert chat.history == [] and chat.frames[0]["language"] is None
        await chat.socket.send('{"type": "language", "language": "de"}')
        assert (await chat.next_frame("language"))["language"] == "de"
        await chat.say("hello there, where is my order?")  # English, but the setting wins
        await chat.bot_reply()
        customer = await customer_of(stack_redis, chat)
        assert await rasa_slot(stack, customer, "language") == "de"
    finally:
        await chat.close()
    again = await Chat.open(stack, chat.token)  # a reload: the widget shows the setting
    try:
        assert again.frames[0]["type"] == "history" and again.frames[0]["language"] == "de"
    finally:
        await again.close()
