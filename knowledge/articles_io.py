"""Read and write articles in the folder format: YAML front matter + Markdown answer.

An article is `<id>.md` in its main language, plus one `<id>.<lang>.md` per
translation (`track-order.de.md`): the same kind of file, holding only what
changes with the language (title, questions, channels and the answer below the
front matter). Article ids have no dots, so the name always splits one way.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import frontmatter
from pydantic import ValidationError

from core.i18n import LANGUAGES
from knowledge import ArticleInvalid
from knowledge.editor.editing import error_text
from knowledge.models import Article, ArticleText

_FRONT_MATTER_FIELDS = ("id", "title", "questions", "tags", "language", "status", "channels")
_TRANSLATION_FIELDS = ("title", "questions", "channels")


def _front_matter(text: str, source: str) -> frontmatter.Post:
    try:
        return frontmatter.loads(text)
    except Exception as exc:  # yaml raises several unrelated types
        raise ArticleInvalid(f"{source}: front matter does not parse: {exc}") from exc


def parse_article(text: str, source: str = "<text>") -> Article:
    post = _front_matter(text, source)
    fields: dict[str, Any] = {k: v for k, v in post.metadata.items() if k in _FRONT_MATTER_FIELDS}
    unknown = set(post.metadata) - set(_FRONT_MATTER_FIELDS) - {"version"}
    if unknown:
        raise ArticleInvalid(f"{source}: unknown front matter fields: {sorted(unknown)}")
    try:
        return Article(**fields, answer=post.content.strip())
    except ValidationError as exc:
        raise ArticleInvalid(f"{source}: {error_text(exc)}") from exc


def parse_translation(text: str, source: str = "<text>") -> ArticleText:
    """One `<id>.<lang>.md` file: title, questions, channels and the answer."""
    post = _front_matter(text, source)
    unknown = set(post.metadata) - set(_TRANSLATION_FIELDS)
    if unknown:
        raise ArticleInvalid(f"{source}: unknown front matter fields in a translation: "
                             f"{sorted(unknown)} (a translation has only "
                             f"{', '.join(_TRANSLATION_FIELDS)}; the rest is in the main file)")
    try:
        return ArticleText.model_validate({**post.metadata, "answer": post.content.strip()})
    except ValidationError as exc:
        raise ArticleInvalid(f"{source}: {error_text(exc)}") from exc


def render_article(article: Article) -> str:
    """The main file (`<id>.md`); translations are `render_translation`'s."""
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


def render_translation(text: ArticleText) -> str:
    meta: dict[str, Any] = {"title": text.title, "questions": list(text.questions)}
    if text.channels:
        meta["channels"] = dict(text.channels)
    return frontmatter.dumps(frontmatter.Post(text.answer, **meta), sort_keys=False) + "\n"


def article_files(article: Article) -> dict[str, str]:
    """{"<id>.md": main file, "<id>.<lang>.md": each translation}."""
    files = {f"{article.id}.md": render_article(article)}
    for code in sorted(article.translations):
        files[f"{article.id}.{code}.md"] = render_translation(article.translations[code])
    return files


def split_name(name: str) -> tuple[str, str | None]:
    """"dir/track-order.de.md" -> ("track-order", "de"); "track-order.md" -> (.., None)."""
    stem = PurePosixPath(name).name.removesuffix(".md")
    article_id, dot, language = stem.partition(".")
    return article_id, (language if dot else None)


def articles_from_files(files: dict[str, str]) -> tuple[list[Article], list[str]]:
    """{"path/<id>.md" or "path/<id>.<lang>.md": text} -> (articles, problems):
    each main file with its translations joined in; every problem is reported
    (a file name that is not its id, a translation without its main file, a
    language we do not serve, a translation in the main language)."""
    mains: dict[str, tuple[str, Article]] = {}
    translations: dict[str, dict[str, tuple[str, ArticleText]]] = {}
    problems: list[str] = []
    for name in sorted(files):
        article_id, language = split_name(name)
        try:
            if language is None:
                article = parse_article(files[name], source=name)
                if article.id != article_id:
                    raise ArticleInvalid(f"{name}: id {article.id!r} does not match the "
                                         "file name")
                if article_id in mains:
                    raise ArticleInvalid(f"the article id {article_id!r} appears more than once")
                mains[article_id] = (name, article)
            else:
                if language not in LANGUAGES:
                    raise ArticleInvalid(f"{name}: {language!r} is not a language we answer in "
                                         f"({', '.join(LANGUAGES)})")
                text = parse_translation(files[name], source=name)
                if language in translations.get(article_id, {}):
                    raise ArticleInvalid(f"{name}: a second {language} version of {article_id}")
                translations.setdefault(article_id, {})[language] = (name, text)
        except ArticleInvalid as exc:
            problems.append(str(exc))
    articles = []
    for article_id, (name, article) in mains.items():
        extra = translations.pop(article_id, {})
        if article.language in extra:
            problems.append(f"{extra[article.language][0]}: {article_id} is already written in "
                            f"{article.language} (its main language, in {name})")
            continue
        articles.append(article.model_copy(update={
            "translations": {code: text for code, (_, text) in sorted(extra.items())}}))
    for article_id, extra in translations.items():
        for name, _ in extra.values():
            problems.append(f"{name}: a translation of {article_id!r}, but there is no "
                            f"{article_id}.md")
    return articles, problems


def load_folder(folder: Path) -> list[Article]:
    """Every article in a folder: `<id>.md` files with their `<id>.<lang>.md`
    translations."""
    files = {str(path): path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.md"))}
    articles, problems = articles_from_files(files)
    if problems:
        raise ArticleInvalid("; ".join(problems))
    return articles
