"""The customer's language through the router (real Redis; Rasa is the
httpx.MockTransport peer of tests/bot/gateway/fake_rasa.py, which keeps the
tracker events the gateway appends; the real Rasa is in test_language_stack.py)."""

import httpx
import pytest

from bot.channels.base import Recipient
from bot.channels.memory import InMemoryChannel
from bot.customers.language import CustomerLanguages
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import DELAY_TEXT
from core.i18n import text
from core.models import Button, InboundMessage, OutboundMessage
from tests.bot.gateway.fake_rasa import FakeRasa
from tests.routers import wired_router


@pytest.fixture
async def make_router(redis):
    clients = []

    def build(fake: FakeRasa):
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        clients.append(http)
        channel = InMemoryChannel("web")
        return wired_router(redis, RasaClient(http, "http://rasa", "http://actions"),
                            {"web": channel}), channel

    yield build
    for http in clients:
        await http.aclose()


class Conversation:
    def __init__(self, router, fake: FakeRasa, user: str = "v_1") -> None:
        self.router, self.fake, self.user, self.n = router, fake, user, 0

    async def say(self, words: str, payload: str | None = None) -> None:
        self.n += 1
        await self.router.handle(f"1-{self.n}", InboundMessage(
            channel="web", channel_user_id=self.user, external_id=f"{self.user}-{self.n}",
            text=words, button_payload=payload))

    async def customer(self) -> str:
        return await self.router.identities.resolve("web", self.user, None)

    async def language(self) -> str:
        return await CustomerLanguages(self.router.router._redis).get(await self.customer())

    async def slots(self) -> list[str]:
        """The language slot values appended to the customer's Rasa tracker, in order."""
        events = self.fake.trackers.get(await self.customer(), [])
        return [e["value"] for e in events if e.get("event") == "slot"
                and e.get("name") == "language"]

    async def said(self) -> list[tuple[str, str]]:
        history = await self.router.transcripts.history(await self.customer())
        return [(e.author, e.text) for e in history]


async def test_a_german_customer_is_recorded_as_german_and_rasa_hears_it_before_the_turn(
        make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Wo ist meine Bestellung?")
    assert await talk.language() == "de"
    assert await talk.slots() == ["de"]
    events = [e["event"] for e in fake.trackers[await talk.customer()]]
    assert events.index("slot") < events.index("user")  # the turn already speaks German
    entry = (await router.transcripts.history(await talk.customer()))[0]
    assert entry.author == "customer" and entry.language == "de"


async def test_rasa_hears_the_language_again_only_when_it_changes(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Wo ist meine Bestellung?")
    await talk.say("Kann ich mit PayPal zahlen?")
    await talk.say("Wie lange dauert der Versand?")
    assert await talk.slots() == ["de"]
    await talk.say("Sorry, can you answer in English please?")
    assert await talk.language() == "en"
    assert await talk.slots() == ["de", "en"]


async def test_one_unsure_or_single_word_never_switches_the_language(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Ich möchte etwas zurückgeben")
    for unsure in ("ok", "👍", "12345", "FD-7K2Q"):
        await talk.say(unsure)
    await talk.say("thanks")  # one sure English word: not yet
    assert await talk.language() == "de"
    await talk.say("Danke")  # back to German: the pending word is forgotten
    await talk.say("thanks")
    assert await talk.language() == "de"
    await talk.say("thanks")  # a second English word in a row switches
    assert await talk.language() == "en"


async def test_a_message_that_is_only_a_language_is_answered_by_the_gateway_in_it(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Where is my order?")
    await talk.say("auf Deutsch")
    assert (await talk.said())[-1] == (
        "system", "In Ordnung, ich schreibe Ihnen ab jetzt auf Deutsch.")
    assert [b["message"] for b in fake.received] == ["Where is my order?"]  # not for Rasa
    assert await CustomerLanguages(router.router._redis).source(await talk.customer()) == \
        "customer"
    await talk.say("What does shipping to Austria cost?")  # a choice outlasts detection
    assert await talk.language() == "de"
    assert await talk.slots() == ["en", "de"]
    await talk.say("English")
    assert (await talk.said())[-1] == ("system", "Okay, I'll write to you in English from now on.")
    assert await talk.language() == "en"


async def test_the_delay_notice_comes_in_the_customers_language(make_router):
    fake = FakeRasa(down_for=3)
    router, channel = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Mein Paket ist nicht angekommen")
    german = text("gateway", "de", DELAY_TEXT)
    assert german.startswith("Entschuldigung")
    assert (await talk.said())[1] == ("system", german)
    assert any(t == german for _, level, t in channel.notices if level == "warning")


async def test_a_link_code_is_explained_in_the_customers_language(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Hallo, ich habe eine Frage zu meiner Bestellung")
    await talk.say("link")
    reply = (await talk.said())[-1][1]
    assert reply.startswith("Ihr Code lautet ") and "Minuten" in reply


@pytest.mark.parametrize("words", [
    "🙂🙂", "привет", "你好，我的订单在哪里？", "/choose_article{\"id\": \"a1\"}", "12345",
    "Rückgabe?", "Rueckgabe?", "Ich moechte zurueckgeben", "Strasse", "Grüße!",
    "I want to return my Schuhe", "Ich will return my shoes please", "?", "   ",
])
async def test_bad_input_is_answered_and_never_raises(make_router, words):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say(words)
    said = await talk.said()
    assert said[0][0] == "customer" and said[-1][0] == "bot"
    assert await talk.language() in ("en", "de")


async def test_a_button_press_says_nothing_about_the_language(make_router):
    fake = FakeRasa()
    router, _ = make_router(fake)
    talk = Conversation(router, fake)
    await talk.say("Wo ist meine Bestellung?")
    await router.router.send("web", Recipient(await talk.customer(), "v_1"), OutboundMessage(
        text="Pick one", buttons=(Button(title="Track my order", payload="/track"),)))
    await talk.say("Track my order", payload="/track")
    assert await talk.language() == "de"
    last_customer = [e for e in await router.transcripts.history(await talk.customer())
                     if e.author == "customer"][-1]
    assert last_customer.language is None


async def test_a_new_conversation_starts_english_so_only_a_german_one_is_told(redis):
    """With Rasa sessions, a conversation Rasa does not hold yet starts with the
    slot's initial value (domain.yml): an English customer's turns need no call to
    set it, on their first turn or later; a German customer's first turn, one."""
    from bot.rasa_store.sessions import RasaSessions

    fake = FakeRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        rasa = RasaClient(http, "http://rasa", "http://actions", sessions=RasaSessions(redis))
        router = wired_router(redis, rasa, {"web": InMemoryChannel("web")})
        english = Conversation(router, fake, user="v_en")
        await english.say("where is my parcel, it should have arrived by now")
        await english.say("and how long do refunds usually take")
        german = Conversation(router, fake, user="v_de")
        german.n = 100  # stream entries of its own
        await german.say("Wo ist mein Paket, es sollte längst da sein")
        await german.say("Und wie lange dauert eine Rückerstattung?")
    assert await english.slots() == []
    assert await german.slots() == ["de"]


def test_the_gateway_knows_the_language_slot_s_initial_value():
    import yaml

    from bot.gateway.router import RASA_INITIAL_LANGUAGE
    from core.settings import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    assert domain["slots"]["language"]["initial_value"] == RASA_INITIAL_LANGUAGE
