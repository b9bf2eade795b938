"""Talk to Rasa's REST channel; the customer id is Rasa's sender id."""

from __future__ import annotations

import logging

import httpx

from bot import AssistantUnavailable
from core.models import ArticleRef, Button, OutboundMessage

log = logging.getLogger(__name__)

# Revert a user message with whatever followed it (Rasa's UserUtteranceReverted,
# which also drops the action_listen before it), then listen again, as Rasa's own
# fallback does: the conversation is where it was before the message came.
REVERT_TURN = [{"event": "rewind"}, {"event": "action", "name": "action_listen"}]


class RasaClient:
    def __init__(self, http: httpx.AsyncClient, rasa_url: str, actions_url: str,
                 token: str = "") -> None:
        self._http = http
        self._token = token
        self._webhook = f"{rasa_url}/webhooks/rest/webhook"
        self._rasa_url = rasa_url
        self._actions_health = f"{actions_url}/health"

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
        if not messages:
            # Every turn of this assistant says something (each rule ends in a
            # response or an action that always utters). Nothing means Rasa swallowed
            # a failed custom action (action server down, or its Redis broken): the
            # message waits and is retried, rather than going unanswered.
            raise AssistantUnavailable("Rasa answered nothing: a custom action failed")
        return messages

    async def recorded_turn(self, customer_id: str, message_id: str
                            ) -> list[OutboundMessage] | None:
        """Before a message is sent to Rasa again: whether an earlier attempt (the
        REST metadata's `message_id`) is already in the conversation's tracker.
        With its replies recorded after it, those replies (the turn is not run
        twice, so its actions are not either); recorded without any (its action
        failed), it is reverted (Rasa's `rewind`) and None is returned, as when it
        was never recorded: the message is then sent as new."""
        base = f"{self._rasa_url}/conversations/{customer_id}/tracker"
        try:
            response = await self._http.get(base, params={"token": self._token})
        except httpx.HTTPError as exc:
            raise AssistantUnavailable(f"Rasa unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise AssistantUnavailable(f"Rasa answered {response.status_code}")
        if response.status_code >= 400:
            # Rasa's HTTP API refused (a token that does not match, the API not
            # enabled): the message still gets its answer, at the risk of Rasa
            # recording it twice.
            log.warning("cannot read the tracker of %s (%s): sending the message again "
                        "unchecked", customer_id, response.status_code)
            return None
        events = response.json().get("events") or []
        users = [i for i, e in enumerate(events) if e.get("event") == "user"]
        mine = [i for i in users
                if ((events[i].get("metadata") or {}).get("message_id")) == message_id]
        if not mine:
            return None
        after = events[mine[-1] + 1:]
        end = next((i for i, e in enumerate(after) if e.get("event") in ("user", "rewind")),
                   len(after))
        if end < len(after) and after[end].get("event") == "rewind":
            return None  # reverted by an earlier retry
        bots = [e for e in after[:end] if e.get("event") == "bot"]
        if bots:
            return parse_rasa_messages([item for e in bots for item in _rest_items(e)])
        if mine[-1] != users[-1]:
            return None  # a later message follows it: nothing to undo here
        try:
            reverted = await self._http.post(f"{base}/events", params={
                "token": self._token, "include_events": "NONE"}, json=REVERT_TURN)
        except httpx.HTTPError as exc:
            raise AssistantUnavailable(f"Rasa unreachable: {exc!r}") from exc
        if reverted.status_code >= 500:
            raise AssistantUnavailable(f"Rasa answered {reverted.status_code}")
        if reverted.status_code >= 400:
            log.warning("cannot revert a failed turn of %s (%s)", customer_id,
                        reverted.status_code)
        return None

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


def _rest_items(event: dict) -> list[dict]:
    """A tracker's bot event as the REST channel would have sent it."""
    data = event.get("data") or {}
    items = [{"text": event.get("text"), "buttons": data.get("buttons"),
              "image": data.get("image")}]
    if data.get("custom"):
        items.append({"custom": data["custom"]})
    return items


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
