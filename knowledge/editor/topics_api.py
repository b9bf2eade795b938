"""The editors' "Suggested topics": the articles the web chat greeting offers a
new customer (knowledge/topics.py). GET says what is shown now and why; PUT sets
the editors' choice ([] goes back to the most asked). The `editor` role, and the
anti-forgery header on PUT, as every editor write (core/webauth.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from core.staff import StaffUser
from core.webauth import require_staff, staff_auth
from knowledge import ArticleInvalid
from knowledge.editor.api import backend
from knowledge.editor.backend import EditorBackend
from knowledge.topics import MAX_TOPICS, SuggestedTopics

router = APIRouter(prefix="/api/kb/topics", tags=["knowledge editor"])
editor = require_staff("editor")


class Topic(BaseModel):
    id: str
    title: str


class TopicsView(BaseModel):
    source: str  # "editors" or "most asked"
    topics: list[Topic]  # what a new customer sees now, in order
    chosen: list[str]  # the editors' choice ([]: the most asked are shown)
    most_asked: list[str]  # what the automatic choice would show
    max_topics: int = MAX_TOPICS


class ChooseTopics(BaseModel):
    article_ids: list[str] = Field(max_length=MAX_TOPICS)


def _topics(be: EditorBackend) -> SuggestedTopics:
    return SuggestedTopics(be.redis, be.store)


async def _view(topics: SuggestedTopics) -> TopicsView:
    articles, source = await topics.current()
    return TopicsView(source=source, topics=[Topic(id=a.id, title=a.title) for a in articles],
                      chosen=await topics.chosen(), most_asked=await topics.most_asked())


@router.get("", response_model=TopicsView)
async def get_topics(be: EditorBackend = Depends(backend),
                     user: StaffUser = Depends(editor)) -> TopicsView:
    return await _view(_topics(be))


@router.put("", response_model=TopicsView)
async def set_topics(body: ChooseTopics, request: Request, be: EditorBackend = Depends(backend),
                     user: StaffUser = Depends(editor)) -> TopicsView:
    topics = _topics(be)
    try:
        chosen = await topics.choose(body.article_ids)
    except ArticleInvalid as exc:
        raise HTTPException(422, str(exc)) from exc
    await staff_auth(request).audit(user.username, "kb.topics", articles=",".join(chosen))
    return await _view(topics)
