"""What an editor may send for an article, and how two versions differ.

Pure: no Redis, no web framework. The editor API, the import and the page's
history view all go through here, so an article is cleaned the same way
whichever door it comes in by.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.i18n import LANGUAGES
from knowledge import ArticleInvalid
from knowledge.editor import relevance
from knowledge.editor.relevance import Hit
from knowledge.models import Article, ArticleStatus, ArticleText, ChannelName

CHANNELS: tuple[ChannelName, ...] = ("web", "telegram", "slack", "sms")
MAX_QUESTIONS = 200
MAX_QUESTION_CHARS = 500
MAX_TAGS = 30
MAX_TAG_CHARS = 40
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
LANGUAGE_RE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
# Content fields in the order the history shows them; "channels.sms" etc. are
# expanded from CHANNELS. A translation's fields follow, prefixed with its
# language: "de.title", "de.questions", "de.answer", "de.channels.sms".
TEXT_FIELDS = ("title", "questions", "answer", *(f"channels.{c}" for c in CHANNELS))
CONTENT_FIELDS = (*TEXT_FIELDS, "tags", "language", "status")


def _text(value: str) -> str:
    """Line endings as the store keeps them (a browser or a Windows CSV may send
    CRLF), outer blank space dropped (the Markdown file format drops it too)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


class TextInput(BaseModel):
    """What changes with the language: title, question variants, answer and
    per-channel answer variants."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    questions: list[str] = Field(min_length=1, max_length=MAX_QUESTIONS)
    answer: str = Field(min_length=1, max_length=20_000)
    channels: dict[ChannelName, str] = Field(default_factory=dict)

    @field_validator("title")
    @classmethod
    def _one_line_title(cls, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise ValueError("the title is empty")
        return title

    @field_validator("questions")
    @classmethod
    def _clean_questions(cls, questions: list[str]) -> list[str]:
        # A question variant is one line (the CSV format keeps one per line).
        cleaned = list(dict.fromkeys(" ".join(q.split()) for q in questions))
        cleaned = [q for q in cleaned if q]
        if not cleaned:
            raise ValueError("an article needs at least one question variant")
        too_long = [q for q in cleaned if len(q) > MAX_QUESTION_CHARS]
        if too_long:
            raise ValueError(f"a question variant may have at most {MAX_QUESTION_CHARS} "
                             f"characters: {too_long[0][:60]!r}…")
        return cleaned

    @field_validator("answer")
    @classmethod
    def _clean_answer(cls, answer: str) -> str:
        answer = _text(answer)
        if not answer:
            raise ValueError("the answer is empty")
        return answer

    @field_validator("channels")
    @classmethod
    def _clean_channels(cls, channels: dict[str, str]) -> dict[str, str]:
        # An empty variant means "use the main answer on this channel".
        cleaned = {c: _text(text) for c, text in channels.items() if _text(text)}
        too_long = [c for c, text in cleaned.items() if len(text) > 20_000]
        if too_long:
            raise ValueError(f"the {too_long[0]} variant is longer than 20,000 characters")
        return {c: cleaned[c] for c in CHANNELS if c in cleaned}

    def to_text(self) -> ArticleText:
        return ArticleText(title=self.title, questions=tuple(self.questions),
                           answer=self.answer, channels=dict(self.channels))

    @classmethod
    def of_text(cls, text: ArticleText) -> TextInput:
        return cls(title=text.title, questions=list(text.questions), answer=text.answer,
                   channels=dict(text.channels))


class ArticleInput(TextInput):
    """The editable fields of an article, as the editor page and the API send them:
    the main language's text, and `translations` ({"de": {title, questions,
    answer, channels}}) into the other languages we answer in."""

    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    language: str = Field(default="en", pattern=LANGUAGE_RE)
    status: ArticleStatus = "draft"
    translations: dict[str, TextInput] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _translations_are_other_languages(self) -> ArticleInput:
        for code in self.translations:
            if code not in LANGUAGES:
                raise ValueError(f"translations: {code!r} is not a language we answer in "
                                 f"({', '.join(LANGUAGES)})")
            if code == self.language:
                raise ValueError(f"translations: {code!r} is the article's main language")
        return self

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(" ".join(t.split()) for t in tags))
        cleaned = [t for t in cleaned if t]
        for tag in cleaned:
            # Commas separate tags in the CSV format.
            if "," in tag or len(tag) > MAX_TAG_CHARS:
                raise ValueError(f"a tag has no commas and at most {MAX_TAG_CHARS} "
                                 f"characters: {tag[:60]!r}")
        return cleaned

    def to_article(self, article_id: str) -> Article:
        if not ID_RE.match(article_id):
            raise ArticleInvalid("an article id is 1-80 lower-case letters, digits and '-', "
                                 f"starting with a letter or digit; got {article_id!r}")
        try:
            return Article(id=article_id, title=self.title, questions=tuple(self.questions),
                           answer=self.answer, channels=dict(self.channels),
                           tags=tuple(self.tags), language=self.language, status=self.status,
                           translations={code: t.to_text()
                                         for code, t in sorted(self.translations.items())})
        except ValidationError as exc:
            raise ArticleInvalid(error_text(exc)) from exc

    @classmethod
    def of(cls, article: Article) -> ArticleInput:
        return cls(title=article.title, questions=list(article.questions),
                   answer=article.answer, channels=dict(article.channels),
                   tags=list(article.tags), language=article.language, status=article.status,
                   translations={code: TextInput.of_text(t)
                                 for code, t in article.translations.items()})


def clean_article(article: Article) -> Article:
    """An article (e.g. from an imported file) passed through the editor's rules."""
    try:
        data = ArticleInput.of(article)
    except ValidationError as exc:
        raise ArticleInvalid(f"{article.id}: {error_text(exc)}") from exc
    return data.to_article(article.id)


