from bot.rendering.web import entry_view, markdown_to_html
from core.models import TranscriptEntry


def test_markdown_becomes_html():
    html = markdown_to_html("You have **30 days**.\n\n1. Sign in\n2. Open *My orders*")
    assert "<strong>30 days</strong>" in html and "<ol>" in html and "<em>My orders</em>" in html


def test_raw_html_is_escaped_not_passed_through():
    html = markdown_to_html("hi <img src=x onerror=alert(1)> <script>alert(1)</script>")
    assert "<img" not in html and "<script" not in html
    assert "&lt;img" in html


def test_dangerous_link_schemes_are_not_links_and_safe_links_open_in_a_new_tab():
    assert "href" not in markdown_to_html("[x](javascript:alert(1))")
    html = markdown_to_html("[returns](https://brightside.example/returns)")
    assert 'target="_blank"' in html and 'rel="noopener noreferrer"' in html


def test_customer_text_is_never_rendered_as_html():
    entry = TranscriptEntry(channel="web", author="customer", text="**not bold** <b>x</b>")
    assert entry_view(entry)["html"] is None
    bot = TranscriptEntry(channel="web", author="bot", text="**bold**")
    assert entry_view(bot)["html"] == "<p><strong>bold</strong></p>"
