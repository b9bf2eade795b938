"""What the handoff API needs from the gateway, as a protocol: the gateway's
app factory plugs in its implementation (bot/gateway/handoff_bridge.py), so handoff/
never imports the gateway's internals (docs/architecture.md#parts)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.models import Author


class Gateway(Protocol):
    async def timeline(self, customer_id: str, limit: int = 2000) -> list[dict]:
        """The customer's unified transcript, oldest first, as JSON-safe dicts."""

    async def profile(self, customer_id: str) -> dict:
        """Display name, verified attributes and linked channel identities."""

    def watch(self, customer_id: str) -> AbstractAsyncContextManager[asyncio.Queue]:
        """Live transcript entries of one customer."""

    def events(self) -> AbstractAsyncContextManager[asyncio.Queue]:
        """Live queue and ticket events."""

    async def deliver(self, customer_id: str, text: str, *, author: Author = "agent",
                      channel: str | None = None) -> dict:
        """Send a message to the customer on their reply channel (or `channel`)."""

    async def tell(self, customer_id: str, text: str) -> dict:
        """A system message to the customer."""

    async def ask_csat(self, customer_id: str, ref: str) -> None: ...

    async def reset_dialogue(self, customer_id: str) -> None:
        """Tell Rasa a person handled the conversation (no stale form resumes)."""

    async def agent_name(self, username: str) -> str: ...

    async def language(self, customer_id: str) -> str:
        """The customer's language now (en | de): what they are written to in."""

    async def customer_card(self, customer_id: str) -> dict:
        """What a queue card shows of the customer (handoff/cards.py):
        {display_name, identities: [{channel, channel_user_id}], last_text (the
        last thing they wrote, untrusted), last_channel}."""

    async def search_answers(self, query: str, limit: int = 10,
                             language: str | None = None) -> list[dict]:
        """Published knowledge answers whose title, questions or answer (in any
        language) contain every word of `query` (all of them for an empty query),
        as {id, title, answer, html, language} (`html`: the answer's Markdown
        rendered as the transcript renders it), one entry per language an article is
        written in, `language` first: canned answers for the agent's reply box."""
