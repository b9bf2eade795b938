"""The web chat's session endpoint: a token in, a token out, and a body that is
bounded while it is read."""

from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from bot.channels.web.routes import MAX_SESSION_BYTES, router
from bot.channels.web.session import SessionSigner
from core.settings import Settings
from tests.bodies import CHUNK, CountingBody


class _Unlimited:
    async def count(self, kind: str, address: str) -> int:
        return 0


def _client() -> tuple[httpx.AsyncClient, SessionSigner]:
    signer = SessionSigner("x" * 32, 3600)
    app = FastAPI()
    app.include_router(router)
    app.state.services = SimpleNamespace(sessions=signer, settings=Settings(),
                                         visitor_limits=_Unlimited())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw"), signer


async def test_a_chunked_oversized_session_request_is_413_after_reading_at_most_the_limit():
    client, _ = _client()
    body = CountingBody(5 << 20, prefix=b'{"token": "')
    async with client:
        response = await client.post("/webchat/session", content=body,
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert body.pulled <= MAX_SESSION_BYTES + CHUNK


async def test_a_session_is_kept_issued_or_refused_as_before():
    client, signer = _client()
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
