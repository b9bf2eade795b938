"""The operations pages: `/metrics` (Prometheus) and the API documentation
(`/docs`, `/openapi.json`). None of them is public: they show conversation
volumes, escalation reasons, CSAT, queue lengths and the whole admin API.

- `/docs` and `/openapi.json` need a staff session with the admin role.
- `/metrics` needs the admin role too, or, for a Prometheus scraper that cannot
  sign in, `Authorization: Bearer <FRONTDOOR_METRICS_TOKEN>` (no token set: only
  admins).
- Swagger UI's scripts and stylesheet are served from the `swagger-ui-bundle`
  package (Apache-2.0), never from a CDN, so the page works offline and loads
  nothing from another host."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.gateway.services import services
from bot.infra import metrics
from core.staff import StaffUser
from core.webauth import StaffAuth, require_staff, staff_auth
from handoff.reports import report

router = APIRouter(tags=["operations"])
ADMIN = require_staff("admin")
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
               "favicon-32x32.png": "image/png"}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def swagger_ui_dir() -> Path:
    import swagger_ui_bundle

    return Path(str(swagger_ui_bundle.swagger_ui_path))


async def metrics_reader(request: Request, auth: StaffAuth = Depends(staff_auth)) -> None:
    """The scraper's bearer token, or else an admin's session. A bearer token that
    is given but wrong is refused outright (no fallback to the cookie)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        expected = services(request).settings.metrics_token
        if expected is not None and secrets.compare_digest(
                given.strip().encode(), expected.get_secret_value().encode()):
            return
        raise HTTPException(401, "wrong metrics token", headers={"WWW-Authenticate": "Bearer"})
    await ADMIN(request, auth)


@router.get("/metrics", response_class=PlainTextResponse,  # Prometheus' text format
            dependencies=[Depends(metrics_reader)],
            responses={401: {"description": "no admin session and no valid bearer token"},
                       403: {"description": "signed in without the admin role"}})
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics: an admin session, or `Authorization: Bearer
    <FRONTDOOR_METRICS_TOKEN>`."""
    svc = services(request)
    handoff = svc.handoff
    waiting = {team: len(await handoff.queue.waiting(team)) for team in handoff.teams.teams}
    metrics.set_handoff_gauges(
        await report(handoff.redis, days=metrics.REPORT_WINDOW_DAYS), waiting)
    body = generate_latest() + metrics.children_metrics(svc.settings.supervisor_state)
    return Response(body, media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


@router.get("/openapi.json", include_in_schema=False)
async def openapi_schema(request: Request, _: StaffUser = Depends(ADMIN)) -> JSONResponse:
    return JSONResponse(request.app.openapi(), headers={"Cache-Control": "no-store"})


def _docs_csp(html: str) -> str:
    """Our own origin only; the one inline script (Swagger UI's start) by its hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html))
    # Swagger UI sets style attributes on its elements, hence 'unsafe-inline' for styles.
    return (f"default-src 'none'; script-src 'self' {hashes}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@router.get("/docs", include_in_schema=False)
async def docs_page(request: Request, _: StaffUser = Depends(ADMIN)) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json", title=f"{request.app.title} – API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None})  # no call to validator.swagger.io
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": _docs_csp(html),
                                       "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "no-store"})


@router.get("/docs/static/{name}", include_in_schema=False)
async def docs_asset(name: str) -> FileResponse:
    """Swagger UI itself (a public library, so no sign-in), from the installed package."""
    if name not in DOCS_ASSETS:
        raise HTTPException(404)
    return FileResponse(swagger_ui_dir() / name, media_type=DOCS_ASSETS[name],
                        headers={"X-Content-Type-Options": "nosniff"})
