"""The /sandbox page: one person is a Telegram user, a Slack user and a phone at
once, side by side. Each pane talks only to its platform's `/_sandbox/` control
API on this same server; the page itself holds no state."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader

from core import web_assets

router = APIRouter()
HERE = Path(__file__).parent
STATIC = HERE / "static"
# A fixed allow-list: `name` never reaches the filesystem unchecked.
ASSETS = {"sandbox.js": "text/javascript", "sandbox.css": "text/css", **web_assets.MEDIA}
# Everything same-origin, no inline code: the bot texts rendered here are
# untrusted, so the CSP is a second line behind the DOM-only renderers.
PAGE_CSP = ("default-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; "
            "frame-ancestors 'none'")
# A tiny icon, so browsers do not ask /favicon.ico (a 404 in the console).
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           '<rect width="16" height="16" rx="4" fill="#1c2530"/>'
           '<circle cx="8" cy="8" r="3.5" fill="#f4b942"/></svg>')
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)


@router.get("/sandbox", response_class=HTMLResponse, include_in_schema=False)
async def sandbox_page(request: Request) -> HTMLResponse:
    gateway = request.app.state.settings.base_url
    html = _templates.get_template("sandbox.html").render(
        # Only a web URL becomes a link; anything else (misconfiguration) is dropped.
        gateway_url=gateway if gateway.startswith(("http://", "https://")) else None,
        # The control APIs live beside the page, under the app's mount point.
        api_base=request.scope.get("root_path", "").rstrip("/"),
        script_urls=[request.url_for("sandbox_asset", name=name).path
                     for name in (*web_assets.NAMES, "sandbox.js")],
        css_url=request.url_for("sandbox_asset", name="sandbox.css").path,
        icon_url=request.url_for("sandbox_asset", name="favicon.svg").path,
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP,
                                       "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer",
                                       "Cache-Control": "no-cache"})


@router.get("/sandbox/static/{name}", name="sandbox_asset", include_in_schema=False)
async def sandbox_asset(name: str) -> Response:
    if name == "favicon.svg":
        return Response(FAVICON, media_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})
    media = ASSETS.get(name)
    if media is None:
        raise HTTPException(404)
    return FileResponse(web_assets.path(name, STATIC), media_type=media,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
