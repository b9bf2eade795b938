"""The Content-Security-Policy of our pages names our own origin and nothing
wider: connections to this host (and its WebSockets) only, no <base>, images
from us plus configured hosts, staff pages framed by no one."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from bot.channels.web import routes as webchat_routes
from core import webauth
from core.settings import Settings


def directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def _client(image_hosts: list[str] | None = None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(webauth.router)
    app.include_router(webchat_routes.router)
    app.state.services = SimpleNamespace(
        settings=SimpleNamespace(image_hosts=image_hosts or [], allowed_origins=[]),
        templates=Environment(loader=FileSystemLoader(webchat_routes.STATIC.parent / "templates"),
                              autoescape=select_autoescape(["html"])))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://chat.example:8000")


async def test_staff_pages_connect_only_to_their_own_origin_and_are_never_framed():
    async with _client() as client:
        page = await client.get("/login")
    csp = directives(page.headers["content-security-policy"])
    assert csp["connect-src"] == ["'self'", "ws://chat.example:8000", "wss://chat.example:8000"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["script-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert not any(v in ("ws:", "wss:", "https:", "*") for vs in csp.values() for v in vs)


async def test_the_web_chat_page_allows_images_only_from_configured_hosts():
    async with _client(["https://cdn.example.com"]) as client:
        page = await client.get("/")
    csp = directives(page.headers["content-security-policy"])
    assert csp["img-src"] == ["'self'", "data:", "https://cdn.example.com"]
    assert csp["connect-src"] == ["'self'", "ws://chat.example:8000", "wss://chat.example:8000"]
    assert csp["base-uri"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]


async def test_a_forged_host_header_cannot_write_into_the_policy():
    async with _client() as client:
        page = await client.get("/login", headers={"Host": "x; script-src *"})
    csp = directives(page.headers["content-security-policy"])
    assert csp["connect-src"] == ["'self'"] and csp["script-src"] == ["'self'"]


@pytest.mark.parametrize("host", ["https:", "*", "http://cdn.example.com",
                                  "https://cdn.example.com; script-src *"])
def test_an_image_host_that_is_not_a_plain_https_host_is_refused(host):
    with pytest.raises(ValidationError, match="FRONTDOOR_IMAGE_HOSTS"):
        Settings(image_hosts=[host])
