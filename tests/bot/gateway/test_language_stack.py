"""The customer's language through the real product: web chat -> gateway ->
the real Rasa, whose tracker holds the `language` slot the gateway set."""

import base64
import json
import re

import httpx
import pytest

from bot.customers.keys import CUSTOMER_KEYS
from core.settings import HandoffSettings
from handoff.service import HandoffService
from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack
REF_RE = re.compile(r"FD-[A-Z0-9]{4}")


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
        # The widget is first told its starting language (the browser's); the
        # server's answer to the setting follows.
        said = [(await chat.next_frame("language"))["language"]]
        if said[0] != "de":
            said.append((await chat.next_frame("language"))["language"])
        assert said[-1] == "de" and set(said) <= {"en", "de"}
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


async def test_a_customer_who_switches_language_mid_conversation_is_followed(stack, stack_redis):
    chat = await Chat.open(stack)
    try:
        await chat.say("Hallo, wo ist meine Bestellung?")
        await chat.bot_reply()
        customer = await customer_of(stack_redis, chat)
        assert await rasa_slot(stack, customer, "language") == "de"
        await chat.say("Sorry, can you tell me in English where my order is?")
        await chat.bot_reply()
        assert await rasa_slot(stack, customer, "language") == "en"
    finally:
        await chat.close()


async def test_a_german_customers_ticket_is_german(stack, stack_redis):
    chat = await Chat.open(stack)
    ref = None
    try:
        await chat.say("Deutsch")  # the customer's choice; the English model still escalates
        await chat.next_frame("entry")
        await chat.say("I want to talk to a real person please")
        while ref is None:
            entry = (await chat.next_frame("entry"))["entry"]
            if entry["author"] == "bot":
                ref = REF_RE.search(entry["text"])
        ticket = await HandoffService(stack_redis, HandoffSettings()).queue.get(ref[0])
        assert ticket.language == "de"
    finally:
        await chat.close()
        if ref is not None:
            await HandoffService(stack_redis, HandoffSettings()).resolve(ref[0], "test")
