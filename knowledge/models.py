"""Articles and the answer policy's decisions."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.models import ArticleRef

ArticleStatus = Literal["draft", "published", "archived"]
ChannelName = Literal["web", "telegram", "slack", "sms"]


def _clean(questions: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(q.strip() for q in questions if q.strip()))
    if not cleaned:
        raise ValueError("an article needs at least one question variant")
    return cleaned


class ArticleText(BaseModel):
    """One language's version of an article: what a customer in that language sees
    and the questions they ask."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    questions: tuple[str, ...] = Field(min_length=1)
    answer: str = Field(min_length=1, max_length=20_000)  # Markdown
    channels: dict[ChannelName, str] = Field(default_factory=dict)

    @field_validator("questions")
    @classmethod
    def _clean_questions(cls, questions: tuple[str, ...]) -> tuple[str, ...]:
        return _clean(questions)

    def answer_for(self, channel: str) -> str:
        return self.channels.get(channel) or self.answer  # type: ignore[call-overload]


class Article(BaseModel):
    """An article in its main `language` (title, questions, answer, channels) plus
    `translations`: the same article in other languages, keyed by language code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    title: str = Field(min_length=1, max_length=200)
    questions: tuple[str, ...] = Field(min_length=1)
    answer: str = Field(min_length=1, max_length=20_000)  # Markdown
    channels: dict[ChannelName, str] = Field(default_factory=dict)  # per-channel answer variants
    tags: tuple[str, ...] = ()
    language: str = "en"
    translations: dict[str, ArticleText] = Field(default_factory=dict)
    status: ArticleStatus = "published"
    version: int = Field(default=1, ge=1)
    updated_at: float = Field(default_factory=time.time)
    updated_by: str = "seed"

    @field_validator("questions")
    @classmethod
    def _clean_questions(cls, questions: tuple[str, ...]) -> tuple[str, ...]:
        return _clean(questions)

    @model_validator(mode="after")
    def _translations_are_other_languages(self) -> Article:
        # text(self.language) reads the main fields, so such a translation would never show
        if self.language in self.translations:
            raise ValueError(f"a translation into the main language {self.language!r}")
        return self

    @property
    def languages(self) -> tuple[str, ...]:
        """The main language first, then the translations'."""
        return (self.language, *(code for code in self.translations if code != self.language))

    def text(self, language: str) -> ArticleText:
        """The article in `language`, or in its main language when it has no such
        version (compare `.languages` to tell the customer)."""
        if language != self.language and language in self.translations:
            return self.translations[language]
        return ArticleText(title=self.title, questions=self.questions, answer=self.answer,
                           channels=self.channels)

    def all_questions(self) -> tuple[tuple[str, str], ...]:
        """Every question variant with its language: what the index matches against."""
        return tuple((code, q) for code in self.languages for q in self.text(code).questions)

    def answer_for(self, channel: str) -> str:
        """The channel's own variant when the editor wrote one, else the main answer."""
        return self.channels.get(channel) or self.answer  # type: ignore[call-overload]

    def has(self, language: str) -> bool:
        """Whether the article has its own version in `language`."""
        return language in self.languages

    def ref(self, language: str | None = None) -> ArticleRef:
        """Which article and version, and in which language it was shown (its
        title in that language)."""
        shown = language if language and self.has(language) else self.language
        return ArticleRef(id=self.id, version=self.version, title=self.text(shown).title,
                          language=shown)


class Match(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: str
    title: str
    score: float  # cosine similarity of the best-matching question variant
    question: str  # that variant


DecisionKind = Literal["answer", "clarify", "fallback"]


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: DecisionKind
    query: str
    matches: tuple[Match, ...] = ()  # best first
    article: Article | None = None  # set when kind == "answer"
    options: tuple[Match, ...] = ()  # set when kind == "clarify"
