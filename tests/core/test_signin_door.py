"""The sign-in door under attack: guesses racing the counter, a sign-in flood
stalling the gateway, someone spraying a username to lock its owner out, old
cookies outliving their account, and password hashes left at old parameters.
Against a real gateway and Redis, with small limits set through the settings."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher

from bot.bench.stats import p95
from core import staff
from core.staff import StaffStore
from tests.conftest import gateway_without_rasa
from tests.staff import CSRF, make_staff, signed_in_client

RIGHT = "correct horse battery"


class CountingHasher(PasswordHasher):
    """The tests' cheap Argon2, counting the verifications that ran (in any thread)
    and optionally taking `pause_s` longer per hash or verify, like the real cost."""

    def __init__(self, pause_s: float = 0.0, **params: int) -> None:
        super().__init__(**({"time_cost": 1, "memory_cost": 8, "parallelism": 1} | params))
        self.pause_s = pause_s
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, hash, password) -> bool:  # type: ignore[override]
        with self._lock:
            self.verified += 1
        time.sleep(self.pause_s)  # holds the thread it runs in, as Argon2 would
        return super().verify(hash, password)

    def hash(self, password, *, salt=None) -> str:  # type: ignore[override]
        time.sleep(self.pause_s)
        return super().hash(password, salt=salt)


@contextlib.asynccontextmanager
async def door(redis_server: str, **limits) -> AsyncIterator[tuple[str, object, object]]:
    async with gateway_without_rasa(redis_server, 4, **limits) as (settings, redis, app):
        yield settings.base_url, redis, app


def client_at(app, address: str) -> httpx.AsyncClient:
    """A client of the gateway's app as seen from `address` (request.client.host)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://testserver", headers=CSRF)


def sign_in(client: httpx.AsyncClient, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password})


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_thirty_concurrent_guesses_get_only_the_allowance_checked(redis_server,
                                                                         monkeypatch):
    hasher = CountingHasher()
    monkeypatch.setattr(staff, "_hasher", hasher)
    async with door(redis_server, staff_signin_attempts_per_user=3,
                    staff_signin_attempts_per_address=100, staff_signin_delay_s=0.5) \
            as (_, redis, app):
        await make_staff(redis, "ada", "agent")
        async with client_at(app, "10.0.0.66") as attacker:
            answers = await asyncio.gather(*(sign_in(attacker, "ada", f"guess-{i:04}")
                                             for i in range(30)))
            codes = sorted(a.status_code for a in answers)
            assert codes == [401] * 3 + [429] * 27
            assert hasher.verified == 3

            # The right password is refused too, until the delay has passed.
            right = await sign_in(attacker, "ada", RIGHT)
            assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
            assert "Too many sign-in attempts" in right.text
            assert hasher.verified == 3
            await asyncio.sleep(0.6)
            assert (await sign_in(attacker, "ada", RIGHT)).status_code == 303


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_a_wrong_guess_after_the_delay_makes_the_next_delay_longer(redis_server):
    async with door(redis_server, staff_signin_attempts_per_user=1,
                    staff_signin_attempts_per_address=100, staff_signin_delay_s=0.3) \
            as (_, redis, app):
        await make_staff(redis, "ada", "agent")
        async with client_at(app, "10.0.0.66") as attacker:
            assert (await sign_in(attacker, "ada", "guess-one")).status_code == 401
            assert (await sign_in(attacker, "ada", "guess-two")).status_code == 429
            await asyncio.sleep(0.35)
            assert (await sign_in(attacker, "ada", "guess-three")).status_code == 401
            assert (await sign_in(attacker, "ada", "guess-four")).status_code == 429
            await asyncio.sleep(0.35)  # the second delay is 0.6 s: still waiting
            assert (await sign_in(attacker, "ada", RIGHT)).status_code == 429
            await asyncio.sleep(0.35)
            assert (await sign_in(attacker, "ada", RIGHT)).status_code == 303


