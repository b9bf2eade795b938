"""core/language.py: the language of one message, on messages as customers write them."""

import time

import pytest

from core.language import detect_language, language_choice, preload

GERMAN = [
    "Wo ist meine Bestellung?",
    "Kann ich mit PayPal zahlen?",
    "Ich möchte mit einem Menschen sprechen",
    "Wie lange dauert der Versand nach Österreich?",
    "Mein Paket ist nicht angekommen",
    "Ich habe mein Passwort vergessen",
    "was kostet der versand",  # all lower case, no punctuation
    "Bestellung stornieren",
    "Guten Morgen",
    "Vielen Dank!",
    "Grüße aus München",
    "Grüß Gott",
    "Tschüss",
    "Hallo",
    "Danke",
    "nein",
]
GERMAN_ONE_WORD = ["Rückgabe?", "Rueckgabe?", "Lieferung", "Rechnung", "Lieferzeit?", "Umtausch",
                   "Gutschein", "Hilfe", "Preis"]
GERMAN_TRANSLITERATED = [
    "Ich moechte zurueckgeben",
    "Wie aendere ich meine Lieferadresse?",
    "Mein Paket ist beschaedigt angekommen",
    "Ich moechte mit einem Menschen sprechen",
    "Strasse",  # ß written as ss
    "Ich weiss nicht, wo mein Paket ist",
    "Koennen Sie mir helfen?",
]
ENGLISH = [
    "Where is my order?",
    "Can I pay with PayPal?",
    "I want to talk to a human",
    "The package arrived damaged",
    "what does shipping cost",
    "cancel my order",
    "forgot my password",
    "Good morning",
    "Thank you!",
    "Hi there",
    "hello",
    "thanks",
    "price",
    "invoice",
    "refund",
    "help",
]
MIXED = [  # the dominant language wins
    ("I want to return my Schuhe", "en"),
    ("Ich will return my shoes please", "en"),
    ("Hallo, I need help with my order", "en"),
    ("Hi, ich brauche Hilfe mit meiner Bestellung", "de"),
    ("Where is my Bestellung?", "en"),
    ("Ich habe eine Frage zu meiner order", "de"),
    ("I live in München and my order is late", "en"),
    ("Привет, where is my order?", "en"),  # a Cyrillic greeting in an English message
]
UNSURE = [
    "", "ok", "OK!", "ja", "yes", "no", "hi", "👍", "😀😀😀", "12345", "FD-7K2Q",
    "/choose_article{\"id\": \"a1\"}", "/csat{\"score\":5}", "https://example.com/order/123",
    "mail@example.com", "привет как дела", "你好，我的订单在哪里", "مرحبا", "Kundenservice",
    "Wo ist my order?",  # half and half
]


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    preload()


@pytest.mark.parametrize("text", GERMAN + GERMAN_ONE_WORD + GERMAN_TRANSLITERATED)
def test_german_messages_read_as_german(text):
    assert detect_language(text) == "de"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_messages_read_as_english(text):
    assert detect_language(text) == "en"


@pytest.mark.parametrize(("text", "language"), MIXED)
def test_a_mixed_message_reads_as_its_dominant_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", UNSURE)
def test_nothing_to_judge_gives_no_language(text):
    assert detect_language(text) is None


def test_a_call_takes_well_under_a_millisecond_once_preloaded():
    texts = GERMAN + ENGLISH + [t for t, _ in MIXED] + UNSURE
    started = time.perf_counter()
    for _ in range(20):
        for text in texts:
            detect_language(text)
    per_call = (time.perf_counter() - started) / (20 * len(texts))
    assert per_call < 0.001


@pytest.mark.parametrize(("text", "language"), [
    ("Deutsch", "de"), ("German", "de"), ("auf Deutsch", "de"), ("Deutsch, bitte.", "de"),
    ("deutsch?", "de"), ("English", "en"), ("Englisch", "en"), ("in English", "en"),
    ("English please!", "en"), ("  ENGLISH ", "en"),
])
def test_a_message_that_is_only_a_language_is_a_choice(text, language):
    assert language_choice(text) == language


@pytest.mark.parametrize("text", [
    "Do you speak German?", "German customer here", "Do you ship to Germany?",
    "Is the manual in English?", "", "Deutschland",
])
def test_a_message_that_mentions_a_language_is_not_a_choice(text):
    assert language_choice(text) is None
