"""Which language a customer's message is in: "de", "en", or None when unsure.

Pure functions over one message's text. The statistical part is lingua
(`lingua-language-detector`, its models ship inside the wheel), built once for
English and German only and preloaded at process start (`preload()`): its
first call would otherwise load the models (~0.5 s). A call then takes tens of
microseconds (docs/customers.md#language).

lingua alone is weak on what customers actually send: one word ("Hallo" reads
as English), two-word English ("order status" leans German) and mixed
sentences ("I want to return my Schuhe"). So a short list of unambiguous
function words of each language counts too, and a message is only given a
language when the evidence is clear:

- nothing to judge gives None: no letters, fewer than MIN_LETTERS Latin
  letters, a button payload ("/choose_article{...}"), mostly a script we do
  not support (Cyrillic, CJK, Arabic...), emoji and numbers (they are ignored);
- function words decide a clear majority (two more of one language, or some
  of one and none of the other while lingua does not disagree strongly): the
  dominant language of a mixed message;
- otherwise lingua must be sure: ONE_WORD_CONFIDENCE for a single word,
  CONFIDENCE for more; ä ö ü ß count as German.

Umlauts typed as ae/oe/ue and ß as ss ("Rueckgabe?", "Strasse") are read as
German by lingua itself; the function words list their transliterations too.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import unicodedata
from typing import Literal

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

log = logging.getLogger(__name__)

Detected = Literal["en", "de"]
MIN_LETTERS = 4  # "ok", "ja", "no", "hi": nothing to judge
CONFIDENCE = 0.80  # lingua's confidence needed for a message of two words or more
ONE_WORD_CONFIDENCE = 0.90  # and for a single word
LINGUA_VETO = 0.10  # function words cannot win against lingua this sure of the other
GERMAN_LETTERS = frozenset("äöüß")

def _wordlist(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Function words and set phrases that are clearly one language (not "in", "was",
# "will", "also", "so", "man", "bin", "hat", "die", "war", "an", "am", "hi"...,
# which both languages write).
GERMAN_WORDS = _wordlist("""
ich mich mir mein meine meinen meinem meiner du dich dein deine sie ihr ihre ihren
wir uns unser unsere ist sind nicht kein keine keinen und oder aber der das dem den
des ein eine einen einem einer wo wie warum wieso wann wer welche welcher welches
kann koennen können möchte moechte moechten möchten würde wuerde habe haben hast
bitte danke dankeschön hallo moin servus tschüss tschuess guten tag abend morgen
mit für fuer von zu zum zur auf aus bei nach über ueber noch schon auch nur sehr
gibt geht muss müssen muessen soll sollte darf dürfen duerfen wurde wurden worden
bestellung lieferung rückgabe rueckgabe versand zahlen bezahlen rechnung
ja nein doch leider etwas nichts jetzt heute gestern schnell
""")
ENGLISH_WORDS = _wordlist("""
i me my mine you your yours we our us the is are not and or but where what why
when who which how can could would should please thanks thank hello hey with
from for to of at about this that these those have has had do does did don't
doesn't can't won't didn't isn't it's i'm i've i'd there here get got want need
order delivery return refund shipping pay payment invoice yes any some still
just very now today yesterday
""")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_PAYLOAD_RE = re.compile(r"\s*/\w")
_URL_RE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+")


@functools.cache
def detector() -> LanguageDetector:
    """lingua for English and German, built once per process and shared (the
    knowledge embedder weighs its encoders with it too)."""
    return (LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.GERMAN)
            .with_preloaded_language_models().build())


def preload() -> float:
    """Build the detector and load its models now (at process start, not on a
    customer's first message); returns the seconds it took."""
    started = time.perf_counter()
    detector().compute_language_confidence("Wo ist meine Bestellung?", Language.GERMAN)
    took = time.perf_counter() - started
    log.info("language detector ready in %.2fs", took)
    return took


def detect_language(text: str) -> Detected | None:
    """The language of one message: "de", "en", or None when unsure."""
    if not text or _PAYLOAD_RE.match(text):
        return None
    text = _URL_RE.sub(" ", unicodedata.normalize("NFC", text))
    words = [w.lower().replace("’", "'") for w in _WORD_RE.findall(text)]
    latin = [w for w in words if _latin(w)]
    letters = sum(len(w) for w in latin)
    foreign = sum(len(w) for w in words if not _latin(w))
    if letters < MIN_LETTERS or foreign > letters:
        return None
    german = sum(w in GERMAN_WORDS for w in latin)
    english = sum(w in ENGLISH_WORDS for w in latin)
    p_de = detector().compute_language_confidence(" ".join(latin), Language.GERMAN)
    if any(c in GERMAN_LETTERS for w in latin for c in w) and english <= german:
        return "de"
    if german - english >= 2 or (german and not english and p_de >= LINGUA_VETO):
        return "de"
    if english - german >= 2 or (english and not german and 1 - p_de >= LINGUA_VETO):
        return "en"
    needed = ONE_WORD_CONFIDENCE if len(latin) == 1 else CONFIDENCE
    if p_de >= needed:
        return "de"
    if 1 - p_de >= needed:
        return "en"
    return None


def count_words(text: str) -> int:
    """How many words of letters a message has (numbers, emoji and signs aside)."""
    return len(_WORD_RE.findall(text or ""))


def _latin(word: str) -> bool:
    return all("LATIN" in unicodedata.name(c, "") for c in word)


# -- an explicit choice ------------------------------------------------------------------
_CHOICE_RE = re.compile(
    r"(?:(?:auf|in|speak|sprich|sprechen sie|bitte|please|lieber)\s+)*"
    r"(deutsch|german|englisch|english)"
    r"(?:\s+(?:bitte|please|sprechen|reden|speaking))*", re.IGNORECASE)
_CHOICES: dict[str, Detected] = {"deutsch": "de", "german": "de",
                                 "englisch": "en", "english": "en"}


def language_choice(text: str) -> Detected | None:
    """The language a message asks for when it is nothing but that choice:
    "Deutsch", "German", "auf Deutsch", "English", "Englisch", "in English",
    "English please", "Deutsch bitte" (punctuation aside); None otherwise, so
    "Do you ship to Germany? German customer here" still goes to the assistant."""
    cleaned = " ".join(re.sub(r"[^\w\s]", " ", text or "").split())
    match = _CHOICE_RE.fullmatch(cleaned)
    return _CHOICES[match[1].lower()] if match else None
