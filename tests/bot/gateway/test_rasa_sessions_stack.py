"""A Rasa conversation per session of a customer, with the real Rasa: a customer
with a long history, an idle gap or a resolved conversation moves to a new Rasa
conversation that knows their name and language, and erasure removes every one
(bot/rasa_store/sessions.py, RasaClient.sender_id)."""

import time

import httpx
import pytest

from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.privacy import Privacy
from bot.gateway.rasa_client import RasaClient
from bot.infra.supervisor import session_secret
from bot.rasa_store.keys import RASA_KEYS
from bot.rasa_store.sessions import RasaSessions, SessionRule
from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack


async def _slots(http: httpx.AsyncClient, stack, sender: str) -> dict:
    response = await http.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                              params={"token": stack.rasa_token.get_secret_value(),
                                      "include_events": "NONE"})
    response.raise_for_status()
    return response.json()["slots"]


async def test_a_long_history_an_idle_gap_and_a_resolve_each_start_a_new_rasa_session(
        stack, stack_redis):
    chat = await Chat.open(stack)
    token = stack.rasa_token.get_secret_value()
    async with httpx.AsyncClient(timeout=30) as http:
        visitor = SessionSigner(session_secret(stack), 86400).visitor(chat.token)
        customer = await IdentityStore(stack_redis).resolve("web", visitor, None)
        rasa = RasaClient(http, stack.rasa_replicas, stack.actions_url, token,
                          sessions=RasaSessions(stack_redis, SessionRule(
                              stack.rasa_session_idle_s, stack.rasa_session_max_kb * 1024)))
        await chat.say("my name is Ada")
        assert "Ada" in (await chat.bot_reply())["text"]
        # The customer chooses German (as the widget's setting does); the gateway
        # sets the slot on their conversation before their next turn.
        await CustomerLanguages(stack_redis).choose(customer, "de", "widget")
        first = await rasa.sender_id(customer)
        assert first == customer

        # Years of history in the conversation: past the size a session may reach.
        filler = [{"event": "bot", "text": "x" * 1000, "timestamp": time.time() - 86400}]
        events = filler * (stack.rasa_session_max_kb + 10)
        (await http.post(f"{stack.rasa_url}/conversations/{first}/tracker/events",
                         params={"token": token, "include_events": "NONE"},
                         json=events)).raise_for_status()
        await chat.say("what's my name?")
        assert "Ada" in (await chat.bot_reply())["text"]  # the new session knows the name
        sessions = RasaSessions(stack_redis)
        assert await sessions.current(customer) == 1
        second = f"{customer}~1"
        slots = await _slots(http, stack, second)
        assert (slots["customer_name"], slots["language"]) == ("Ada", "de")
        assert await stack_redis.strlen(RASA_KEYS.rasa_tracker(second)) < 64 * 1024

        # An hour and more without a turn: a new session again.
        later = await rasa.sender_id(customer, now=time.time() + stack.rasa_session_idle_s + 60)
        assert later == f"{customer}~2"
        slots = await _slots(http, stack, later)
        assert (slots["customer_name"], slots["language"]) == ("Ada", "de")

        # A person resolved the conversation: the next turn starts afresh.
        await rasa.reset_dialogue(customer)
        await chat.say("what's my name?")
        assert "Ada" in (await chat.bot_reply())["text"]
        assert await sessions.current(customer) == 3

        # Erasure removes every Rasa conversation of the customer.
        await chat.close()
        await Privacy(stack_redis).erase(customer)
        left = [key async for key in stack_redis.scan_iter(match=f"rasa:*{customer}*")]
        assert left == []
