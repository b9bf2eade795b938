"""Markdown to Telegram HTML, split into messages Telegram accepts.

Pure functions (no Bot client, no network; only aiogram's inline keyboard types):
the Telegram adapter, the editor's previews and the tests use them.

Telegram's HTML is a small tag set with nesting rules (Bot API, "Formatting
options"): bold/italic/strikethrough may nest in anything except code and pre;
code, pre and links may not contain each other. So the renderer works on
*runs* (plain text plus the stack of tags around it) instead of HTML strings:
code runs carry no other tag, and every message is serialised from its own
runs, so a split can never fall inside a tag or an entity and every part
opens and closes its own tags.

Text is limited to 4,096 characters (UTF-16 code units). We measure the HTML
itself, which is never shorter than the text Telegram counts, so a part that
fits here fits there.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from bot.channels.texts import say
from bot.rendering.markdown import is_safe_link, safe_markdown
from core.i18n import N_
from core.models import TranscriptEntry

log = logging.getLogger(__name__)


MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_BYTES = 64
_LANGUAGE = re.compile(r"[^A-Za-z0-9_+#.-]")
_QUOTE_MARK = "▍ "
_RULE = "—————"

# Where an oversized piece may be cut, best first: line breaks, then between
# words, then anywhere (a "word" longer than a message: in slices, then
# characters).
_CUTS = (re.compile(r"\n"), re.compile(r"\s+"), re.compile(r".{1,64}", re.DOTALL),
         re.compile(r".", re.DOTALL))


@dataclass(frozen=True)
class Run:
    text: str  # plain text, escaped only when serialised
    tags: tuple[str, ...] = ()  # opening tags outermost first, e.g. ("b", 'a href="..."')


Runs = list[Run]


def utf16_len(text: str) -> int:
    """Telegram counts lengths and offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# -- Markdown to runs ----------------------------------------------------------


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return safe_markdown(strikethrough=True)


def _blocks(markdown: str) -> list[Runs]:
    """The top-level blocks (paragraph, heading, list, code block, quote, rule)."""
    root = SyntaxTreeNode(_markdown().parse(markdown))
    blocks = [_block(node, 0) for node in root.children]
    return [b for b in blocks if any(r.text.strip() for r in b)]


def _block(node: SyntaxTreeNode, depth: int) -> Runs:
    kind = node.type
    if kind == "paragraph":
        return _inline_children(node, ())
    if kind == "heading":
        return _inline_children(node, ("b",))
    if kind in ("fence", "code_block"):
        language = _LANGUAGE.sub("", (node.info or "").split(" ")[0])[:32]
        tags = ("pre", f'code class="language-{language}"') if language else ("pre",)
        return [Run(node.content.rstrip("\n"), tags)]
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, depth)
    if kind == "blockquote":
        quoted = _join([_block(child, depth) for child in node.children], "\n")
        return [Run(_QUOTE_MARK), *_indent(quoted, _QUOTE_MARK)]
    if kind == "hr":
        return [Run(_RULE)]
    # Anything else (raw HTML is off, so rare): its text, never its markup.
    return [Run(_text_of(node))]


def _list(node: SyntaxTreeNode, depth: int) -> Runs:
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1)) if ordered else 1
    indent = "   " * depth
    lines: list[Runs] = []
    for number, item in enumerate(node.children, start):
        marker = f"{number}. " if ordered else "• "
        pad = indent + " " * len(marker)
        first = True
        for child in item.children:
            runs = _block(child, depth + 1)
            if child.type in ("bullet_list", "ordered_list"):
                lines.append(runs)  # nested lists indent themselves
            else:
                lead = indent + marker if first else pad
                lines.append([Run(lead), *_indent(runs, pad)])
            first = False
        if first:  # an empty item
            lines.append([Run(indent + marker)])
    return _join(lines, "\n")


def _inline_children(node: SyntaxTreeNode, tags: tuple[str, ...]) -> Runs:
    runs: Runs = []
    for child in node.children:
        runs.extend(_inline(child, tags))
    return runs


