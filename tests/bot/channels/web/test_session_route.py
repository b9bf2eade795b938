"""The web chat's session endpoint: a token in, a token out, and a body that is
bounded while it is read."""

from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from bot.channels.web.routes import MAX_SESSION_BYTES, router
from bot.channels.web.session import SessionSigner
from bot.customers.identity import IdentityStore
from core.settings import Settings
from tests.bodies import CHUNK, CountingBody

EMBEDDER = "https://shop.example"


class _Unlimited:
    async def count(self, kind: str, address: str) -> int:
        return 0


def _client(redis=None) -> tuple[httpx.AsyncClient, SessionSigner]:
    signer = SessionSigner("x" * 32, 3600)
    app = FastAPI()
    app.include_router(router)
    app.state.services = SimpleNamespace(sessions=signer,
                                         settings=Settings(allowed_origins=[EMBEDDER]),
                                         visitor_limits=_Unlimited(), redis=redis,
                                         identities=IdentityStore(redis) if redis else None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw"), signer


async def test_a_chunked_oversized_session_request_is_413_after_reading_at_most_the_limit():
    client, _ = _client()
    body = CountingBody(5 << 20, prefix=b'{"token": "')
    async with client:
        response = await client.post("/webchat/session", content=body,
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert body.pulled <= MAX_SESSION_BYTES + CHUNK


async def test_a_session_is_kept_issued_or_refused_as_before(redis):
    client, signer = _client(redis)
    async with client:
        fresh = await client.post("/webchat/session", json={})
        token = fresh.json()["token"]
        kept = await client.post("/webchat/session", json={"token": token})
        replaced = await client.post("/webchat/session", json={"token": "forged"})
        empty = await client.post("/webchat/session")
        garbage = await client.post("/webchat/session", content=b"[1,2",
                                    headers={"Content-Type": "application/json"})
    assert fresh.status_code == kept.status_code == replaced.status_code == 200
    assert signer.visitor(token) and kept.json()["token"] == token
    assert replaced.json()["token"] != "forged"
    assert empty.status_code == 200 and empty.json()["token"]
    assert garbage.status_code == 422


PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type"}


async def test_a_page_on_an_allowed_origin_may_open_a_session_without_credentials():
    client, _ = _client()
    async with client:
        preflight = await client.options("/webchat/session",
                                         headers={"Origin": EMBEDDER, **PREFLIGHT})
        opened = await client.post("/webchat/session", json={}, headers={"Origin": EMBEDDER})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == EMBEDDER
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    assert opened.status_code == 200 and opened.json()["token"]
    assert opened.headers["access-control-allow-origin"] == EMBEDDER
    for response in (preflight, opened):
        assert "access-control-allow-credentials" not in response.headers
        assert "Origin" in response.headers["vary"]


async def test_any_other_origin_is_refused_the_preflight_and_gets_no_cors_header():
    client, _ = _client()
    async with client:
        for origin in ("https://evil.example", "null", EMBEDDER + ".evil.example"):
            preflight = await client.options("/webchat/session",
                                             headers={"Origin": origin, **PREFLIGHT})
            assert preflight.status_code == 403, origin
            assert "access-control-allow-origin" not in preflight.headers
            posted = await client.post("/webchat/session", json={}, headers={"Origin": origin})
            # The browser withholds the answer from that page: no CORS header.
            assert "access-control-allow-origin" not in posted.headers
        no_origin = await client.options("/webchat/session", headers=PREFLIGHT)
        assert no_origin.status_code == 403
