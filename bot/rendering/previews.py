"""What an answer will look like on each channel, for the knowledge editor.

Each previewer runs the channel's own outbound renderer (the very function the
adapter sends with) and checks the result against that channel's limits. The
gateway's app factory hands these functions to the knowledge editor API, so
the knowledge package never imports the bot's renderers.

A preview is plain JSON:
    {"channel", "summary": one line,
     "messages": [{"format": "html" | "text", "content", "note"}],
     "checks": [{"level": "ok" | "warn" | "error", "text"}],
     "raw": what goes over the wire, as text (Telegram HTML, Slack payloads)}
Every "html" content is produced here from escaped text and a few tags; the
page still rebuilds it through an allow-list and never injects it as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

from bot.channels.slack.render import BLOCKS_PER_MESSAGE, SECTION_LIMIT
from bot.channels.slack.render import render as slack_render
from bot.channels.sms import render as sms_channel
from bot.channels.sms.render import GSM7_BASIC, GSM7_EXTENSION, sms_info
from bot.channels.telegram import render as telegram_channel
from bot.channels.telegram.render import MAX_MESSAGE_CHARS, utf16_len
from bot.rendering.web import markdown_to_html
from core.models import TranscriptEntry

Preview = dict
WEB_LIMIT = 20_000  # the article model's own limit on an answer
SMS_SEGMENTS_WARN = 3


def _entry(channel: str, text: str) -> TranscriptEntry:
    return TranscriptEntry(channel=channel, author="bot", text=text)  # type: ignore[arg-type]


def _check(level: str, text: str) -> dict:
    return {"level": level, "text": text}


def preview_web(markdown: str) -> Preview:
    rendered = markdown_to_html(markdown)
    chars = len(markdown)
    checks = [_check("ok" if chars <= WEB_LIMIT else "error",
                     f"{chars:,} of {WEB_LIMIT:,} characters")]
    return {"channel": "web", "summary": f"1 message · {chars:,} characters",
            "messages": [{"format": "html", "content": rendered, "note": ""}],
            "checks": checks, "raw": rendered}


# -- Telegram ------------------------------------------------------------------------

# Telegram's HTML tags (Bot API, "HTML style"); our renderer only uses a few.
_TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code",
                  "pre", "span", "tg-spoiler", "blockquote", "tg-emoji"}


class _TelegramMarkupCheck(HTMLParser):
    """Telegram refuses a message whose HTML has an unknown tag, an unclosed or
    stray closing tag, or code/pre/links nested in each other."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in _TELEGRAM_TAGS:
            self.problems.append(f"unsupported tag <{tag}>")
        if tag in ("a", "code", "pre") and {"a", "code"} & set(self.stack) and not (
                tag == "code" and self.stack[-1:] == ["pre"]):
            self.problems.append(f"<{tag}> inside {', '.join(self.stack)}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"stray </{tag}>")
            return
        self.stack.pop()

    def close(self) -> None:
        super().close()
        if self.stack:
            self.problems.append(f"unclosed <{self.stack[-1]}>")


def telegram_markup_problems(text: str) -> list[str]:
    checker = _TelegramMarkupCheck()
    checker.feed(text)
    checker.close()
    return checker.problems


def preview_telegram(markdown: str) -> Preview:
    parts = [p.text for p in telegram_channel.render(_entry("telegram", markdown)).parts]
    lengths = [utf16_len(p) for p in parts]
    checks = []
    over = [i + 1 for i, n in enumerate(lengths) if n > MAX_MESSAGE_CHARS]
    checks.append(_check("error" if over else "ok",
                         f"each message within {MAX_MESSAGE_CHARS:,} characters"
                         + (f" (message {', '.join(map(str, over))} is not)" if over else "")))
    if len(parts) > 1:
        checks.append(_check("warn", f"too long for one message: sent as {len(parts)} messages"))
    problems = [f"message {i + 1}: {p}" for i, part in enumerate(parts)
                for p in telegram_markup_problems(part)]
    checks.append(_check("error", "invalid markup: " + "; ".join(problems)) if problems
                  else _check("ok", "valid Telegram HTML"))
    messages = [{"format": "html", "content": part,
                 "note": f"{n:,} / {MAX_MESSAGE_CHARS:,} characters"}
                for part, n in zip(parts, lengths, strict=True)]
    return {"channel": "telegram",
            "summary": f"{len(parts)} message{'s' * (len(parts) != 1)} · "
                       f"{sum(lengths):,} characters of HTML",
            "messages": messages, "checks": checks, "raw": "\n\n----\n\n".join(parts)}


# -- Slack -------------------------------------------------------------------------

_SLACK_LINK = re.compile(r"<([^<>|\n]+)(?:\|([^<>\n]*))?>")
_SLACK_MARKS = ((re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), "b"),
                (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), "i"),
                (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), "s"))


