"""The Markdown parser every renderer starts from (web, Telegram, Slack).

Raw HTML in the source stays text and only links with a safe scheme become
links: article authors and customers both count as untrusted."""

from __future__ import annotations

from markdown_it import MarkdownIt

SAFE_SCHEMES = ("http://", "https://", "mailto:", "tel:")


def is_safe_link(url: str, schemes: tuple[str, ...] = SAFE_SCHEMES) -> bool:
    return url.strip().lower().startswith(schemes)


def safe_markdown(schemes: tuple[str, ...] = SAFE_SCHEMES, *,
                  strikethrough: bool = False) -> MarkdownIt:
    """A new CommonMark parser; a link with any other scheme stays literal text."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    if strikethrough:
        md.enable("strikethrough")
    md.validateLink = lambda url: is_safe_link(url, schemes)  # type: ignore[method-assign]
    return md
