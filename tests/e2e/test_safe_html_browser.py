"""One HTML allow-list on all four pages: the web chat widget, the agent console
and the knowledge editor (gateway) and the channel sandbox (its own app) load
the same shared scripts (core/static), and the same hostile HTML comes out of
each page's sanitiser identically: no script, handler, javascript:/data: link
or foreign element survives; Markdown formatting and https links do."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from core import web_assets
from core.settings import Settings
from sandbox import page as sandbox_page
from tests.conftest import free_port, gateway_without_rasa, serve
from tests.staff import make_staff

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
HOSTILE = (
    '<p>Hi <strong>there</strong>, <em>see</em> '
    '<a href="https://example.com/help" onclick="alert(1)" target="_self">help</a> '
    '<a href="javascript:alert(2)">js</a> <a href=" JaVaScRiPt:alert(3)">js2</a> '
    '<a href="data:text/html,x">data</a> <a href="/relative">relative</a> '
    '<a href="mailto:help@example.com">mail</a></p>'
    '<img src=x onerror="alert(4)"><img src="data:image/png;base64,AAAA">'
    '<script>alert(5)</script><style>body{display:none}</style>'
    '<svg onload="alert(6)"><circle r="1"/></svg><iframe src="javascript:alert(7)"></iframe>'
    '<math><mi xlink:href="javascript:alert(8)">m</mi></math>'
    '<form action="https://evil.example"><button formaction="javascript:alert(9)">b</button></form>'
    '<div id="x" data-x="1" aria-label="a" style="color:red" class="fd-root">div</div>'
    '<span class="tg-spoiler" onmouseover="alert(10)">spoiler</span><tg-spoiler>tg</tg-spoiler>'
    '<pre><code class="language-python evil">x = 1</code></pre><ol start="3"><li>three</li></ol>'
    '<b onclick="alert(12)">bold</b><marquee>unknown</marquee><!-- a comment -->'
    # mXSS through noscript parsing (DOMPurify drops it and whatever follows it)
    '<noscript><p title="</noscript><img src=x onerror=alert(11)>"></noscript>'
)
# Sanitise on the page, then put the result into the live document: a handler
# that survived would fire (alert -> a dialog, which the test collects).
SANITIZE = """([html, api]) => {
  const sanitize = api === 'widget' ? window.FrontDoor.sanitize : window.FrontDoorSafeHtml.sanitize;
  const fragment = sanitize(html);
  const box = document.createElement('div');
  box.append(fragment);
  document.body.append(box);
  return box.innerHTML;
}"""


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 7) as (settings, redis, _):
        await make_staff(redis, "sam", "agent", "editor")
        yield settings.base_url


@pytest.fixture
async def sandbox_url():
    app = FastAPI()
    app.state.settings = Settings(port=free_port())
    app.include_router(sandbox_page.router)
    port = free_port()
    async with serve(app, port):
        yield f"http://127.0.0.1:{port}"


async def open_page(context, url: str):
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("dialog", lambda d: page.problems.append(f"dialog: {d.message}"))
    await page.goto(url)
    return page


async def test_the_four_pages_neutralise_hostile_html_identically(gateway, sandbox_url, browser):
    staff = await browser.new_context()
    login = await open_page(staff, f"{gateway}/login?next=/kb")
    await login.fill("input[name=username]", "sam")
    await login.fill("input[name=password]", PASSWORD)
    await login.click("button[type=submit]")
    await expect(login).to_have_url(f"{gateway}/kb")

    pages = {
        "widget": await open_page(await browser.new_context(), f"{gateway}/"),
        "console": await open_page(staff, f"{gateway}/agent"),
        "editor": login,
        "sandbox": await open_page(await browser.new_context(), f"{sandbox_url}/sandbox"),
    }
    await expect(pages["widget"].get_by_test_id("fd-launcher")).to_be_attached()
    await expect(pages["console"].get_by_test_id("connection")).to_have_text("live")
    # the editor's first list waits for the knowledge base's first seed: slower on a busy machine
    await expect(pages["editor"].get_by_test_id("kb-article").first).to_be_visible(timeout=90_000)
    await expect(pages["sandbox"].get_by_test_id("pane-telegram")).to_be_visible()

    # The widget runs in a private scope on the (third-party) host page.
    assert await pages["widget"].evaluate(
        "[typeof DOMPurify, typeof FrontDoorSafeHtml, typeof FrontDoorDom]") == ["undefined"] * 3

    out = {name: await page.evaluate(SANITIZE, [HOSTILE, name]) for name, page in pages.items()}
    await pages["sandbox"].wait_for_timeout(500)  # time for anything that survived to run
    assert len(set(out.values())) == 1, out
    html = out["widget"]

    kept = ['<strong>there</strong>', '<em>see</em>', '<b>bold</b>',
            '<a href="https://example.com/help" target="_blank" rel="noopener noreferrer">help</a>',
            '<a href="mailto:help@example.com" target="_blank" rel="noopener noreferrer">mail</a>',
            '<span class="tg-spoiler">spoiler</span>', '<tg-spoiler>tg</tg-spoiler>',
            '<pre><code>x = 1</code></pre>', '<ol start="3"><li>three</li></ol>',
            '<div>div</div>', 'unknown']
    for piece in kept:
        assert piece in html, (piece, html)
    # Links without a safe absolute target keep their text only.
    assert " js js2 data relative " in html
    # Script, style and noscript content is gone, not shown.
    assert "alert" not in html and "display:none" not in html
    markup = " ".join(re.findall(r"<[^>]*>", html))
    for gone in ("<script", "<style", "<svg", "<iframe", "<math", "<form", "<button", "<img",
                 "<marquee", "<noscript", "<!--", "style=", "data-", "aria-", " id=", "fd-root",
                 "javascript", "data:", "evil", "target=\"_self\"", "/relative"):
        assert gone not in markup, (gone, markup)
    assert not re.search(r"\son\w+=", markup), markup

    for name, page in pages.items():
        assert page.problems == [], (name, page.problems)
    # The sandbox's Telegram pane narrows the same list: other elements show as text.
    narrowed = await pages["sandbox"].evaluate("""html => {
      const box = document.createElement('div');
      box.append(FrontDoorSafeHtml.sanitize(html, { only: ['b'] }));
      return [box.children.length, box.textContent];
    }""", '<b>b</b><p onclick="alert(1)">p</p><img src=x onerror=alert(2)>')
    assert narrowed == [1, 'b<p onclick="alert(1)">p</p><img src="x" onerror="alert(2)">']


async def test_each_app_serves_the_shared_scripts_with_its_own_headers(gateway, sandbox_url):
    async with httpx.AsyncClient() as http:
        widget = await http.get(f"{gateway}/webchat/widget.js")
        assert widget.headers["content-type"].startswith("text/javascript")
        assert widget.headers["cache-control"] == "no-cache"
        assert widget.headers["access-control-allow-origin"] == "*"
        assert widget.headers["x-content-type-options"] == "nosniff"
        body = widget.text
        # One file: DOMPurify (with its licence line), the helpers, then the widget.
        assert body.index("@license DOMPurify") < body.index("FrontDoorDom = ") \
            < body.index("FrontDoorSafeHtml = ") < body.index("window.FrontDoor = {")
        assert "sourceMappingURL" not in body

        for prefix, media in ((f"{gateway}/agent/static", None),
                              (f"{gateway}/kb/static", "text/javascript"),
                              (f"{sandbox_url}/sandbox/static", "text/javascript")):
            for name in web_assets.NAMES:
                response = await http.get(f"{prefix}/{name}")
                assert response.status_code == 200, (prefix, name)
                assert response.content == web_assets.FILES[name].read_bytes()
                assert "javascript" in response.headers["content-type"]
                if media:
                    assert response.headers["content-type"].startswith(media)
            assert (await http.get(f"{prefix}/LICENSE")).status_code == 404
