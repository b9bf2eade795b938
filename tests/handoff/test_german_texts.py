"""A German customer hears the handoff in German: the escalation with queue
position, expected wait and opening hours (weekday, time and city from Babel),
the agent joining and leaving, and the CSAT question, its buttons and thanks;
an English customer of the same company hears English."""

import asyncio
import time
from datetime import UTC, datetime

import pytest

from bot.channels.sms.render import sms_info
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.transcript import TranscriptStore
from bot.gateway.inbound import InboundStream
from core.models import InboundMessage
from core.settings import HandoffSettings
from handoff.messages import escalation_text, reminder_text
from handoff.models import QueueStanding, Ticket
from handoff.service import HandoffService
from handoff.teams import Team, next_opening
from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client

TICKET = Ticket(ref="FD-7K2Q", customer_id="c_a", status="queued", reason="x", team="t",
                channel="sms", created_at=0, sla_due_at=0)
VIENNA = Team(name="t", timezone="Europe/Vienna",
              hours={d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")})


def test_a_german_customers_escalation_text_has_german_queue_position_and_wait():
    standing = QueueStanding(ref="FD-7K2Q", position=3, expected_wait_s=250, team_open=True,
                             agents_online=2)
    text = escalation_text(TICKET, standing, VIENNA, language="de")
    assert text == ("Ich verbinde Sie mit einer Person aus unserem Team. Ihre Vorgangsnummer "
                    "ist FD-7K2Q. Sie sind an Position 3 der Warteschlange; die Wartezeit "
                    "beträgt etwa 4 Minuten. Wir antworten Ihnen direkt hier. Weiter in einer "
                    "anderen App? Schreiben Sie link.")
    # Short enough for SMS, and still GSM-7 with its umlauts: two segments, like English.
    assert sms_info(text).encoding == "GSM-7" and sms_info(text).segments == 2
    english = escalation_text(TICKET, standing, VIENNA, language="en")
    assert "number 3 in the queue; the expected wait is about 4 minutes" in english
    assert sms_info(english).segments == 2
    next_one = QueueStanding(ref="FD-7K2Q", position=1, expected_wait_s=40, team_open=True,
                             agents_online=1)
    assert reminder_text(next_one, "de") == ("Sie warten noch auf eine Person (FD-7K2Q). Sie "
                                             "sind als Nächstes an der Reihe; die Wartezeit "
                                             "beträgt etwa eine Minute.")


def test_a_german_customer_outside_hours_hears_the_opening_in_german_in_the_team_time_zone():
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    opens = next_opening(VIENNA, saturday)
    closed = QueueStanding(ref="FD-7K2Q", position=1, expected_wait_s=None, team_open=False,
                           agents_online=0, opens_at=opens.timestamp())
    german = escalation_text(TICKET, closed, VIENNA, language="de")
    assert ("Unser Team ist gerade nicht erreichbar; wir antworten Ihnen hier ab Montag, "
            "09:00 Uhr (Ortszeit Wien).") in german
    assert "Sie müssen nicht online bleiben." in german
    english = escalation_text(TICKET, closed, VIENNA, language="en")
    assert "we'll reply here from Monday 09:00 (Vienna time)." in english
    assert sms_info(german).encoding == "GSM-7"


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 12) as (settings, redis, _app):
        yield settings.base_url, redis


async def _waiting(redis, visitor: str, language: str) -> tuple[str, str]:
    identities = IdentityStore(redis)
    customer_id = await identities.resolve("web", visitor, "Dana")
    await identities.touch(customer_id, "web", visitor)
    await CustomerLanguages(redis).choose(customer_id, language, "customer")
    ticket, _ = await HandoffService(redis, HandoffSettings()).escalate(
        customer_id, "web", "asked_for_human", display_name="Dana")
    return customer_id, ticket.ref


async def _told(redis, customer_id: str, count: int, deadline_s: float = 10.0) -> list:
    """The customer's system messages, once there are `count` of them (queue
    updates left out: when one ticket is claimed, the next customer hears they
    moved up)."""
    transcripts = TranscriptStore(redis)
    until = time.monotonic() + deadline_s
    while True:
        told = [e for e in await transcripts.history(customer_id) if e.author == "system"
                and not e.text.startswith(("Update on", "Neues zu"))]
        if len(told) >= count or time.monotonic() > until:
            return told
        await asyncio.sleep(0.05)


async def test_a_german_customer_gets_the_agent_and_the_csat_question_in_german(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")  # customers see "ada"
    ada = await signed_in_client(base, "ada")
    german, german_ref = await _waiting(redis, "w-de", "de")
    english, english_ref = await _waiting(redis, "w-en", "en")
    try:
        for ref in (german_ref, english_ref):
            assert (await ada.post(f"/api/agent/tickets/{ref}/claim")).status_code == 200
            assert (await ada.post(f"/api/agent/tickets/{ref}/resolve",
                                   json={"csat": True})).status_code == 200
    finally:
        await ada.aclose()
    claimed, resolved, csat = await _told(redis, german, 3)
    assert claimed.text == "ada ist jetzt für Sie da und antwortet Ihnen hier."
    assert resolved.text.startswith("ada hat Sie wieder an unseren Assistenten übergeben.")
    assert csat.text == ("Wie zufrieden waren Sie? Bitte bewerten Sie das Gespräch mit "
                         "unserem Team.")
    assert [b.title for b in csat.buttons] == [
        "5 ★★★★★ Sehr gut", "4 ★★★★ Gut", "3 ★★★ Geht so", "2 ★★ Schlecht", "1 ★ Sehr schlecht"]
    assert [e.text for e in await _told(redis, english, 3)] == [
        "ada has joined the conversation and will reply here.",
        "ada has handed you back to the assistant. If anything else comes up, just ask.",
        "How did we do? Please rate your conversation with our team."]
    # The German customer presses "5": thanked in German, before any assistant.
    await InboundStream(redis).append(InboundMessage(
        channel="web", channel_user_id="w-de", external_id="w-de:rate",
        text=csat.buttons[0].title, button_payload=csat.buttons[0].payload))
    thanks = (await _told(redis, german, 4))[-1]
    assert thanks.text == "Vielen Dank für Ihre Bewertung!"