def _inline(node: SyntaxTreeNode, tags: tuple[str, ...]) -> Runs:
    kind = node.type
    if kind == "inline":
        return _inline_children(node, tags)
    if kind == "text":
        return [Run(node.content, tags)]
    if kind in ("softbreak", "hardbreak"):
        return [Run("\n", tags)]  # chat authors mean their line breaks
    if kind == "strong":
        return _inline_children(node, (*tags, "b"))
    if kind == "em":
        return _inline_children(node, (*tags, "i"))
    if kind == "s":
        return _inline_children(node, (*tags, "s"))
    if kind == "code_inline":
        if any(t.startswith("a ") for t in tags):
            return [Run(node.content, tags)]  # a link can't contain code: keep the link
        return [Run(node.content, ("code",))]  # code can't be inside bold/italic
    if kind in ("link", "image"):
        href = str(node.attrs.get("href") or node.attrs.get("src") or "")
        inner = _inline_children(node, ()) or [Run(href)]
        if not is_safe_link(href) or any(t.startswith("a ") for t in tags):
            return [Run(r.text, tags) for r in inner]
        link = f'a href="{html.escape(href, quote=True)}"'
        # code inside a link loses its code style: the two can't nest
        return [Run(r.text, tags + (link,) + (() if r.tags == ("code",) else r.tags))
                for r in inner]
    return [Run(_text_of(node), tags)]


def _text_of(node: SyntaxTreeNode) -> str:
    if not node.children:
        return node.content or ""
    return "".join(_text_of(child) for child in node.children)


def _join(parts: list[Runs], separator: str) -> Runs:
    runs: Runs = []
    for i, part in enumerate(p for p in parts if p):
        if i:
            runs.append(Run(separator))
        runs.extend(part)
    return runs


def _indent(runs: Runs, pad: str) -> Runs:
    """Continue every line of a block under a list marker or quote mark (code
    blocks keep their own lines)."""
    return [r if r.tags[:1] == ("pre",) else Run(r.text.replace("\n", "\n" + pad), r.tags)
            for r in runs]


# -- runs to HTML --------------------------------------------------------------


def _close(tag: str) -> str:
    return f"</{tag.split(' ', 1)[0]}>"


class _Html:
    """Serialises runs, closing and opening only the tags that change between
    runs, and knows its exact length before anything is added."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.stack: tuple[str, ...] = ()
        self.body = 0  # UTF-16 length so far, without the closing tags still owed

    @staticmethod
    def _step(stack: tuple[str, ...], run: Run) -> tuple[list[str], tuple[str, ...]]:
        keep = 0
        while keep < min(len(stack), len(run.tags)) and stack[keep] == run.tags[keep]:
            keep += 1
        out = [_close(t) for t in reversed(stack[keep:])]
        out += [f"<{t}>" for t in run.tags[keep:]]
        out.append(html.escape(run.text, quote=False))
        return out, run.tags

    def cost(self, runs: Runs) -> int:
        """The length of the HTML if `runs` were added."""
        stack, body = self.stack, self.body
        for run in runs:
            if run.text:
                out, stack = self._step(stack, run)
                body += sum(utf16_len(s) for s in out)
        return body + sum(utf16_len(_close(t)) for t in stack)

    def add(self, runs: Runs) -> None:
        for run in runs:
            if run.text:
                out, self.stack = self._step(self.stack, run)
                self.parts.extend(out)
                self.body += sum(utf16_len(s) for s in out)

    def html(self) -> str:
        return "".join(self.parts) + "".join(_close(t) for t in reversed(self.stack))


def runs_to_html(runs: Runs) -> str:
    out = _Html()
    out.add(runs)
    return out.html()


# -- splitting -------------------------------------------------------------------


def _cut(runs: Runs, pattern: re.Pattern[str]) -> list[Runs]:
    """Cut runs after every match of `pattern`, keeping the separator at the end
    of the piece before it."""
    pieces: list[Runs] = []
    current: Runs = []
    for run in runs:
        pos = 0
        for match in pattern.finditer(run.text):
            if match.end() > pos:
                current.append(Run(run.text[pos:match.end()], run.tags))
                pieces.append(current)
                current, pos = [], match.end()
        if pos < len(run.text):
            current.append(Run(run.text[pos:], run.tags))
    if current:
        pieces.append(current)
    return pieces


def _pack(pieces: list[Runs], limit: int, level: int, out: list[Runs]) -> None:
    """Greedily fill messages with whole pieces; a piece too big for a message
    of its own is cut at the next, finer boundary."""
    current, meter = [], _Html()
    for piece in pieces:
        if meter.cost(piece) <= limit:
            meter.add(piece)
            current += piece
            continue
        if current:
            out.append(current)
        current, meter = [], _Html()
        if meter.cost(piece) <= limit:
            meter.add(piece)
            current = list(piece)
        elif level < len(_CUTS):
            _pack(_cut(piece, _CUTS[level]), limit, level + 1, out)
        else:  # one character whose tags alone exceed the limit (a huge link)
            out.append([Run(r.text) for r in piece])
    if current:
        out.append(current)


def _trim(runs: Runs) -> Runs:
    """Drop the separators left at the edges of a message."""
    runs = [r for r in runs if r.text]
    while runs and not runs[-1].text.strip():
        runs.pop()
    while runs and not runs[0].text.strip():
        runs.pop(0)
    if runs:
        runs[-1] = Run(runs[-1].text.rstrip(), runs[-1].tags)
        runs[0] = Run(runs[0].text.lstrip("\n"), runs[0].tags)
    return runs


def markdown_to_telegram_html(markdown: str) -> str:
    """The whole message as Telegram HTML, unsplit."""
    return runs_to_html(_trim(_join(_blocks(markdown), "\n\n")))


def render_parts(markdown: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Markdown as one or more Telegram HTML messages of at most `limit` UTF-16
    units each, split between blocks, then lines, then words."""
    blocks = _blocks(markdown)
    pieces = [[*block, Run("\n\n")] for block in blocks]
    messages: list[Runs] = []
    _pack(pieces, limit, 0, messages)
    return [runs_to_html(m) for m in (_trim(m) for m in messages) if m]


