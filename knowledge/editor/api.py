"""The knowledge editor's REST API under /api/kb: articles, versions, preview
and "try a question". Unanswered questions and import/export are in
knowledge/editor/tools_api.py.

Every route needs the `editor` role (admins have it too); unsafe methods also
need the anti-forgery header (core/webauth.py). Errors map to HTTP here only:
ArticleInvalid -> 422, ArticleNotFound -> 404, VersionConflict -> 409 with the
version that is in the store now, so the page can say who saved it and when.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.i18n import LANGUAGES, supported
from core.staff import StaffUser
from core.webauth import require_staff, staff_auth
from knowledge import ArticleInvalid, ArticleNotFound, VersionConflict
from knowledge.answers.replies import decision_reply
from knowledge.editor.backend import EditorBackend
from knowledge.editor.changes import article_changes, live_change
from knowledge.editor.editing import (
    CHANNELS,
    ArticleInput,
    changed_fields,
    diff_articles,
    same_content,
    search_hits,
)
from knowledge.editor.responses import (
    ArticleDiff,
    ArticleList,
    ArticleView,
    ChannelPreviews,
    Conflict,
    LiveChange,
    TryResult,
    VersionList,
    WarmUp,
)
from knowledge.models import Article

router = APIRouter(prefix="/api/kb", tags=["knowledge editor"])
editor = require_staff("editor")
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Conflict}}


class EditorServices(Protocol):
    """What the editor's routes need of the app's services (the gateway's satisfy it)."""

    kb_editor: EditorBackend


def backend(request: Request) -> EditorBackend:
    services: EditorServices = request.app.state.services
    return services.kb_editor


class NewArticle(ArticleInput):
    id: str = Field(max_length=80)
    resolves: list[str] = Field(default_factory=list, max_length=5000)  # unanswered entry ids


class ArticleUpdate(ArticleInput):
    expected_version: int = Field(ge=1)  # the version the editor started from
    resolves: list[str] = Field(default_factory=list, max_length=5000)


class Rollback(BaseModel):
    version: int = Field(ge=1)  # the version to bring back
    expected_version: int = Field(ge=1)


class PreviewRequest(BaseModel):
    answer: str = Field(max_length=20_000)
    channels: dict[str, str] = Field(default_factory=dict, max_length=4)


class TryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    channel: str = Field(default="web", pattern=r"^(web|telegram|slack|sms)$")
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")  # the customer's


def article_json(article: Article) -> dict:
    return {**article.model_dump(mode="json"), "live": article.status == "published"}


def summary_json(article: Article) -> dict:
    return {"id": article.id, "title": article.title, "status": article.status,
            "tags": list(article.tags), "language": article.language,
            "version": article.version, "updated_at": article.updated_at,
            "updated_by": article.updated_by, "questions": len(article.questions),
            "channels": sorted(article.channels), "languages": list(article.languages)}


def invalid(exc: ArticleInvalid) -> HTTPException:
    return HTTPException(422, str(exc))


async def conflict_response(be: EditorBackend, article_id: str, your_version: int | None
                            ) -> JSONResponse:
    """409 with the version in the store now, and a sentence a person can act on."""
    try:
        current = await be.store.get(article_id)
    except ArticleNotFound:
        current = None
    if current is None:
        message = f"The article {article_id!r} no longer exists."
    elif your_version is None:
        message = (f"An article with the id {article_id!r} already exists "
                   f"(\"{current.title}\"): choose another id.")
    else:
        message = (f"Someone else saved this article while you were editing: version "
                   f"{current.version} by {current.updated_by}. You edited version "
                   f"{your_version}. Your changes were not saved; load their version, "
                   "then make your changes again.")
    return JSONResponse(status_code=409, content={
        "detail": message, "current": article_json(current) if current else None})


async def _save(be: EditorBackend, request: Request, user: StaffUser, article: Article,
                expected: int | None, resolves: list[str], action: str):
    try:
        saved = await be.store.save(article, expected_version=expected, author=user.username)
    except VersionConflict:
        return await conflict_response(be, article.id, expected)
    if resolves:
        await be.unanswered.resolve(resolves, f"{'new' if expected is None else 'variant'}:"
                                              f"{saved.id}")
    await staff_auth(request).audit(user.username, action, article=saved.id,
                                        version=str(saved.version), status=saved.status)
    return saved


@router.get("/articles", response_model=ArticleList)
async def list_articles(q: str = "", status: str = "", missing: str = "",
                        be: EditorBackend = Depends(backend),
                        user: StaffUser = Depends(editor)) -> dict:
    """`missing=de`: only the articles without a German version. `missing` counts,
    for each language we answer in, the articles (of this status) without it."""
    articles = await be.store.all()
    found = search_hits(articles, q[:200], status, missing[:8])
    of_status = [a for a in articles if not status or a.status == status]
    # most relevant first, each with its score and the snippets that matched
    return {"articles": [{**summary_json(h.article), "score": round(h.score, 2),
                          "why": [s.as_dict() for s in h.why]} for h in found],
            "revision": await be.store.revision(),
            "missing": {code: sum(not a.has(code) for a in of_status) for code in LANGUAGES}}


@router.get("/articles/{article_id}", response_model=ArticleView)
async def get_article(article_id: str, be: EditorBackend = Depends(backend),
                      user: StaffUser = Depends(editor)) -> dict:
    try:
        return article_json(await be.store.get(article_id))
    except ArticleNotFound:
        raise HTTPException(404, f"no article {article_id!r}") from None


@router.post("/articles", status_code=201, response_model=ArticleView,
             responses=CONFLICT)
async def create_article(body: NewArticle, request: Request,
                         be: EditorBackend = Depends(backend),
                         user: StaffUser = Depends(editor)):
    try:
        article = ArticleInput.model_validate(
            body.model_dump(exclude={"id", "resolves"})).to_article(body.id)
    except ArticleInvalid as exc:
        raise invalid(exc) from None
    saved = await _save(be, request, user, article, None, body.resolves, "kb.create")
    if isinstance(saved, JSONResponse):
        return saved
    return JSONResponse(status_code=201, content=article_json(saved))


@router.put("/articles/{article_id}", response_model=ArticleView, responses=CONFLICT)
async def update_article(article_id: str, body: ArticleUpdate, request: Request,
                         be: EditorBackend = Depends(backend),
                         user: StaffUser = Depends(editor)):
    try:
        article = ArticleInput.model_validate(
            body.model_dump(exclude={"expected_version", "resolves"})).to_article(article_id)
    except ArticleInvalid as exc:
        raise invalid(exc) from None
    saved = await _save(be, request, user, article, body.expected_version, body.resolves,
                        "kb.save")
    return saved if isinstance(saved, JSONResponse) else article_json(saved)


@router.get("/articles/{article_id}/versions", response_model=VersionList)
async def list_versions(article_id: str, be: EditorBackend = Depends(backend),
                        user: StaffUser = Depends(editor)) -> dict:
    """Newest first, with who saved each version, when, and which fields changed."""
    try:
        versions = await be.store.versions(article_id)
    except ArticleNotFound:
        raise HTTPException(404, f"no article {article_id!r}") from None
    rows = []
    for i, version in enumerate(versions):
        rows.append({"version": version.version, "updated_at": version.updated_at,
                     "updated_by": version.updated_by, "status": version.status,
                     "title": version.title,
                     "changed": changed_fields(versions[i - 1] if i else None, version)})
    return {"id": article_id, "current": versions[-1].version, "versions": rows[::-1]}


@router.get("/articles/{article_id}/versions/{version}", response_model=ArticleView)
async def get_version(article_id: str, version: int, be: EditorBackend = Depends(backend),
                      user: StaffUser = Depends(editor)) -> dict:
    try:
        return article_json(await be.store.version(article_id, version))
    except ArticleNotFound:
        raise HTTPException(404, f"no version {version} of {article_id!r}") from None


@router.get("/articles/{article_id}/diff", response_model=ArticleDiff)
async def diff(article_id: str, to_version: int | None = None,
               from_version: int | None = None, be: EditorBackend = Depends(backend),
               user: StaffUser = Depends(editor)) -> dict:
    """Field by field, `from_version` (default: the one before) -> `to_version`
    (default: the current one)."""
    try:
        new = (await be.store.version(article_id, to_version) if to_version
               else await be.store.get(article_id))
        old_number = from_version or new.version - 1
        old = await be.store.version(article_id, old_number) if old_number >= 1 else None
    except ArticleNotFound as exc:
        raise HTTPException(404, f"no such version: {exc}") from None
    if old is None:
        return {"id": article_id, "from_version": None, "to_version": new.version,
                "created": True, "fields": [], "rendered": article_changes(None, new)}
    return {"id": article_id, "from_version": old.version, "to_version": new.version,
            "created": False, "fields": [d.as_dict() for d in diff_articles(old, new)],
            "rendered": article_changes(old, new)}


class Draft(ArticleInput):
    id: str = Field(max_length=80)


@router.post("/publish-summary", response_model=LiveChange)
async def publish_summary(body: Draft, be: EditorBackend = Depends(backend),
                          user: StaffUser = Depends(editor)) -> dict:
    """What saving this draft would change for customers, before it is saved:
    the article added to, changed on or taken off every channel, in which
    languages, with the SMS warnings. The page asks the editor to confirm it."""
    try:
        draft = ArticleInput.model_validate(body.model_dump(exclude={"id"})).to_article(body.id)
    except ArticleInvalid as exc:
        raise invalid(exc) from None
    try:
        current: Article | None = await be.store.get(body.id)
    except ArticleNotFound:
        current = None
    return live_change(current, draft, be.previews["sms"])


@router.get("/articles/{article_id}/rollback-summary", response_model=LiveChange)
async def rollback_summary(article_id: str, version: int, be: EditorBackend = Depends(backend),
                           user: StaffUser = Depends(editor)) -> dict:
    """What rolling back to `version` would change for customers (as publish-summary)."""
    try:
        target = await be.store.version(article_id, version)
        current = await be.store.get(article_id)
    except ArticleNotFound:
        raise HTTPException(404, f"no version {version} of {article_id!r}") from None
    return live_change(current, target, be.previews["sms"])


@router.post("/articles/{article_id}/rollback", response_model=ArticleView,
             responses=CONFLICT)
async def rollback(article_id: str, body: Rollback, request: Request,
                   be: EditorBackend = Depends(backend), user: StaffUser = Depends(editor)):
    """Bring back the content of an earlier version, as a new version (history
    is never rewritten)."""
    try:
        target = await be.store.version(article_id, body.version)
        current = await be.store.get(article_id)
    except ArticleNotFound:
        raise HTTPException(404, f"no version {body.version} of {article_id!r}") from None
    if current.version != body.expected_version:
        return await conflict_response(be, article_id, body.expected_version)
    if same_content(target, current):
        raise HTTPException(422, f"version {body.version} says exactly what the article "
                                 "says now: nothing to roll back")
    saved = await _save(be, request, user, target, body.expected_version, [], "kb.rollback")
    return saved if isinstance(saved, JSONResponse) else article_json(saved)


@router.post("/preview", response_model=ChannelPreviews)
async def preview(body: PreviewRequest, be: EditorBackend = Depends(backend),
                  user: StaffUser = Depends(editor)) -> dict:
    """The answer as every channel will show it: a channel's own variant when
    there is one, else the main answer, through that channel's renderer."""
    result: dict[str, dict | None] = {}
    for channel in CHANNELS:
        variant = (body.channels.get(channel) or "").strip()
        text = variant or body.answer.strip()
        if not text:
            result[channel] = None
            continue
        shown = be.previews[channel](text)
        result[channel] = {**shown, "source": f"{channel} variant" if variant else "main answer"}
    return result


@router.post("/try", response_model=TryResult)
async def try_question(body: TryRequest, be: EditorBackend = Depends(backend),
                       user: StaffUser = Depends(editor)) -> dict:
    """What the assistant would do with a customer's question right now: top
    matches with scores and the policy's decision. Not recorded as unanswered."""
    service = await be.service()
    decision = await service.decide(body.question, body.channel, record=False)
    options = {m.article_id: await be.store.get(m.article_id) for m in decision.options}
    reply = decision_reply(decision, body.channel, body.language, options)
    t = service.thresholds
    return {
        "question": body.question,
        "decision": decision.kind,
        "thresholds": {"answer": t.answer, "clarify": t.clarify, "margin": t.margin},
        "matches": [m.model_dump() for m in decision.matches],
        "options": [m.article_id for m in decision.options],
        "article": (decision.article.ref(supported(body.language)).model_dump()
                    if decision.article else None),
        # ...and how that reply looks on the channel asked about.
        "reply": {"text": reply.text, "buttons": [b["title"] for b in reply.buttons],
                  "preview": be.previews[body.channel](reply.text)},
        "revision": await be.store.revision(),
    }


@router.post("/warm-up", status_code=202, response_model=WarmUp)
async def warm_up(be: EditorBackend = Depends(backend),
                  user: StaffUser = Depends(editor)) -> dict:
    """Start loading the language model so the first "try a question" is quick."""
    be.warm_up()
    return {"model_loaded": be.model_loaded}