def error_text(exc: ValidationError) -> str:
    """A pydantic error as one readable line per problem."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def _text_fields(text: ArticleText, prefix: str = "") -> dict[str, str]:
    fields = {f"{prefix}title": text.title, f"{prefix}questions": "\n".join(text.questions),
              f"{prefix}answer": text.answer}
    for channel in CHANNELS:
        fields[f"{prefix}channels.{channel}"] = text.channels.get(channel, "")
    return fields


def content_of(article: Article) -> dict[str, str]:
    """The content fields of an article as text: CONTENT_FIELDS, then each
    translation's TEXT_FIELDS prefixed with its language ("de.answer"). Lists are
    one item per line; an absent channel variant is empty."""
    fields = {
        **_text_fields(article.text(article.language)),
        "tags": "\n".join(article.tags),
        "language": article.language,
        "status": article.status,
    }
    content = {name: fields[name] for name in CONTENT_FIELDS}
    for code in sorted(article.translations):
        content.update(_text_fields(article.translations[code], f"{code}."))
    return content


def same_content(a: Article, b: Article) -> bool:
    return content_of(a) == content_of(b)


@dataclass(frozen=True)
class FieldDiff:
    field: str
    before: str
    after: str
    lines: tuple[tuple[str, str], ...]  # (op, text): op is " ", "-", "+" or "@" (a hunk)

    def as_dict(self) -> dict:
        return {"field": self.field, "before": self.before, "after": self.after,
                "lines": [{"op": op, "text": text} for op, text in self.lines]}


def diff_articles(old: Article, new: Article, context: int = 2) -> list[FieldDiff]:
    """Field by field: only the fields that changed, each as a unified line diff."""
    before, after = content_of(old), content_of(new)
    diffs = []
    # a translation added or taken away: its fields from or to empty
    languages = sorted({*old.translations, *new.translations})
    for name in (*CONTENT_FIELDS, *(f"{code}.{f}" for code in languages for f in TEXT_FIELDS)):
        was, now = before.get(name, ""), after.get(name, "")
        if was == now:
            continue
        raw = difflib.unified_diff(was.split("\n") if was else [],
                                   now.split("\n") if now else [],
                                   lineterm="", n=context)
        lines = []
        for line in list(raw)[2:]:  # past the "--- / +++" file header
            lines.append(("@", line) if line.startswith("@@") else (line[:1], line[1:]))
        diffs.append(FieldDiff(name, was, now, tuple(lines)))
    return diffs


def changed_fields(old: Article | None, new: Article) -> list[str]:
    if old is None:
        return ["created"]
    return [d.field for d in diff_articles(old, new, context=0)]


def slugify(title: str) -> str:
    """A suggested article id from a title ("Gift cards & vouchers" -> gift-cards-vouchers)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80].strip("-")
    return slug or "article"


def search(articles: list[Article], query: str = "", status: str = "",
           missing: str = "") -> list[Article]:
    """Articles whose text (in any of their languages) holds every word of
    `query` (any case), most relevant first (knowledge/editor/relevance.py).
    `missing="de"`: only those without a German version."""
    return [hit.article for hit in search_hits(articles, query, status, missing)]


def search_hits(articles: list[Article], query: str = "", status: str = "",
                missing: str = "") -> list[Hit]:
    """As `search`, with each article's score and why it matched."""
    kept = [a for a in articles
            if (not status or a.status == status) and not (missing and a.has(missing))]
    return relevance.search(kept, query)
