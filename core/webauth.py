"""Staff sign-in for the web pages and APIs: the agent console, the knowledge
editor and the admin API all use these dependencies.

- A session is a random id kept in Redis (so sign-out and role changes take
  effect at once), carried in an HttpOnly, SameSite=Strict cookie signed with
  itsdangerous.
- Unsafe API methods (POST/PUT/PATCH/DELETE) also need the header
  `X-Requested-With: frontdoor`, which a cross-site form cannot send.
- A session remembers the account's generation: a deleted, re-created or
  re-passworded account ends its older sessions (core/staff.py).
- Sign-in attempts are counted per client address and per (address, username)
  before any password is hashed, and answered 429 with Retry-After past the
  allowance (core/signin.py); hashing runs in worker threads.

The app's services carry one `StaffAuth` (see `StaffServices`).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from core import audit
from core.addresses import client_address
from core.responses import StaffUserView
from core.settings import Settings
from core.signin import SignInLimiter, SignInLimits
from core.staff import (
    STAFF_KEYS,
    BadStaffInput,
    PasswordHashing,
    StaffKeys,
    StaffStore,
    StaffUser,
    UnknownUser,
    UserExists,
)

COOKIE = "fd_staff"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "frontdoor"
SESSION_TTL_S = 12 * 3600
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
HERE = Path(__file__).parent


def staff_templates(*package_dirs: Path) -> Environment:
    """A Jinja2 environment for a package's staff pages: its own templates, then
    core's (base.html, login.html), autoescaped."""
    return Environment(loader=FileSystemLoader([*package_dirs, HERE / "templates"]),
                       autoescape=select_autoescape(["html"]))


templates = staff_templates()
router = APIRouter(tags=["staff"])


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    cookie: str


@dataclass(frozen=True)
class Refused:
    """Wrong username or password."""


@dataclass(frozen=True)
class TooManyAttempts:
    retry_after_s: int


class StaffAuth:
    def __init__(self, redis: Redis, secret: str, *, secure_cookies: bool = False,
                 keys: StaffKeys = STAFF_KEYS, limits: SignInLimits = SignInLimits(),
                 hash_threads: int = 2) -> None:
        self.redis = redis
        self._hashing = PasswordHashing(hash_threads)
        self.users = StaffStore(redis, keys, self._hashing)
        self.limiter = SignInLimiter(redis, limits, keys)
        self._keys = keys
        self._signer = URLSafeSerializer(secret, salt="staff-session")
        self.secure_cookies = secure_cookies

    def close(self) -> None:
        self._hashing.close()

    async def sign_in(self, address: str, username: str, password: str
                      ) -> SignedIn | Refused | TooManyAttempts:
        """Count the attempt first (nothing is hashed past the limits), then check
        the password; a session for the right one."""
        wait_s = await self.limiter.attempt(address, username)
        if wait_s:
            return TooManyAttempts(int(wait_s))
        user = await self.users.verify(username, password)
        if user is None:
            return Refused()
        await self.limiter.succeeded(address, username)
        session_id = secrets.token_urlsafe(24)
        await self.redis.set(self._keys.staff_session(session_id),
                             f"{user.username} {user.generation}", ex=SESSION_TTL_S)
        return SignedIn(user, self._signer.dumps(session_id))

    async def user_for_cookie(self, cookie: str | None) -> StaffUser | None:
        if not cookie:
            return None
        try:
            session_id = self._signer.loads(cookie)
        except BadSignature:
            return None
        session = await self.redis.get(self._keys.staff_session(session_id))
        if session is None:
            return None
        username, _, generation = session.partition(" ")
        # Deleted, re-created or given a new password since: the session is over.
        return await self.users.current(username, generation)

    async def sign_out(self, cookie: str | None) -> None:
        if not cookie:
            return
        with contextlib.suppress(BadSignature):
            await self.redis.delete(self._keys.staff_session(self._signer.loads(cookie)))

    async def audit(self, actor: str, action: str, **details: str) -> None:
        """Who did what, when: one entry in the audit stream."""
        await audit.record(self.redis, actor, action, details)


