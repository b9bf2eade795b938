r"""Markdown to Slack: mrkdwn text in Block Kit sections, buttons in actions blocks.

Pure functions, no Slack library: the Slack adapter and its tests use them.

Slack's mrkdwn has exactly three control characters, `&`, `<` and `>`, and
they are escaped as entities in every piece of text we produce, so no text
(an article, an agent's reply quoting a customer) can form a link, a mention
or `<!channel>`. Links are built by us, only for http(s) and mailto. The
formatting characters `*`, `_`, `~` and the backtick have no escape in mrkdwn
at all; a stray one can only change emphasis, never meaning.

Limits (Block Kit reference): a text object holds at most 3,000 characters, a
message at most 50 blocks, an actions block at most 25 elements; a button's
text at most 75 characters and its value at most 2,000. We measure lengths in
UTF-16 code units, never fewer than the characters Slack counts.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from bot.rendering.markdown import is_safe_link, safe_markdown
from core.i18n import text, translator
from core.models import Button, TranscriptEntry

log = logging.getLogger(__name__)


SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 50
BUTTONS_PER_BLOCK = 25
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
FALLBACK_LIMIT = 3000  # the notification text; the blocks carry the message itself
ACTION_PREFIX = "fd_choice_"  # action_id of our buttons: fd_choice_0, fd_choice_1, ...
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_RULE = "—————"
_INDENT = "    "
_FENCE = "```"
# Never cut inside these: a link or mention, or an entity.
_ATOM = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int) -> str:
    if utf16_len(text) <= limit:
        return text
    return text[:_fit(text, limit - 1)].rstrip() + "…"


# -- Markdown to mrkdwn ----------------------------------------------------------


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return safe_markdown(_SAFE_SCHEMES, strikethrough=True)


def markdown_to_mrkdwn(text: str) -> str:
    """Markdown as Slack mrkdwn: *bold*, _em_, ~strike~, <url|text>, "• " lists."""
    return _Writer(plain=False).block(SyntaxTreeNode(_markdown().parse(text))).strip()


def markdown_to_plain(text: str) -> str:
    """Markdown as escaped plain text (no emphasis marks; links as "text (url)")."""
    return _Writer(plain=True).block(SyntaxTreeNode(_markdown().parse(text))).strip()


class _Writer:
    def __init__(self, plain: bool) -> None:
        self.plain = plain

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "paragraph":
            return self.inline(node.children[0]) if node.children else ""
        if kind == "heading":
            return self._mark("*", self.inline(node.children[0])) if node.children else ""
        if kind in ("bullet_list", "ordered_list"):
            return self._list(node)
        if kind == "blockquote":
            inner = "\n".join(self.block(child) for child in node.children)
            return "\n".join("> " + line for line in inner.split("\n"))
        if kind in ("fence", "code_block"):
            code = escape(node.content.rstrip("\n"))
            return code if self.plain else f"{_FENCE}\n{code}\n{_FENCE}"
        if kind == "hr":
            return _RULE
        if kind == "html_block":  # not produced with html off; kept as text if it ever is
            return escape(node.content.rstrip("\n"))
        separator = "\n\n" if kind == "root" else "\n"
        return separator.join(part for part in map(self.block, node.children) if part)

    def _list(self, node: SyntaxTreeNode) -> str:
        start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 0
        lines: list[str] = []
        for number, item in enumerate(node.children, start=start):
            marker = f"{number}. " if node.type == "ordered_list" else "• "
            body = "\n".join(self.block(child) for child in item.children)
            first, *rest = body.split("\n")
            lines.append(marker + first)
            lines.extend(_INDENT + line if line else line for line in rest)
        return "\n".join(lines)

    def inline(self, node: SyntaxTreeNode) -> str:
        return "".join(self._span(child) for child in node.children)

    def _span(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind in ("text", "html_inline"):
            return escape(node.content)
        if kind in ("softbreak", "hardbreak"):
            return "\n"
        if kind == "code_inline":
            code = escape(node.content)
            return code if self.plain else f"`{code}`"
        if kind == "strong":
            return self._mark("*", self.inline(node))
        if kind == "em":
            return self._mark("_", self.inline(node))
        if kind == "s":
            return self._mark("~", self.inline(node))
        if kind in ("link", "image"):
            href = str(node.attrs.get("href") or node.attrs.get("src") or "")
            # Formatting does not work inside a link label: its text only.
            label = _Writer(plain=True).inline(node).replace("\n", " ").strip()
            return self._link(href, label)
        return self.inline(node) if node.children else escape(node.content)

    def _mark(self, marker: str, text: str) -> str:
        return text if self.plain or not text.strip() else f"{marker}{text}{marker}"

    def _link(self, href: str, label: str) -> str:
        if not is_safe_link(href, _SAFE_SCHEMES):
            return label
        # markdown-it has percent-encoded spaces, `|`, `<` and `>` in href;
        # `&` still needs its entity inside <...>.
        url = escape(href)
        shown = url.removeprefix("mailto:")
        if self.plain:
            return label if label in ("", url, shown) else f"{label} ({shown})"
        return f"<{url}>" if label in ("", url) else f"<{url}|{label}>"


# -- splitting -------------------------------------------------------------------


def _fit(text: str, limit: int) -> int:
    """How many characters of text fit in `limit` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_mrkdwn(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """mrkdwn cut into pieces of at most `limit`: at paragraph breaks, else line
    breaks, else spaces, never inside a link or an entity; a code block cut in
    two is closed and reopened."""
    parts: list[str] = []
    rest = text.strip("\n")
    while utf16_len(rest) > limit:
        room = _fit(rest, limit - len(_FENCE) - 1)  # leave room to close a code block
        head_end, tail_start = _cut(rest, room)
        head, tail = rest[:head_end].rstrip(), rest[tail_start:].lstrip("\n")
        if head.count(_FENCE) % 2:
            head, tail = head + "\n" + _FENCE, _FENCE + "\n" + tail
        if head:
            parts.append(head)
        rest = tail
    if rest.strip():
        parts.append(rest)
    return parts


def _cut(text: str, room: int) -> tuple[int, int]:
    atoms = [m.span() for m in _ATOM.finditer(text, 0, room + SECTION_LIMIT)]

    def inside(index: int) -> bool:
        return any(start < index < end for start, end in atoms)

    for separator in ("\n\n", "\n", " "):
        index = text.rfind(separator, 0, room)
        while index > 0 and inside(index):
            index = text.rfind(separator, 0, index)
        if index > room // 3:  # a break this early would leave a tiny piece
            return index, index + len(separator)
    index = room
    for start, end in atoms:
        if start < index < end and start > 0:
            index = start
    return index, index


# -- Block Kit -------------------------------------------------------------------


def render(entry: TranscriptEntry, language: str | None = None) -> list[dict]:
    """One entry as chat.postMessage payloads ({"text", "blocks"}), usually one.
    The buttons go with the last message; later messages say they continue."""
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
                for part in split_mrkdwn(markdown_to_mrkdwn(entry.text))]
    groups = [sections[i:i + BLOCKS_PER_MESSAGE]
              for i in range(0, len(sections), BLOCKS_PER_MESSAGE)] or [[]]
    actions = action_blocks(entry.buttons, language)
    if actions and len(groups[-1]) + len(actions) > BLOCKS_PER_MESSAGE:
        groups.append([])
    groups[-1].extend(actions)
    groups = [group for group in groups if group]
    fallback = fallback_text(entry)
    _ = translator("channels", language).gettext
    return [{"text": fallback if i == 0 else
             _("(continued, part {part} of {parts})").format(part=i + 1, parts=len(groups)),
             "blocks": group} for i, group in enumerate(groups)]


