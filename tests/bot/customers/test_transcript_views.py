"""The console's fast transcript read gives exactly what the web renderer gives."""

from bot.customers.transcript import TranscriptStore
from bot.rendering.web import entry_view
from core.models import ArticleRef, Button, TranscriptEntry


async def test_views_match_the_rendered_entries_in_time_order(redis):
    store = TranscriptStore(redis)
    await store.append("c_a", TranscriptEntry(ts=20, channel="telegram", author="bot",
                                              text="See **this** [link](https://x.example)",
                                              article=ArticleRef(id="a", version=3),
                                              buttons=(Button(title="t", payload="/p"),)))
    await store.append("c_a", TranscriptEntry(ts=10, channel="sms", author="customer",
                                              text="<script>alert(1)</script> **not bold**"))
    await store.append("c_a", TranscriptEntry(ts=30, channel="web", author="agent",
                                              text="Agent _here_"))
    views = await store.views("c_a")
    expected = [entry_view(e) for e in await store.timeline("c_a")]
    assert views == expected
    assert [v["ts"] for v in views] == [10, 20, 30]
    assert views[0]["html"] is None  # customer text is never rendered as HTML
    assert "<strong>this</strong>" in views[1]["html"]
