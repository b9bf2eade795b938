"""What an editor's change means for customers: the rendered diff of two
versions of an article, and the change set a publish or a rollback puts live.

Pure: no Redis, no web framework. The diff is per language and per part of
the article — title, question variants added and removed, answer and channel
variants with the inserted and deleted words marked — so the page shows it as
text with marks, never as a unified diff. Text stays text: the page sets every
segment with textContent inside <ins>/<del>, so Markdown is shown as written
(a `**` stays visible) and customer or editor text is never parsed as markup.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from knowledge.models import Article, ArticleText, ChannelName

CHANNEL_NAMES: dict[ChannelName, str] = {
    "web": "web chat", "telegram": "Telegram", "slack": "Slack", "sms": "SMS"}
# words, runs of blank space, single other characters: a word-level diff that
# keeps the text's own spacing and line breaks
TOKEN = re.compile(r"\w+|\s+|[^\w\s]")

Segment = dict[str, str]  # {"op": "same" | "add" | "del", "text": ...}
Previewer = Callable[[str], dict]


def word_diff(before: str, after: str) -> list[Segment]:
    """`before` -> `after` as segments of unchanged, deleted and inserted text."""
    a, b = TOKEN.findall(before), TOKEN.findall(after)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    segments: list[Segment] = []

    def push(op: str, text: str) -> None:
        if not text:
            return
        if segments and segments[-1]["op"] == op:
            segments[-1]["text"] += text
        else:
            segments.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("same", "".join(a[i1:i2]))
        else:
            push("del", "".join(a[i1:i2]))
            push("add", "".join(b[j1:j2]))
    return segments


def _text_changes(old: ArticleText | None, new: ArticleText | None) -> dict | None:
    """One language's changes, or None when it says the same."""
    if old == new:
        return None
    nothing = ArticleText.model_construct(title="", questions=(), answer="", channels={})
    was, now = old or nothing, new or nothing
    channels = []
    for channel, name in CHANNEL_NAMES.items():
        before, after = was.channels.get(channel, ""), now.channels.get(channel, "")
        if before != after:
            channels.append({"channel": channel, "name": name,
                             "diff": word_diff(before, after)})
    changes = {
        "state": "added" if old is None else ("removed" if new is None else "changed"),
        "title": word_diff(was.title, now.title) if was.title != now.title else None,
        "questions_added": [q for q in now.questions if q not in was.questions],
        "questions_removed": [q for q in was.questions if q not in now.questions],
        "answer": word_diff(was.answer, now.answer) if was.answer != now.answer else None,
        "channels": channels,
    }
    if (changes["title"] is None and changes["answer"] is None and not channels
            and not changes["questions_added"] and not changes["questions_removed"]):
        return None  # only the order of the question variants moved
    return changes


def _of(article: Article | None, code: str) -> ArticleText | None:
    return article.text(code) if article is not None and article.has(code) else None


def article_changes(old: Article | None, new: Article | None) -> dict:
    """The rendered diff of `old` -> `new` (either may be None: created, removed):
    each language that changed, and the article's own fields (tags, status, main
    language) before and after."""
    codes = list(dict.fromkeys([*(new.languages if new else ()), *(old.languages if old else ())]))
    languages = []
    for code in codes:
        changes = _text_changes(_of(old, code), _of(new, code))
        if changes is not None:
            languages.append({"language": code, **changes})
    fields = []
    for name in ("status", "language", "tags"):
        before = _field(old, name)
        after = _field(new, name)
        if before != after:
            fields.append({"field": name, "before": before, "after": after})
    return {"languages": languages, "fields": fields}


def _field(article: Article | None, name: str) -> str:
    if article is None:
        return ""
    value = getattr(article, name)
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def live(article: Article | None) -> Article | None:
    return article if article is not None and article.status == "published" else None


def live_change(before: Article | None, after: Article | None,
                sms_preview: Previewer | None = None) -> dict:
    """What customers will see change when `after` replaces `before` (each the
    whole article as stored, or None): the article added to, changed on or
    removed from every channel, in which languages; with the SMS length
    warnings of what goes live. `kind` "none": customers see no change."""
    was, now = live(before), live(after)
    article = now or was or after or before
    if was is None and now is None:
        kind = "none"
    elif was is None:
        kind = "added"
    elif now is None:
        kind = "removed"
    else:
        kind = "changed"
    diff = article_changes(was, now)
    customer_fields = [f for f in diff["fields"] if f["field"] != "status"]
    if kind == "changed" and not diff["languages"] and not customer_fields:
        kind = "none"  # e.g. a rollback to the same words
    languages = [c["language"] for c in diff["languages"]] if kind != "none" else []
    return {
        "id": article.id if article else "",
        "title": article.title if article else "",
        "kind": kind,
        "languages": languages,
        "language_states": {c["language"]: c["state"] for c in diff["languages"]},
        "channels": list(CHANNEL_NAMES.values()) if kind != "none" else [],
        "warnings": sms_warnings(now, sms_preview) if now is not None and sms_preview else [],
        "diff": diff,
    }


def sms_warnings(article: Article, sms_preview: Previewer) -> list[str]:
    """The SMS checks that warn or fail for each language of a live article."""
    warnings = []
    for code in article.languages:
        text = article.text(code)
        shown = sms_preview(text.channels.get("sms") or text.answer)
        for check in shown.get("checks", []):
            if check.get("level") in ("warn", "error"):
                warnings.append(f"SMS ({code}): {check['text']}")
    return warnings
