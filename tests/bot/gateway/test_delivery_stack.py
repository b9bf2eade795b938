"""The real product through an action-server outage: the customer asks for a
person while the action server is down; Rasa answers nothing, the gateway
retries, and once the action server is back the customer gets one answer, Rasa's
tracker holds their message once, and one ticket exists."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from bot.gateway.router import DELAY_TEXT
from bot.infra.supervisor import Stack, session_secret
from handoff.lookup import HandoffLookup
from tests.bot.gateway.test_stack import Chat
from tests.conftest import RUNNING_STACKS

pytestmark = pytest.mark.stack


def kill_actions(running: Stack):
    return running.kill("actions")


def start_again(running: Stack, child) -> None:
    running.start_again(child.name)


def effective_user_texts(events: list[dict]) -> tuple[list[str], int]:
    """The user messages in the tracker's state (reverted ones removed), and how
    many were recorded in all."""
    texts: list[str] = []
    recorded = 0
    for event in events:
        if event["event"] == "user":
            texts.append(event["text"])
            recorded += 1
        elif event["event"] == "rewind" and texts:
            texts.pop()
    return texts, recorded


async def test_an_escalation_during_an_action_server_outage_runs_once_when_it_is_back(
        stack, stack_redis):
    running = RUNNING_STACKS[stack.port]
    chat = await Chat.open(stack)
    child = kill_actions(running)
    restarted = False
    try:
        await chat.say("I want to talk to a human")
        notice = await chat.next_frame("notice", timeout=30)
        assert notice["level"] == "warning" and notice["text"] == DELAY_TEXT
        visitor = SessionSigner(session_secret(stack), 3600).visitor(chat.token)
        customer = await IdentityStore(stack_redis).find("web", visitor)
        assert customer is not None
        tracker_url = f"{stack.rasa_url}/conversations/{customer}/tracker"
        async with httpx.AsyncClient() as http:
            async def recorded() -> int:
                response = await http.get(tracker_url, params={"token":
                                                               stack.rasa_token.get_secret_value()})
                return effective_user_texts(response.json()["events"])[1]

            for _ in range(300):  # the gateway has tried at least twice
                if await recorded() >= 2:
                    break
                await asyncio.sleep(0.1)
            await asyncio.to_thread(start_again, running, child)
            restarted = True
            reply = await chat.bot_reply(timeout=60)
            events = (await http.get(tracker_url, params={
                "token": stack.rasa_token.get_secret_value()})).json()["events"]

        assert "FD-" in reply["text"]  # the escalation, with its ticket reference
        texts, tries = effective_user_texts(events)
        assert tries >= 3  # the message went to Rasa on every retry ...
        assert texts == ["I want to talk to a human"]  # ... and Rasa remembers it once
        assert len(await HandoffLookup(stack_redis).tickets_of(customer)) == 1
        bot_replies = [f for f in chat.frames
                       if f["type"] == "entry" and f["entry"]["author"] == "bot"]
        assert len(bot_replies) == 1
    finally:
        if not restarted:
            await asyncio.to_thread(start_again, running, child)
        await chat.close()
