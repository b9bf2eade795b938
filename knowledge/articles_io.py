"""Read and write articles in the folder format: YAML front matter + Markdown answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import frontmatter
from pydantic import ValidationError

from knowledge import ArticleInvalid
from knowledge.editor.editing import error_text
from knowledge.models import Article

_FRONT_MATTER_FIELDS = ("id", "title", "questions", "tags", "language", "status", "channels")


def parse_article(text: str, source: str = "<text>") -> Article:
    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # yaml raises several unrelated types
        raise ArticleInvalid(f"{source}: front matter does not parse: {exc}") from exc
    fields: dict[str, Any] = {k: v for k, v in post.metadata.items() if k in _FRONT_MATTER_FIELDS}
    unknown = set(post.metadata) - set(_FRONT_MATTER_FIELDS) - {"version"}
    if unknown:
        raise ArticleInvalid(f"{source}: unknown front matter fields: {sorted(unknown)}")
    try:
        return Article(**fields, answer=post.content.strip())
    except ValidationError as exc:
        raise ArticleInvalid(f"{source}: {error_text(exc)}") from exc


def render_article(article: Article) -> str:
    meta: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "questions": list(article.questions),
        "tags": list(article.tags),
        "language": article.language,
        "status": article.status,
    }
    if article.channels:
        meta["channels"] = dict(article.channels)
    return frontmatter.dumps(frontmatter.Post(article.answer, **meta), sort_keys=False) + "\n"


def load_folder(folder: Path) -> list[Article]:
    """Every `*.md` article in a folder; the file name must be the article id."""
    articles = []
    for path in sorted(folder.glob("*.md")):
        article = parse_article(path.read_text(encoding="utf-8"), source=str(path))
        if article.id != path.stem:
            raise ArticleInvalid(f"{path}: id {article.id!r} does not match the file name")
        articles.append(article)
    return articles
