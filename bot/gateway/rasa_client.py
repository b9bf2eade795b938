"""Talk to Rasa's REST channel; the customer id is Rasa's sender id.

Several Rasa replicas share one tracker store and one lock store in Redis, so
any of them can take any turn. Each customer still goes to one replica, chosen
by rendezvous hashing of the customer id over the replica URLs: every gateway
replica picks the same one without talking to the others, and removing a Rasa
replica moves only its own customers. That matters because Rasa's Redis lock
store takes a conversation's ticket with a plain GET then SET: atomic inside
one Rasa process (its Redis client is synchronous), not across two, so a
customer's turns are kept on one process while it is up
(docs/architecture.md#processes). When that replica is unreachable or answers
5xx, the next one in the customer's order is tried at once, before the router
backs off."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import httpx

from bot import AssistantUnavailable
from core.models import ArticleRef, Button, OutboundMessage


def replica_order(customer_id: str, replicas: Sequence[str]) -> list[str]:
    """The replicas in the order this customer tries them (rendezvous hashing):
    the same on every gateway, whatever the order of the list."""
    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}\n{customer_id}".encode(), digest_size=8).digest()

    return sorted(replicas, key=weight, reverse=True)


class RasaClient:
    def __init__(self, http: httpx.AsyncClient, rasa_urls: str | Sequence[str],
                 actions_url: str, token: str = "") -> None:
        """`rasa_urls`: one Rasa server (or a load balancer) or several replicas."""
        urls = [rasa_urls] if isinstance(rasa_urls, str) else list(rasa_urls)
        if not urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self._http = http
        self._token = token
        self._replicas = [url.rstrip("/") for url in urls]
        # the action server's /healthz includes its Redis (actions/server.py): an
        # action server that runs but cannot reach Redis cannot answer either
        self._actions_health = f"{actions_url}/healthz"

    async def _post(self, customer_id: str, path: str, **request) -> httpx.Response:
        """POST to the customer's replica, or at once to the next one in their
        order while a replica is unreachable or answers 5xx; AssistantUnavailable
        when none answered."""
        problems = []
        for replica in replica_order(customer_id, self._replicas):
            try:
                response = await self._http.post(f"{replica}{path}", **request)
            except httpx.HTTPError as exc:
                problems.append(f"{replica} unreachable: {exc!r}")
                continue
            if response.status_code < 500:
                return response
            problems.append(f"{replica} answered {response.status_code}")
        raise AssistantUnavailable("Rasa: " + "; ".join(problems))

    async def turn(self, customer_id: str, text: str, metadata: dict) -> list[OutboundMessage]:
        response = await self._post(
            customer_id, "/webhooks/rest/webhook",
            json={"sender": customer_id, "message": text, "metadata": metadata})
        response.raise_for_status()
        messages = parse_rasa_messages(response.json())
        if not messages and not await self.actions_healthy():
            # Rasa swallows a failed custom action and answers with nothing; the
            # message must wait for the action server instead of going unanswered.
            raise AssistantUnavailable("action server unreachable")
        return messages

    async def reset_dialogue(self, customer_id: str) -> None:
        """After a person handled the conversation: end any active form, so the
        bot does not resume a stale question. Slots the customer gave (their
        name, order number) stay."""
        events = [{"event": "active_loop", "name": None}]
        response = await self._post(
            customer_id, f"/conversations/{customer_id}/tracker/events",
            params={"token": self._token, "include_events": "NONE"}, json=events)
        response.raise_for_status()

    async def actions_healthy(self) -> bool:
        try:
            return (await self._http.get(self._actions_health, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def healthy(self) -> bool:
        """True while any replica answers: every customer can be served."""
        async def up(url: str) -> bool:
            try:
                return (await self._http.get(url, timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        return any(await asyncio.gather(*(up(url) for url in self._replicas)))


def parse_rasa_messages(raw: list[dict]) -> list[OutboundMessage]:
    """Rasa's REST collector splits every text on blank lines into separate items
    and sends a message's `custom` JSON as one more item after it. Rejoin the
    paragraphs (a Markdown answer is one message) and fold our `frontdoor` note
    into the message it belongs to."""
    messages: list[OutboundMessage] = []
    joinable = False  # may the next plain paragraph continue the last message?
    for item in raw:
        note = (item.get("custom") or {}).get("frontdoor")
        if note is not None:
            if messages:
                article = note.get("article")
                messages[-1] = messages[-1].model_copy(update={
                    "article": ArticleRef(**article) if article else None,
                    "decision": note.get("decision"),
                })
            joinable = False
            continue
        text, buttons, image = item.get("text"), item.get("buttons") or (), item.get("image")
        if text is None and image is None:
            continue
        if joinable and text and not buttons and not image:
            messages[-1] = messages[-1].model_copy(
                update={"text": f"{messages[-1].text}\n\n{text}"})
            continue
        messages.append(OutboundMessage(
            text=text or "",
            image=image,
            buttons=tuple(Button(title=b.get("title", ""), payload=b.get("payload", ""))
                          for b in buttons),
        ))
        joinable = bool(text) and not buttons and not image
    return messages
