"""The real Rasa (trained model, action server) answers in German when the
`language` slot is de: the conditional response variations, the German NLU
examples and the action server's catalogue texts. The slot is set the way the
gateway sets it, through Rasa's tracker events API; turns go to Rasa's REST
channel."""

import uuid

import httpx
import pytest

from handoff.service import HandoffService

pytestmark = pytest.mark.stack


class Rasa:
    def __init__(self, stack) -> None:
        self.base = f"http://{stack.host}:{stack.rasa_port}"
        self.token = stack.rasa_token.get_secret_value()

    async def set_language(self, customer_id: str, language: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.base}/conversations/{customer_id}/tracker/events",
                params={"token": self.token, "include_events": "NONE"},
                json=[{"event": "slot", "name": "language", "value": language}])
        response.raise_for_status()

    async def say(self, customer_id: str, text: str) -> list[str]:
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(f"{self.base}/webhooks/rest/webhook",
                                       json={"sender": customer_id, "message": text})
        response.raise_for_status()
        return [m["text"] for m in response.json() if m.get("text")]


def customer() -> str:
    return f"test-de-{uuid.uuid4().hex[:10]}"


async def test_a_german_customer_is_greeted_and_named_in_german(stack):
    rasa = Rasa(stack)
    german, english = customer(), customer()
    await rasa.set_language(german, "de")

    assert (await rasa.say(german, "moin"))[0].startswith("Hallo und willkommen bei **Brightside**")
    # the slot's initial value keeps everyone else in English
    assert (await rasa.say(english, "moin"))[0].startswith("Hi, welcome to **Brightside**")
    assert await rasa.say(german, "ich heiße Anna") == [
        "Schön, Sie kennenzulernen, Anna! Wie kann ich Ihnen helfen?"]
    assert await rasa.say(german, "wie heiße ich?") == ["Sie sind Anna! Wie kann ich Ihnen helfen?"]


async def test_a_german_request_for_a_person_opens_a_ticket(stack, stack_redis):
    rasa = Rasa(stack)
    german = customer()
    await rasa.set_language(german, "de")

    replies = await rasa.say(german, "Ich möchte mit einem Menschen sprechen")

    # the handoff action ran: the customer's ticket waits for an agent, and the
    # reply names its reference
    ticket = await HandoffService(stack_redis, stack.handoff).open_ticket_of(german)
    assert ticket is not None, replies
    assert any(ticket.ref in reply for reply in replies), replies
