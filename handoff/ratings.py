"""A rating typed instead of pressed: while a customer is asked to rate their
conversation, "5", "5 stars", "4/5", "⭐⭐⭐⭐⭐", "five" or "fünf" count as that
score on every channel (handoff/messages.py offers the buttons; the gateway's
handoff bridge records it). Pure: anything else is None and goes to the bot."""

from __future__ import annotations

import re

# Number words in the languages the product speaks (English, German).
_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "eins": 1, "ein": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4,
    "fünf": 5, "fuenf": 5, "funf": 5,
}
_NUMBER = r"(?P<number>[1-5]|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
# What may follow the number: "stars", "Sterne", "/5", "out of 5", "von 5", star signs.
_UNIT = r"(?:\s*(?:stars?|sterne?|punkte?|points?|★+|⭐+))?"
_SCALE = r"(?:\s*(?:/|out\s+of|of|von|aus)\s*(?:5|five|fünf))?"
_TYPED = re.compile(rf"{_NUMBER}{_UNIT}{_SCALE}{_UNIT}", re.IGNORECASE)
_STARS = re.compile(r"[★⭐]{1,5}")
# Trailing words of a button title ("5 ★★★★★ Excellent") and polite punctuation.
_TRAILING = re.compile(r"[\s.!,;:)]+$")


def typed_rating(text: str) -> int | None:
    """The score 1-5 a typed message gives, or None if it is not a rating."""
    cleaned = text.replace("\ufe0f", "").replace("\u200d", "").strip().lower()
    cleaned = _TRAILING.sub("", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned)
    if not cleaned or len(cleaned) > 40:
        return None
    if _STARS.fullmatch(cleaned.replace(" ", "")):
        return len(cleaned.replace(" ", ""))
    match = _TYPED.fullmatch(cleaned)
    if match is None:
        return None
    number = match["number"]
    score = int(number) if number.isdigit() else _WORDS[number]
    stars = sum(cleaned.count(s) for s in "★⭐")
    if stars > 1 and stars != score:
        return None  # "5 ★★" says two things at once; "2⭐" is a unit, like "2 stars"
    return score