# -- inline keyboard callback data -------------------------------------------------


def callback_data(payload: str) -> tuple[str, str | None]:
    """callback_data for a button payload, and the token to store the payload
    under when it is too long for Telegram's 64 bytes (else None). The token is
    a hash of the payload, so rendering stays pure and repeatable."""
    data = "p:" + payload
    if len(data.encode()) <= MAX_CALLBACK_BYTES:
        return data, None
    digest = hashlib.sha256(payload.encode()).digest()[:12]
    token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return "k:" + token, token


def parse_callback_data(data: str) -> tuple[str, str]:
    """("payload", payload) or ("token", token); data we did not make is a payload."""
    if data.startswith("k:"):
        return "token", data[2:]
    if data.startswith("p:"):
        return "payload", data[2:]
    return "payload", data


CHOOSE_PROMPT = N_("Please choose an option:")  # Telegram needs text under a keyboard


# -- outbound: pure ----------------------------------------



@dataclass(frozen=True)
class TelegramPart:
    text: str  # Telegram HTML
    reply_markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Rendered:
    parts: tuple[TelegramPart, ...]
    # callback token -> payload too long for callback_data, to keep in Redis
    stash: dict[str, str] = field(default_factory=dict)


def render(entry: TranscriptEntry, language: str | None = None) -> Rendered:
    """An entry as sendMessage calls: Markdown as Telegram HTML split to fit,
    buttons as an inline keyboard (one button a row) on the last part."""
    texts = render_parts(entry.text)
    if not entry.buttons:
        return Rendered(tuple(TelegramPart(t) for t in texts))
    rows, stash = [], {}
    for button in entry.buttons:
        data, token = callback_data(button.payload)
        if token is not None:
            stash[token] = button.payload
        label = button.title.strip() or button.payload
        rows.append([InlineKeyboardButton(text=label, callback_data=data)])
    texts = texts or [html.escape(say(language, CHOOSE_PROMPT))]
    keyboard = InlineKeyboardMarkup(inline_keyboard=rows)
    parts = [TelegramPart(t) for t in texts[:-1]] + [TelegramPart(texts[-1], keyboard)]
    return Rendered(tuple(parts), stash)


def _plain(telegram_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", telegram_html))
