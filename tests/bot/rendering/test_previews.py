"""Channel previews for the knowledge editor: the adapters' own renderers, with
each channel's limits checked."""

from bot.rendering.previews import (
    mrkdwn_to_html,
    preview_slack,
    preview_sms,
    preview_telegram,
    preview_web,
    telegram_markup_problems,
)


def levels(preview) -> dict[str, str]:
    return {c["text"]: c["level"] for c in preview["checks"]}


def test_sms_counts_segments_and_names_what_forces_ucs2():
    short = preview_sms("Reset your password at **brightside.example/signin**.")
    assert short["messages"][0]["content"] == "Reset your password at brightside.example/signin."
    assert short["summary"] == "1 SMS · 1 segment · GSM-7"
    assert all(level == "ok" for level in levels(short).values())

    emoji = preview_sms("Thanks 😀 " * 40)
    assert "UCS-2" in emoji["summary"]
    warn = [c for c in emoji["checks"] if c["level"] == "warn"]
    assert any("😀" in c["text"] for c in warn)
    assert any("segments billed" in c["text"] for c in warn)
    # Typographic quotes are swapped for GSM-7 ones, as the SMS channel sends them.
    assert "GSM-7" in preview_sms("It’s “fine”")["summary"]


def test_telegram_splits_long_answers_and_checks_markup():
    long = preview_telegram("**Bold** start\n\n" + "word " * 1200)
    assert len(long["messages"]) >= 2
    assert all(int(m["note"].split(" / ")[0].replace(",", "")) <= 4096 for m in long["messages"])
    assert levels(long)["valid Telegram HTML"] == "ok"
    assert telegram_markup_problems("<b>x</i>") and telegram_markup_problems("<div>x</div>")
    assert telegram_markup_problems("<code><a href='x'>y</a></code>")
    assert not telegram_markup_problems('<pre><code class="language-py">x</code></pre>')


def test_slack_preview_keeps_mrkdwn_escaped():
    p = preview_slack("Use <b>this</b> & **that** [link](https://x.example)")
    html = p["messages"][0]["content"]
    assert "&lt;b&gt;this&lt;/b&gt; &amp; <b>that</b>" in html
    assert '<a href="https://x.example">link</a>' in html
    assert p["checks"][0]["level"] == "ok"
    assert mrkdwn_to_html('say "hi" <https://a.example|a> ```x<y```') == (
        'say &quot;hi&quot; <a href="https://a.example">a</a> <pre>x<y</pre>')


def test_web_preview_is_the_widgets_sanitised_html():
    p = preview_web('<img src=x onerror="alert(1)"> *hi*')
    assert "<img" not in p["raw"] and "<em>hi</em>" in p["raw"]
