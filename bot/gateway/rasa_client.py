"""Talk to Rasa's REST channel; the customer id is Rasa's sender id."""

from __future__ import annotations

import httpx

from bot import AssistantUnavailable
from core.models import ArticleRef, Button, OutboundMessage


class RasaClient:
    def __init__(self, http: httpx.AsyncClient, rasa_url: str, actions_url: str,
                 token: str = "") -> None:
        self._http = http
        self._token = token
        self._webhook = f"{rasa_url}/webhooks/rest/webhook"
        self._rasa_url = rasa_url
        # the action server's /healthz includes its Redis (actions/server.py): an
        # action server that runs but cannot reach Redis cannot answer either
        self._actions_health = f"{actions_url}/healthz"

    async def turn(self, customer_id: str, text: str, metadata: dict) -> list[OutboundMessage]:
        try:
            response = await self._http.post(
                self._webhook, json={"sender": customer_id, "message": text, "metadata": metadata}
            )
        except httpx.HTTPError as exc:
            raise AssistantUnavailable(f"Rasa unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise AssistantUnavailable(f"Rasa answered {response.status_code}")
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
        try:
            response = await self._http.post(
                f"{self._rasa_url}/conversations/{customer_id}/tracker/events",
                params={"token": self._token, "include_events": "NONE"}, json=events)
        except httpx.HTTPError as exc:
            raise AssistantUnavailable(f"Rasa unreachable: {exc!r}") from exc
        response.raise_for_status()

    async def actions_healthy(self) -> bool:
        try:
            return (await self._http.get(self._actions_health, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def healthy(self) -> bool:
        try:
            return (await self._http.get(self._rasa_url, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False


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
