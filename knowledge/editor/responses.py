"""Response models of the knowledge editor's API (knowledge/editor/api.py and
tools_api.py): what each route returns today, declared so /docs shows it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from core.models import ArticleRef
from knowledge.models import ArticleStatus, DecisionKind, Match


class TranslationView(BaseModel):
    """The article in another language: what changes with the language."""

    title: str
    questions: list[str]
    answer: str  # Markdown
    channels: dict[str, str]


class ArticleView(BaseModel):
    """An article with every field, and whether customers get it now."""

    id: str
    title: str
    questions: list[str]
    answer: str  # Markdown
    channels: dict[str, str]  # per-channel answer variants
    tags: list[str]
    language: str  # the main language (of the fields above)
    translations: dict[str, TranslationView]  # language -> the article in it
    status: ArticleStatus
    version: int
    updated_at: float
    updated_by: str
    live: bool  # published


class Conflict(BaseModel):
    """409: someone saved the article meanwhile (or the id is taken)."""

    detail: str
    current: ArticleView | None  # the version in the store now


class SearchSnippet(BaseModel):
    """Where a search matched: a field, its language, the text around the match
    and the [start, end) of each search word in that text."""

    where: str  # title, id, tag, question, answer, "sms variant" ...
    language: str
    text: str
    marks: list[list[int]]


class ArticleSummary(BaseModel):
    id: str
    title: str
    status: ArticleStatus
    tags: list[str]
    language: str
    version: int
    updated_at: float
    updated_by: str
    questions: int  # how many question variants
    channels: list[str]  # channels with their own answer variant
    languages: list[str]  # the main language first, then its translations'
    score: float = 0.0  # relevance to the search (knowledge/editor/relevance.py); 0 unsearched
    why: list[SearchSnippet] = []  # where the search words were found


class ArticleList(BaseModel):
    articles: list[ArticleSummary]
    revision: int  # of the whole knowledge base
    missing: dict[str, int]  # language -> how many articles (of the status asked) lack it


class VersionRow(BaseModel):
    version: int
    updated_at: float
    updated_by: str
    status: ArticleStatus
    title: str
    changed: list[str]  # the fields this version changed ("created" for the first)


class VersionList(BaseModel):
    id: str
    current: int
    versions: list[VersionRow]  # newest first


class DiffLine(BaseModel):
    op: str  # " ", "-", "+" or "@" (a hunk)
    text: str


class FieldDiff(BaseModel):
    field: str
    before: str
    after: str
    lines: list[DiffLine]


class Segment(BaseModel):
    op: Literal["same", "add", "del"]
    text: str


class ChannelChange(BaseModel):
    channel: str
    name: str  # "web chat", "Telegram", "Slack", "SMS"
    diff: list[Segment]


class LanguageChanges(BaseModel):
    """One language's changes, rendered: words inserted and deleted."""

    language: str
    state: Literal["added", "removed", "changed"]
    title: list[Segment] | None  # None: the same
    questions_added: list[str]
    questions_removed: list[str]
    answer: list[Segment] | None
    channels: list[ChannelChange]


class PlainChange(BaseModel):
    field: str  # status, language, tags
    before: str
    after: str


class RenderedDiff(BaseModel):
    languages: list[LanguageChanges]  # the languages that changed
    fields: list[PlainChange]


class ArticleDiff(BaseModel):
    id: str
    from_version: int | None  # None: to_version created the article
    to_version: int
    created: bool
    fields: list[FieldDiff]  # only the fields that changed, as line diffs
    rendered: RenderedDiff  # the same change per language, word by word


class LiveChange(BaseModel):
    """What customers would see change (publish-summary, rollback-summary)."""

    id: str
    title: str
    kind: Literal["none", "added", "changed", "removed"]  # none: customers see no change
    languages: list[str]  # the languages whose text changes for customers
    language_states: dict[str, str]  # language -> added / changed / removed
    channels: list[str]  # where: every channel the article is served on
    warnings: list[str]  # SMS length and encoding warnings of what goes live
    diff: RenderedDiff


class PreviewMessage(BaseModel):
    format: Literal["html", "text"]
    content: str
    note: str


class PreviewCheck(BaseModel):
    level: Literal["ok", "warn", "error"]
    text: str


class Preview(BaseModel):
    """An answer as one channel's renderer sends it, checked against its limits."""

    channel: str
    summary: str
    messages: list[PreviewMessage]
    checks: list[PreviewCheck]
    raw: str  # what goes over the wire, as text


class SourcedPreview(Preview):
    source: str  # "<channel> variant" or "main answer"


class ChannelPreviews(BaseModel):
    """Each channel's preview; None where there is nothing to show."""

    web: SourcedPreview | None
    telegram: SourcedPreview | None
    slack: SourcedPreview | None
    sms: SourcedPreview | None


class ThresholdsView(BaseModel):
    answer: float
    clarify: float
    margin: float


class TriedReply(BaseModel):
    text: str
    buttons: list[str]  # button titles
    preview: Preview  # on the channel asked about


class TryResult(BaseModel):
    question: str
    decision: DecisionKind
    thresholds: ThresholdsView
    matches: list[Match]  # best first
    options: list[str]  # article ids offered when the decision is "clarify"
    article: ArticleRef | None  # the article answered with
    reply: TriedReply
    revision: int


class WarmUp(BaseModel):
    model_loaded: bool


class Wording(BaseModel):
    text: str
    count: int


class Suggestion(Match):
    asked_as: str  # the wording scored: the group's, or it with its typos corrected


class UnansweredGroup(BaseModel):
    key: str  # the leader entry's id
    label: str
    count: int
    queries: list[Wording]  # most asked first
    outcomes: dict[str, int]  # fallback / clarify -> count
    channels: dict[str, int]
    last_seen: float
    entry_ids: list[str]
    suggestion: Suggestion | None  # None: no article scores the clarify threshold


class Unanswered(BaseModel):
    groups: list[UnansweredGroup]  # biggest first
    open: int
    suggest_at: float  # an article is suggested from this score (the clarify threshold)


class VariantsAdded(ArticleView):
    resolved: int  # unanswered entries taken off the list


class Dismissed(BaseModel):
    resolved: int


class ImportResult(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    dry_run: bool

