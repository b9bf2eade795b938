"""Markdown to safe HTML for the web (the widget and the agent console).

Raw HTML in the source is escaped, never passed through, and link schemes are
limited to http(s)/mailto/tel: article authors and customers both count as
untrusted here."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

from bot.rendering.markdown import safe_markdown
from core.models import TranscriptEntry


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = safe_markdown()

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("target", "_blank")
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


@lru_cache(maxsize=2048)
def markdown_to_html(text: str) -> str:
    """Kept per text: the same answers go out again and again, and each reply is
    rendered twice (the customer's widget and the agents' live log); rendering
    was about a twentieth of the gateway's CPU per turn (README, "Benchmark")."""
    return _markdown().render(text).strip()


def entry_view(entry: TranscriptEntry) -> dict:
    """An entry as the web sees it: customer text stays text; what the bot or an
    agent wrote is Markdown, shipped as sanitised HTML beside the text."""
    view = entry.model_dump(mode="json", exclude={"merged_from"})  # internal ids stay inside
    view["html"] = markdown_to_html(entry.text) if entry.author in ("bot", "agent") else None
    return view
