"""action_answer_from_knowledge in the customer's language, through the real
action server process called as Rasa calls it (the `language` slot in the
tracker), over a real Redis and the seed knowledge base."""

import asyncio

import httpx
import pytest

from core.redis import text_client
from core.settings import Settings
from knowledge.articles_io import load_folder
from knowledge.models import Article
from knowledge.store import ArticleStore
from tests.actions.server import action_server as running_action_server

pytestmark = pytest.mark.slow  # a real process: about 4 s to load the embedding model

TOKEN = "actions-token-for-the-language-test-0123456789"
DB = 7


@pytest.fixture(scope="module")
def action_server(redis_server):
    """The action server as `frontdoor up` starts it, over an emptied database
    holding one English-only article besides the (bilingual) seed."""
    async def prepare() -> None:
        redis = text_client(f"{redis_server}/{DB}")
        await redis.flushdb()
        store = ArticleStore(redis, seed_folder=Settings().knowledge.articles_dir)
        await store.revision()  # seeded
        await store.save(Article(id="purple-unicorns", title="Purple unicorns",
                                 questions=("Do you sell purple unicorns?",),
                                 answer="We sell purple unicorns in three sizes."),
                         expected_version=None, author="test")
        await redis.aclose()

    asyncio.run(prepare())
    with running_action_server(f"{redis_server}/{DB}", TOKEN) as base:
        yield base


def ask(base: str, text: str, language: str | None, sender: str = "c_language") -> dict:
    """The assistant's one reply to `text` from a customer whose language slot is
    `language` (None: the slot was never set)."""
    slots = {} if language is None else {"language": language}
    call = {"next_action": "action_answer_from_knowledge", "sender_id": sender,
            "tracker": {"sender_id": sender, "slots": slots,
                        "latest_message": {"text": text, "intent": {"name": "ask_question"},
                                           "entities": [], "metadata": {"channel": "web"}},
                        "events": [], "paused": False, "followup_action": None,
                        "active_loop": {}, "latest_action_name": None},
            "domain": {}, "version": "3.6.21"}
    ran = httpx.post(f"{base}/webhook", params={"token": TOKEN}, json=call, timeout=120)
    assert ran.status_code == 200, ran.text
    [reply] = ran.json()["responses"]
    return reply


def test_a_german_customer_gets_the_german_answer_and_the_transcript_note_says_so(
        action_server):
    reply = ask(action_server, "Kann ich mit PayPal zahlen?", "de")
    assert reply["text"].startswith("Wir akzeptieren")
    assert reply["custom"]["frontdoor"]["article"] == {
        "id": "payment-methods", "version": 1, "title": "Zahlungsarten", "language": "de"}


def test_an_english_customer_never_notices_the_german(action_server):
    for language in ("en", None):  # None: a conversation from before the slot existed
        reply = ask(action_server, "Can I pay with PayPal?", language)
        assert reply["text"].startswith("We accept")
        assert reply["custom"]["frontdoor"]["article"]["language"] == "en"


def test_an_english_only_article_answers_a_german_customer_with_an_honest_note(action_server):
    reply = ask(action_server, "Do you sell purple unicorns?", "de")
    assert reply["text"] == ("_Diese Antwort gibt es bisher nur auf Englisch._\n\n"
                             "We sell purple unicorns in three sizes.")
    assert reply["custom"]["frontdoor"]["article"]["language"] == "en"


def test_fallback_and_clarification_speak_german_to_a_german_customer(action_server):
    """Whichever the matcher decides for a question the knowledge base cannot answer,
    a German customer hears it in German, buttons included."""
    seed = {a.id: a for a in load_folder(Settings().knowledge.articles_dir)}
    reply = ask(action_server, "Wer hat gestern das Fußballspiel gewonnen?", "de")
    note = reply["custom"]["frontdoor"]
    if note["decision"] == "clarify":
        assert reply["text"] == "Dazu habe ich mehrere Antworten gefunden. Welche meinen Sie?"
        assert [b["title"] for b in reply["buttons"]] == [
            seed[option].text("de").title for option in note["options"]]
    else:
        assert note == {"decision": "fallback"}
        assert reply["text"].startswith("Das weiß ich leider noch nicht.")
        assert [b["title"] for b in reply["buttons"]] == ["Mit einem Menschen sprechen"]
