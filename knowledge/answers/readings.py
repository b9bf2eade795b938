"""Readings of a customer's message for matching: the message itself, and the
message without a short opening clause ("Hi,", "Thanks!", "Morning, quick
question -", "Hallo,"). Such an opening says nothing about what is asked, but
in a sentence embedding it pulls a short question towards whatever articles
happen to sit near a greeting: "Hi, where is my order?" scores lower against
"Where is my order?" than the question alone does. No word list: any opening
clause of at most `_MAX_OPENING_WORDS` words before a clause mark is tried
away, and the reading whose best article scores highest is used."""

from __future__ import annotations

import re

_MAX_OPENING_WORDS = 3
_MAX_READINGS = 3
# An opening clause ends at a comma, full stop, exclamation or question mark,
# colon, semicolon or a free-standing dash.
_OPENING = re.compile(r"^\s*([^,.!?;:]+?)\s*(?:[,.!?;:]+|\s[-–—]+)\s+(?=\S)")
_WORD = re.compile(r"\w+")


def readings(message: str) -> list[str]:
    """The message first, then it with one and with two short opening clauses
    taken away, as long as what is left still has at least two words."""
    out = [message]
    rest = message
    while len(out) < _MAX_READINGS:
        m = _OPENING.match(rest)
        if m is None or len(_WORD.findall(m.group(1))) > _MAX_OPENING_WORDS:
            break
        rest = rest[m.end():]
        if len(_WORD.findall(rest)) < 2:
            break
        out.append(rest)
    return out
