"""SMS text, pure: Markdown to plain text, GSM-7 / UCS-2 detection, segment
counting, splitting long texts, and numbered options in place of buttons.

Segments follow 3GPP TS 23.038 / 23.040 as carriers (and Twilio) count them: a
text that only uses the GSM-7 alphabet costs one septet per character (two for
the extension table, which is an escape plus the character); anything else
turns the whole message into UCS-2, counted in UTF-16 code units. A single
message holds 160 septets / 70 units; a concatenated one 153 / 67 per segment
(the rest is the concatenation header), and an escape pair or a surrogate pair
is never split across two segments.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.i18n import translator
from core.models import TranscriptEntry

log = logging.getLogger(__name__)


Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # each costs two septets

SINGLE_LIMIT = {"GSM-7": 160, "UCS-2": 70}
SEGMENT_SIZE = {"GSM-7": 153, "UCS-2": 67}
MAX_SEGMENTS = 10  # per message we hand to Twilio; longer texts become several messages
MAX_BODY_CHARS = 1600  # the Messages API's own limit on Body

# Typographic characters that would switch a whole message to UCS-2 (and so
# more than double its cost) for no visible gain; Twilio's "smart encoding"
# does the same substitution.
_GSM_LOOKALIKES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2022": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\u2026": "...",
    # German quotation marks (the „ “ pair is above) and the rating stars.
    "\u00bb": '"', "\u00ab": '"', "\u203a": "'", "\u2039": "'",
    "\u1e9e": "SS", "\u2605": "*", "\u2606": "*",
})
# Control characters have no business in an SMS (ESC would even be read as the
# GSM-7 extension escape); newline is kept.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


# -- counting ------------------------------------------------------------------------

@dataclass(frozen=True)
class SmsInfo:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def encoding_of(text: str) -> Encoding:
    ok = GSM7_BASIC | GSM7_EXTENSION
    return "GSM-7" if all(ch in ok for ch in text) else "UCS-2"


def _costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # astral (emoji): a surrogate pair


def sms_info(text: str) -> SmsInfo:
    encoding = encoding_of(text)
    costs = _costs(text, encoding)
    units = sum(costs)
    if units <= SINGLE_LIMIT[encoding]:
        return SmsInfo(encoding, units, 1)
    size, segments, used = SEGMENT_SIZE[encoding], 1, 0
    for cost in costs:  # pack greedily: a 2-unit character never straddles two segments
        if used + cost > size:
            segments, used = segments + 1, 0
        used += cost
    return SmsInfo(encoding, units, segments)


def segment_count(text: str) -> int:
    return sms_info(text).segments


# -- splitting ---------------------------------------------------------------------------

# Coarsest first: paragraphs, lines, sentences, then words; each level is only
# used for a piece that does not fit whole.
_SPLITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n\s*\n"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (re.compile(r"(?<=[.!?])\s+"), " "),
    (re.compile(r"\s+"), " "),
)


def split_message(text: str, max_segments: int = MAX_SEGMENTS) -> list[str]:
    """Split `text` into messages of at most `max_segments` segments each,
    never inside a word (so never inside a URL) unless one word alone is longer
    than a whole message."""
    text = text.strip()
    if not text:
        return []

    def fits(piece: str) -> bool:
        return len(piece) <= MAX_BODY_CHARS and segment_count(piece) <= max_segments

    return _pack(text, fits, 0)


def _pack(text: str, fits: Callable[[str], bool], level: int) -> list[str]:
    if fits(text):
        return [text]
    if level == len(_SPLITS):
        return _hard_cut(text, fits)
    pattern, joiner = _SPLITS[level]
    chunks: list[str] = []
    current = ""
    for part in (p.rstrip().lstrip("\n") for p in pattern.split(text)):  # keep indents
        if not part:
            continue
        candidate = f"{current}{joiner}{part}" if current else part
        if fits(candidate):
            current = candidate
            continue
        if current:
            chunks.append(current)
        if fits(part):
            current = part
        else:  # too big on its own: split it finer; its tail may still take more parts
            *done, current = _pack(part, fits, level + 1)
            chunks.extend(done)
    if current:
        chunks.append(current)
    return chunks


def _hard_cut(word: str, fits: Callable[[str], bool]) -> list[str]:
    """Last resort for one unbroken run longer than a whole message."""
    chunks = []
    while word:
        low, high = 1, len(word)  # the longest prefix that fits (fitting is monotone)
        while low < high:
            mid = (low + high + 1) // 2
            if fits(word[:mid]):
                low = mid
            else:
                high = mid - 1
        chunks.append(word[:low])
        word = word[low:]
    return chunks


# -- Markdown to plain text -------------------------------------------------------------

@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Raw HTML stays literal text: on SMS there is nothing to inject into.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def markdown_to_sms(text: str) -> str:
    """Plain text a phone shows as written: emphasis dropped, links as
    "text (url)", lists as "- item" / "1. item", headings as plain lines."""
    blocks: list[str] = []  # joined by blank lines
    list_lines: list[str] = []  # the lines of the outermost list being built
    lists: list[str] = []  # open list kinds, innermost last
    prefix: str | None = None  # the marker of the list item whose text comes next

    def emit(content: str) -> None:
        nonlocal prefix
        if not content:
            return
        if not lists:
            blocks.append(content)
            return
        indent = "  " * (len(lists) - 1)
        lead = indent + (prefix if prefix is not None else "  ")
        prefix = None
        lines = content.split("\n")
        list_lines.append(lead + lines[0])
        list_lines.extend(indent + "  " + line for line in lines[1:])

    for token in _markdown().parse(text):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists and list_lines:
                blocks.append("\n".join(list_lines))
                list_lines = []
        elif kind == "list_item_open":
            prefix = "- " if lists[-1] == "bullet_list_open" else f"{token.info}. "
        elif kind == "inline":
            emit(_inline(token.children or []).strip())
        elif kind in ("fence", "code_block", "html_block"):
            emit(token.content.rstrip("\n"))
    return _tidy("\n\n".join(blocks))


def _inline(children: Sequence[Token]) -> str:
    out: list[str] = []
    links: list[tuple[int, str]] = []  # (where the label starts in `out`, href)
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            links.append((len(out), str(child.attrs.get("href", ""))))
        elif kind == "link_close" and links:
            start, href = links.pop()
            label = "".join(out[start:])
            del out[start:]
            out.append(_link(label, href))
        elif kind == "image":
            out.append(_link(child.content, str(child.attrs.get("src", ""))))
    return "".join(out)


def _link(label: str, href: str) -> str:
    label = label.strip()
    bare = re.sub(r"^(mailto:|tel:)", "", href, flags=re.IGNORECASE)
    if bare != href:  # an address or a number: phones make it tappable by themselves
        return label or bare
    if not label or _same_place(label, href):
        return href
    return f"{label} ({href})"


def _same_place(label: str, href: str) -> bool:
    def norm(url: str) -> str:
        return re.sub(r"^https?://", "", url.strip(), flags=re.IGNORECASE).rstrip("/").lower()
    return norm(label) == norm(href)


def _tidy(text: str) -> str:
    text = _CONTROL.sub("", text.translate(_GSM_LOOKALIKES))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def plain(text: str) -> str:
    """A one-line plain string (for a button title inside a sentence)."""
    return " ".join(_tidy(text).split())


# -- numbered options ---------------------------------------------------------------------

_NUMBERED_TITLE = re.compile(r"([1-9]) (.+)")


def option_numbers(titles: Sequence[str]) -> list[int]:
    """The number a customer texts for each option: 1, 2, 3 … in order, unless the
    titles are numbered themselves, each once from 1 (the ratings "5 ★★★★★
    Excellent" … "1 ★ Bad"): then their own number, so texting "5" gives five
    stars, not the fifth option."""
    own = [_NUMBERED_TITLE.fullmatch(plain(title).strip()) for title in titles]
    numbers = [int(m[1]) for m in own if m]
    if len(numbers) == len(titles) and sorted(numbers) == list(range(1, len(titles) + 1)):
        return numbers
    return list(range(1, len(titles) + 1))


def numbered_options(titles: Sequence[str], language: str | None = None) -> str:
    """ "Reply 1 for A, 2 for B or 3 for C." (in the customer's language)"""
    _ = translator("channels", language).gettext
    numbers = option_numbers(titles)
    keyed = numbers != list(range(1, len(titles) + 1))
    parts = [_("{number} for {option}").format(
                 number=n, option=_NUMBERED_TITLE.fullmatch(plain(title).strip())[2]  # type: ignore[index]
                 if keyed else plain(title))
             for n, title in zip(numbers, titles, strict=True)]
    if not parts:
        return ""
    if len(parts) == 1:
        return _("Reply {option}.").format(option=parts[0])
    return _("Reply {options} or {last}.").format(options=", ".join(parts[:-1]), last=parts[-1])


# -- pure: outbound ----------------------------------------


def render(entry: TranscriptEntry, language: str | None = None) -> list[str]:
    """The SMS bodies for one entry, in order: plain text, buttons as numbered
    options at the end (worded in `language`), split so that no body exceeds
    ten segments."""
    text = markdown_to_sms(entry.text)
    if entry.buttons:
        options = numbered_options([b.title for b in entry.buttons], language)
        text = f"{text}\n\n{options}" if text else options
    return split_message(text)


def _mask(phone: str) -> str:
    """Phone numbers are personal data: logs get the last digits only."""
    return "…" + phone[-4:]