def fallback_text(entry: TranscriptEntry) -> str:
    """The top-level `text`: what notifications and screen-reader previews show."""
    text = markdown_to_plain(entry.text)
    if not text and entry.buttons:
        text = ", ".join(escape(button.title) for button in entry.buttons)
    return truncate(text, FALLBACK_LIMIT)


def action_blocks(buttons: tuple[Button, ...], language: str | None = None) -> list[dict]:
    elements = [button_element(index, button, language) for index, button in enumerate(buttons)]
    return [{"type": "actions", "block_id": f"fd_actions_{i // BUTTONS_PER_BLOCK}",
             "elements": elements[i:i + BUTTONS_PER_BLOCK]}
            for i in range(0, len(elements), BUTTONS_PER_BLOCK)]


def button_element(index: int, button: Button, language: str | None = None) -> dict:
    # plain_text is shown as is: no mrkdwn, no links, no mentions to escape.
    title = " ".join(button.title.split()) or \
        text("channels", language, "Option {number}", number=index + 1)
    element = {"type": "button", "action_id": f"{ACTION_PREFIX}{index}",
               "text": {"type": "plain_text", "text": truncate(title, BUTTON_TEXT_LIMIT),
                        "emoji": True}}
    # A payload too long for a value is left out: the press then arrives as
    # the button's text, which the assistant reads like typed text.
    if button.payload and utf16_len(button.payload) <= BUTTON_VALUE_LIMIT:
        element["value"] = button.payload
    return element


def mark_chosen(blocks: list[dict], title: str, language: str | None = None) -> list[dict]:
    """A pressed message's blocks with its buttons replaced by the choice made."""
    chosen = {"type": "context", "elements": [{"type": "mrkdwn", "text": text(
        "channels", language, "You chose: {option}", option=escape(title))}]}
    out: list[dict] = []
    for block in blocks:
        if block.get("type") != "actions":
            out.append(block)
        elif chosen not in out:
            out.append(chosen)
    return out
