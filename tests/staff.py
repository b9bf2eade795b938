"""Test helpers for staff (agent / editor / admin) sign-in."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from core.staff import StaffStore

CSRF = {"X-Requested-With": "frontdoor"}


async def make_staff(redis: Redis, username: str, *roles: str,
                     password: str = "correct horse battery") -> str:
    await StaffStore(redis).create(username, password, list(roles))
    return password


async def signed_in_client(base_url: str, username: str,
                           password: str = "correct horse battery") -> httpx.AsyncClient:
    """An httpx client holding a staff session cookie (caller closes it)."""
    client = httpx.AsyncClient(base_url=base_url, headers=CSRF)
    response = await client.post("/login", data={"username": username, "password": password,
                                                  "next": "/"})
    assert response.status_code == 303, response.text
    return client