async def test_spraying_admin_from_one_address_does_not_keep_the_real_admin_out(
        redis_server):
    async with door(redis_server, staff_signin_attempts_per_user=3,
                    staff_signin_attempts_per_address=10, staff_signin_delay_s=60) \
            as (_, redis, app):
        await make_staff(redis, "admin", "admin")
        async with client_at(app, "1.2.3.4") as attacker, \
                client_at(app, "5.6.7.8") as real_admin:
            for i in range(40):
                await sign_in(attacker, "admin", f"spray-{i:04}")
            # Other usernames from the same address hit the address limit.
            assert (await sign_in(attacker, "ada", "spray-spray")).status_code == 429
            # The attacker's address waits even with the right password...
            assert (await sign_in(attacker, "admin", RIGHT)).status_code == 429
            # ...while the admin, elsewhere, signs in at once.
            assert (await sign_in(real_admin, "admin", RIGHT)).status_code == 303
            me = await real_admin.get("/api/auth/me")
            assert me.status_code == 200 and me.json()["username"] == "admin"


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_a_sign_in_flood_does_not_stall_other_requests(redis_server, monkeypatch):
    # Each hash and verify holds its thread for 0.1 s, like Argon2's CPU time; on
    # the event loop, 16 looping sign-ins would hold every other request for seconds.
    monkeypatch.setattr(staff, "_hasher", CountingHasher(pause_s=0.1))
    async with door(redis_server, staff_signin_attempts_per_user=10_000,
                    staff_signin_attempts_per_address=10_000) as (base, _redis, _app):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def health_times(n: int = 20) -> list[float]:
                times = []
                for _ in range(n):
                    start = time.perf_counter()
                    await client.get("/healthz")
                    times.append(time.perf_counter() - start)
                    await asyncio.sleep(0.01)
                return times

            baseline = p95(await health_times())
            stop, hashing = asyncio.Event(), asyncio.Event()
            attempts = 0

            async def flood(i: int) -> None:
                nonlocal attempts
                async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
                    while not stop.is_set():
                        await sign_in(anonymous, f"nobody-{i}", "not-a-password")
                        attempts += 1
                        if attempts >= 4:
                            hashing.set()

            flooders = [asyncio.create_task(flood(i)) for i in range(16)]
            try:
                await asyncio.wait_for(hashing.wait(), 30)  # the flood is hashing
                loaded = p95(await health_times())
            finally:
                stop.set()
                await asyncio.gather(*flooders)
        assert attempts >= 4
        assert loaded < 0.3 + 3 * baseline, (loaded, baseline)


@pytest.fixture
async def gateway(redis_server):
    async with door(redis_server) as (base, redis, _app):
        yield base, redis


async def test_a_changed_password_ends_the_old_session(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    client = await signed_in_client(base, "ada")
    try:
        assert (await client.get("/api/auth/me")).status_code == 200
        await StaffStore(redis).set_password("ada", "a brand new password")
        assert (await client.get("/api/auth/me")).status_code == 401
    finally:
        await client.aclose()
    again = await signed_in_client(base, "ada", "a brand new password")
    try:
        assert (await again.get("/api/auth/me")).status_code == 200
    finally:
        await again.aclose()


async def test_a_deleted_and_re_created_user_does_not_revive_the_old_cookie(gateway):
    base, redis = gateway
    await make_staff(redis, "root", "admin")
    await make_staff(redis, "ada", "agent")
    admin = await signed_in_client(base, "root")
    ada = await signed_in_client(base, "ada")
    try:
        assert (await ada.get("/api/auth/me")).status_code == 200
        assert (await admin.delete("/api/admin/users/ada")).status_code == 204
        assert (await ada.get("/api/auth/me")).status_code == 401
        recreated = await admin.post("/api/admin/users", json={
            "username": "ada", "password": "someone else's pw", "roles": ["admin"]})
        assert recreated.status_code == 201
        # The old cookie names a session of the old account: not the new admin.
        assert (await ada.get("/api/auth/me")).status_code == 401
        assert (await ada.get("/api/admin/users")).status_code == 401
    finally:
        await admin.aclose()
        await ada.aclose()


async def test_a_hash_with_weaker_parameters_is_rehashed_on_sign_in(gateway, monkeypatch):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")  # the tests' cheapest parameters: t=1, m=8
    old = await redis.hget("fd:staff:user:ada", "password_hash")
    assert ",t=1," in f",{old.split('$')[3]},"
    monkeypatch.setattr(staff, "_hasher", PasswordHasher(time_cost=2, memory_cost=16,
                                                         parallelism=1))
    client = await signed_in_client(base, "ada")
    await client.aclose()
    new = await redis.hget("fd:staff:user:ada", "password_hash")
    assert new != old and "m=16,t=2,p=1" in new
    assert not staff._hasher.check_needs_rehash(new)
    again = await signed_in_client(base, "ada")  # the new hash verifies the same password
    await again.aclose()