def mrkdwn_to_html(text: str) -> str:
    """An approximation of how Slack shows mrkdwn, as HTML for the preview: code
    blocks, inline code, links, bold, italic, strike. The text is already
    entity-escaped for & < > (that is mrkdwn's own escaping), so it is HTML-safe
    once the characters we put back are ours."""
    out = []
    for i, chunk in enumerate(text.split("```")):
        if i % 2:  # inside a code block
            out.append(f"<pre>{_attr_safe(chunk.strip(chr(10)))}</pre>")
        else:
            out.append(_mrkdwn_inline(chunk))
    return "".join(out).replace("\n", "<br>")


def _mrkdwn_inline(text: str) -> str:
    out = []
    for piece in re.split(r"(`[^`\n]+`)", text):
        if len(piece) > 1 and piece.startswith("`") and piece.endswith("`"):
            out.append(f"<code>{_attr_safe(piece[1:-1])}</code>")
            continue
        pos = 0
        for match in _SLACK_LINK.finditer(piece):
            out.append(_marks(piece[pos:match.start()]))
            href, label = match.group(1), match.group(2) or match.group(1)
            out.append(f'<a href="{_attr_safe(href)}">{_marks(label)}</a>')
            pos = match.end()
        out.append(_marks(piece[pos:]))
    return "".join(out)


def _marks(text: str) -> str:
    text = _attr_safe(text).replace("<", "&lt;").replace(">", "&gt;")
    for pattern, tag in _SLACK_MARKS:
        text = pattern.sub(rf"<{tag}>\1</{tag}>", text)
    return text


def _attr_safe(text: str) -> str:
    # Quotes are the only HTML-special characters mrkdwn leaves unescaped.
    return text.replace('"', "&quot;")


def preview_slack(markdown: str) -> Preview:
    payloads = slack_render(_entry("slack", markdown))
    checks, messages = [], []
    longest = 0
    for n, payload in enumerate(payloads, 1):
        blocks = payload["blocks"]
        if len(blocks) > BLOCKS_PER_MESSAGE:
            checks.append(_check("error", f"message {n} has {len(blocks)} blocks "
                                          f"(at most {BLOCKS_PER_MESSAGE})"))
        for block in blocks:
            text = block.get("text", {}).get("text", "")
            longest = max(longest, utf16_len(text))
            messages.append({"format": "html", "content": mrkdwn_to_html(text),
                             "note": f"message {n}, section · {utf16_len(text):,} / "
                                     f"{SECTION_LIMIT:,} characters"})
    checks.insert(0, _check("ok" if longest <= SECTION_LIMIT else "error",
                            f"every section within {SECTION_LIMIT:,} characters "
                            f"(longest {longest:,})"))
    blocks_total = sum(len(p["blocks"]) for p in payloads)
    checks.append(_check("ok", f"{blocks_total} block{'s' * (blocks_total != 1)} of at most "
                               f"{BLOCKS_PER_MESSAGE} per message"))
    if len(payloads) > 1:
        checks.append(_check("warn", f"sent as {len(payloads)} messages"))
    return {"channel": "slack",
            "summary": f"{len(payloads)} message{'s' * (len(payloads) != 1)} · "
                       f"{blocks_total} block{'s' * (blocks_total != 1)}",
            "messages": messages, "checks": checks,
            "raw": json.dumps(payloads, indent=2, ensure_ascii=False)}


# -- SMS -----------------------------------------------------------------------------


def preview_sms(markdown: str) -> Preview:
    bodies = sms_channel.render(_entry("sms", markdown))
    infos = [sms_info(body) for body in bodies]
    segments = sum(i.segments for i in infos)
    checks = []
    ucs2 = [i for i in infos if i.encoding == "UCS-2"]
    if ucs2:
        gsm = GSM7_BASIC | GSM7_EXTENSION
        culprits = sorted({ch for body in bodies for ch in body if ch not in gsm})[:12]
        checks.append(_check("warn", "UCS-2 encoding (70 characters a segment instead of 160) "
                                     "because of: " + " ".join(culprits)))
    else:
        checks.append(_check("ok", "GSM-7 encoding (160 characters in one segment)"))
    level = "ok" if segments <= 1 else ("warn" if segments > SMS_SEGMENTS_WARN else "ok")
    checks.append(_check(level, f"{segments} segment{'s' * (segments != 1)} billed"
                         + (" — consider a short SMS variant" if level == "warn" else "")))
    if len(bodies) > 1:
        checks.append(_check("warn", f"longer than one message: sent as {len(bodies)} SMS"))
    messages = [{"format": "text", "content": body,
                 "note": f"{info.encoding} · {info.units} "
                         f"{'septets' if info.encoding == 'GSM-7' else 'UTF-16 units'} · "
                         f"{info.segments} segment{'s' * (info.segments != 1)}"}
                for body, info in zip(bodies, infos, strict=True)]
    encodings = "/".join(sorted({i.encoding for i in infos})) or "GSM-7"
    return {"channel": "sms",
            "summary": f"{len(bodies)} SMS · {segments} segment{'s' * (segments != 1)} · "
                       f"{encodings}",
            "messages": messages, "checks": checks, "raw": "\n\n----\n\n".join(bodies)}


PREVIEWS: dict[str, Callable[[str], Preview]] = {
    "web": preview_web, "telegram": preview_telegram, "slack": preview_slack,
    "sms": preview_sms,
}
