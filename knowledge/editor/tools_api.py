"""The knowledge editor's REST API, part two: unanswered questions, and import
and export of the whole knowledge base (same rules as knowledge/editor/api.py)."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from core.bodies import read_bounded
from core.staff import StaffUser
from core.webauth import require_staff, staff_auth
from knowledge import ArticleInvalid, ArticleNotFound, VersionConflict
from knowledge.editor.api import CONFLICT, article_json, backend, conflict_response
from knowledge.editor.backend import EditorBackend
from knowledge.editor.editing import ArticleInput, error_text
from knowledge.editor.responses import Dismissed, ImportResult, Unanswered, VariantsAdded
from knowledge.editor.suggest import Vocabulary, suggest
from knowledge.editor.transfer import (
    MAX_IMPORT_BYTES,
    ImportInvalid,
    UploadMalformed,
    export_csv,
    export_zip,
    import_articles,
    parse_upload,
)

router = APIRouter(prefix="/api/kb", tags=["knowledge editor"])
editor = require_staff("editor")
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file
IMPORT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}}}}
EXPORT_FILES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A zip of Markdown articles, or one CSV",
          "content": {"application/zip": {}, "text/csv": {}}}}


class AddVariants(BaseModel):
    article_id: str = Field(max_length=80)
    expected_version: int = Field(ge=1)
    queries: list[str] = Field(min_length=1, max_length=500)
    entry_ids: list[str] = Field(default_factory=list, max_length=5000)
    # the language the queries are in (the editor picks it); default: the article's main one
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


class Dismiss(BaseModel):
    entry_ids: list[str] = Field(min_length=1, max_length=5000)


@router.get("/unanswered", response_model=Unanswered)
async def unanswered(be: EditorBackend = Depends(backend),
                     user: StaffUser = Depends(editor)) -> dict:
    """Open unanswered queries grouped by meaning, biggest group first, each with
    the article the assistant would at least offer for it (knowledge/editor/
    suggest.py), or none when no article scores the clarify threshold."""
    service = await be.service()
    assert be.embedder is not None  # loaded with the service
    groups = await be.unanswered.groups(be.embedder)
    await service.learned()  # suggest with the head and thresholds the assistant answers with
    vocabulary = Vocabulary(await be.store.all())
    rows = []
    for group in groups:
        row = group.as_dict()
        found = await suggest(service, vocabulary, group.leader.query)
        row["suggestion"] = ({**found.match.model_dump(), "asked_as": found.asked_as}
                             if found else None)
        rows.append(row)
    return {"groups": rows, "open": sum(g["count"] for g in rows),
            "suggest_at": service.thresholds.clarify}


@router.post("/unanswered/add-variants", response_model=VariantsAdded, responses=CONFLICT)
async def add_variants(body: AddVariants, request: Request,
                       be: EditorBackend = Depends(backend), user: StaffUser = Depends(editor)):
    """Add a group's queries as question variants of an existing article, to its
    version in the queries' `language` (a new version, published as the article
    is), and take the group off the list."""
    try:
        current = await be.store.get(body.article_id)
    except ArticleNotFound:
        raise HTTPException(404, f"no article {body.article_id!r}") from None
    if current.version != body.expected_version:
        return await conflict_response(be, body.article_id, body.expected_version)
    language = body.language or current.language
    if not current.has(language):
        raise HTTPException(422, f"{current.title!r} has no {language} version yet: write it "
                                 "first, or add these questions to another language")
    data = ArticleInput.of(current).model_dump()
    text = data if language == current.language else data["translations"][language]
    text["questions"] = [*text["questions"], *body.queries]
    try:
        updated = ArticleInput.model_validate(data).to_article(current.id)
    except ValidationError as exc:
        raise HTTPException(422, error_text(exc)) from None
    except ArticleInvalid as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        saved = await be.store.save(updated, expected_version=body.expected_version,
                                    author=user.username)
    except VersionConflict:
        return await conflict_response(be, body.article_id, body.expected_version)
    resolved = await be.unanswered.resolve(body.entry_ids, f"variant:{saved.id}")
    await staff_auth(request).audit(user.username, "kb.add-variants", article=saved.id,
                                        version=str(saved.version), queries=str(resolved))
    return {**article_json(saved), "resolved": resolved}


@router.post("/unanswered/dismiss", response_model=Dismissed)
async def dismiss(body: Dismiss, request: Request, be: EditorBackend = Depends(backend),
                  user: StaffUser = Depends(editor)) -> dict:
    """Not a knowledge question (spam, chit-chat, a one-off): off the list."""
    resolved = await be.unanswered.resolve(body.entry_ids, "dismissed")
    await staff_auth(request).audit(user.username, "kb.dismiss-unanswered",
                                        entries=str(resolved))
    return {"resolved": resolved}


@router.get("/export", response_class=Response, responses=EXPORT_FILES)
async def export(format: Literal["md", "csv"] = "md", be: EditorBackend = Depends(backend),
                 user: StaffUser = Depends(editor)) -> Response:
    """Every article: a zip of the articles folder (`articles/<id>.md`) or one CSV."""
    articles = await be.store.all()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if format == "csv":
        try:
            body = export_csv(articles).encode("utf-8-sig")  # the BOM makes Excel read UTF-8
        except ArticleInvalid as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="knowledge-{stamp}.csv"'})
    return Response(export_zip(articles), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="knowledge-{stamp}.zip"'})


@router.post("/import", response_model=ImportResult, openapi_extra=IMPORT_BODY)
async def import_upload(request: Request, dry_run: bool = False,
                        be: EditorBackend = Depends(backend),
                        user: StaffUser = Depends(editor)):
    """A .zip of .md articles, one .md article or a .csv. Everything is checked
    before anything is saved; then all changes are saved together.

    The multipart body is read here, after the staff check (a `File(...)`
    parameter would be parsed before any dependency runs), and bounded while
    it is read."""
    await read_bounded(request, MAX_IMPORT_BYTES + MULTIPART_OVERHEAD, require_length=False)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except (MultiPartException, ValueError) as exc:
        raise HTTPException(400, f"not a multipart upload: {exc}") from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise HTTPException(422, "send the file as the multipart field 'file'")
    data = await file.read(MAX_IMPORT_BYTES + 1)
    try:
        articles = parse_upload(file.filename or "", data)
        report = await import_articles(be.store, articles, author=user.username,
                                       dry_run=dry_run)
    except UploadMalformed as exc:  # the file itself: not a zip, encrypted, a bomb, not UTF-8
        return JSONResponse(status_code=400, content={
            "detail": f"Nothing was imported: {file.filename} cannot be read: "
                      f"{'; '.join(exc.problems)}",
            "problems": exc.problems})
    except ImportInvalid as exc:
        return JSONResponse(status_code=422, content={
            "detail": f"Nothing was imported: {len(exc.problems)} problem"
                      f"{'s' * (len(exc.problems) != 1)} in {file.filename}.",
            "problems": exc.problems})
    except VersionConflict as exc:
        return JSONResponse(status_code=409, content={
            "detail": f"Nothing was imported: articles changed meanwhile ({exc}). Try again."})
    if not dry_run:
        await staff_auth(request).audit(
            user.username, "kb.import", file=(file.filename or "")[:200],
            created=str(len(report.created)), updated=str(len(report.updated)))
    return {**report.as_dict(), "dry_run": dry_run}