class StaffServices(Protocol):
    """What staff sign-in needs of the app's services (the gateway's satisfy it)."""

    staff: StaffAuth
    settings: Settings  # which proxy, if any, may say who the client is


def staff_auth(request: HTTPConnection) -> StaffAuth:
    services: StaffServices = request.app.state.services
    return services.staff


def require_staff(role: str):
    """Dependency for staff APIs: 401 without a session, 403 without the role,
    403 for an unsafe method without the anti-forgery header."""

    async def dependency(request: Request, auth: StaffAuth = Depends(staff_auth)) -> StaffUser:
        user = await auth.user_for_cookie(request.cookies.get(COOKIE))
        if user is None:
            raise HTTPException(401, "sign in first")
        if not user.has(role):
            raise HTTPException(403, f"this needs the {role} role")
        if request.method not in ("GET", "HEAD", "OPTIONS") and \
                request.headers.get(CSRF_HEADER) != CSRF_VALUE:
            raise HTTPException(403, f"missing header X-Requested-With: {CSRF_VALUE}")
        return user

    return dependency


def require_staff_page(role: str):
    """Dependency for staff pages: redirect to the sign-in page without a session."""

    async def dependency(request: Request, auth: StaffAuth = Depends(staff_auth)) -> StaffUser:
        user = await auth.user_for_cookie(request.cookies.get(COOKIE))
        if user is None:
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query
                                               else ""), safe="")
            raise HTTPException(303, headers={"Location": f"/login?next={target}"})
        if not user.has(role):
            raise HTTPException(403, f"this page needs the {role} role")
        return user

    return dependency


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """A browser's WebSocket from another site is refused (cross-site WebSocket
    hijacking): its Origin must be one of FRONTDOOR_ALLOWED_ORIGINS or this
    host. No Origin: not a browser, whose own credential decides."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def staff_for_websocket(websocket: WebSocket, role: str) -> StaffUser | None:
    auth = staff_auth(websocket)
    user = await auth.user_for_cookie(websocket.cookies.get(COOKIE))
    return user if user is not None and user.has(role) else None


def own_connect_sources(request: HTTPConnection) -> str:
    """connect-src for a page of ours: this origin, and its WebSockets (ws: and
    wss: of this host, nothing else). A Host header that is not a plain
    host[:port] adds nothing, so it cannot write into the policy."""
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        return "'self'"
    return f"'self' ws://{host} wss://{host}"


def page_csp(request: HTTPConnection, *, images: Iterable[str] = (),
             frame_ancestors: str = "'none'") -> str:
    """The Content-Security-Policy of our HTML pages: scripts, styles and
    connections only from our own origin, images from it (and `data:`) plus the
    named hosts, no <base>, no plugins, forms back to us, framed by no one
    (unless said)."""
    image_sources = " ".join(["'self'", "data:", *images])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {image_sources}; "
            f"connect-src {own_connect_sources(request)}; base-uri 'none'; object-src 'none'; "
            f"form-action 'self'; frame-ancestors {frame_ancestors}")


def staff_headers(request: HTTPConnection) -> dict[str, str]:
    """The headers of every staff page: the strict CSP, no sniffing, no caching."""
    return {"Content-Security-Policy": page_csp(request),
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def staff_page(request: HTTPConnection, template: str, env: Environment = templates,
               **context) -> HTMLResponse:
    """Render a staff page (from core/templates unless `env` says) with the strict CSP."""
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, headers=staff_headers(request))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user off-site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/staff/static/{name}", include_in_schema=False)
async def staff_static(name: str) -> FileResponse:
    if name not in ("staff.css",):
        raise HTTPException(404)
    return FileResponse(HERE / "static" / name)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return staff_page(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", include_in_schema=False)
async def login(request: Request, username: str = Form(max_length=64),
                password: str = Form(max_length=256), next: str = Form("/"),
                auth: StaffAuth = Depends(staff_auth)) -> Response:
    services: StaffServices = request.app.state.services
    # the same client address the web chat limits use (a trusted proxy may name it)
    address = client_address(request, services.settings)
    result = await auth.sign_in(address, username.strip().lower(), password)
    if isinstance(result, TooManyAttempts):
        seconds = result.retry_after_s
        page = staff_page(request, "login.html", next=_safe_next(next), username=username,
                          error=f"Too many sign-in attempts. Please wait {seconds} second"
                                f"{'' if seconds == 1 else 's'} and try again.")
        page.status_code = 429
        page.headers["Retry-After"] = str(seconds)
        return page
    if isinstance(result, Refused):
        # The username stays filled in (autoescaped); focus goes to the password.
        page = staff_page(request, "login.html", next=_safe_next(next), username=username,
                          error="Wrong username or password: check the password and "
                                "try again.")
        page.status_code = 401
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, result.cookie, max_age=SESSION_TTL_S, httponly=True,
                        samesite="strict", secure=auth.secure_cookies)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, auth: StaffAuth = Depends(staff_auth)) -> Response:
    await auth.sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/api/auth/me", response_model=StaffUserView)
async def me(request: Request, auth: StaffAuth = Depends(staff_auth)) -> dict:
    user = await auth.user_for_cookie(request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(401, "sign in first")
    return user.public()


# -- user management (admin) ------------------------------------------------------

class NewStaffUser(BaseModel):
    username: str = Field(max_length=32)
    password: str = Field(max_length=256)
    roles: list[str]
    display_name: str = Field("", max_length=80)


class RolesUpdate(BaseModel):
    roles: list[str]


@router.get("/api/admin/users", response_model=list[StaffUserView])
async def list_users(_: StaffUser = Depends(require_staff("admin")),
                     auth: StaffAuth = Depends(staff_auth)) -> list[dict]:
    return [u.public() for u in await auth.users.all()]


@router.post("/api/admin/users", status_code=201, response_model=StaffUserView)
async def create_user(body: NewStaffUser, admin: StaffUser = Depends(require_staff("admin")),
                      auth: StaffAuth = Depends(staff_auth)) -> dict:
    try:
        user = await auth.users.create(body.username, body.password, body.roles,
                                       body.display_name)
    except UserExists:
        raise HTTPException(409, f"user {body.username!r} already exists") from None
    except BadStaffInput as exc:
        raise HTTPException(422, str(exc)) from None
    await auth.audit(admin.username, "staff.create", username=user.username,
                     roles=",".join(sorted(user.roles)))
    return user.public()


@router.put("/api/admin/users/{username}/roles", response_model=StaffUserView)
async def update_roles(username: str, body: RolesUpdate,
                       admin: StaffUser = Depends(require_staff("admin")),
                       auth: StaffAuth = Depends(staff_auth)) -> dict:
    try:
        user = await auth.users.set_roles(username, body.roles)
    except UnknownUser:
        raise HTTPException(404, f"no user {username!r}") from None
    except BadStaffInput as exc:
        raise HTTPException(422, str(exc)) from None
    await auth.audit(admin.username, "staff.roles", username=username,
                     roles=",".join(sorted(user.roles)))
    return user.public()


@router.delete("/api/admin/users/{username}", status_code=204)
async def delete_user(username: str, admin: StaffUser = Depends(require_staff("admin")),
                      auth: StaffAuth = Depends(staff_auth)) -> Response:
    if username == admin.username:
        raise HTTPException(409, "you cannot delete your own account")
    try:
        await auth.users.delete(username)
    except UnknownUser:
        raise HTTPException(404, f"no user {username!r}") from None
    await auth.audit(admin.username, "staff.delete", username=username)
    return Response(status_code=204)
