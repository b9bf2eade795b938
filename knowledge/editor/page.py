"""The knowledge editor page at /kb: one HTML page, one script, one style sheet
(no build step, nothing from a CDN). Everything on it comes from /api/kb."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from core import web_assets, webauth
from core.staff import StaffUser

HERE = Path(__file__).parent.parent  # knowledge/: templates/ and static/
STATIC = HERE / "static"
STATIC_FILES = {"kb.js": "text/javascript", "kb.css": "text/css",
                "topics.js": "text/javascript", **web_assets.MEDIA}
# The page extends the staff pages' base.html from core/templates.
templates = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"),
                         FileSystemLoader(webauth.HERE / "templates")]),
    autoescape=select_autoescape(["html"]))
router = APIRouter(include_in_schema=False)


@router.get("/kb", response_class=HTMLResponse)
async def editor_page(request: Request,
                      user: StaffUser = Depends(webauth.require_staff_page("editor"))
                      ) -> HTMLResponse:
    html = templates.get_template("kb.html").render(user=user)
    return HTMLResponse(html, headers=webauth.staff_headers(request))


@router.get("/kb/static/{name}")
async def editor_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(web_assets.path(name, STATIC), media_type=STATIC_FILES[name],
                        headers={"X-Content-Type-Options": "nosniff"})
