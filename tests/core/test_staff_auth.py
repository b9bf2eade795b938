"""Staff sign-in, roles and the admin user API against a real gateway and Redis."""

import httpx
import pytest

from core.staff import BadStaffInput, StaffStore, UserExists
from tests.conftest import gateway_without_rasa
from tests.staff import CSRF, make_staff, signed_in_client


@pytest.fixture
async def gateway(redis_server):
    async with gateway_without_rasa(redis_server, 4) as (settings, redis, _app):
        yield settings.base_url, redis


async def test_wrong_password_and_unknown_user_get_the_same_refusal(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    async with httpx.AsyncClient(base_url=base) as client:
        wrong = await client.post("/login", data={"username": "ada", "password": "nope-nope"})
        unknown = await client.post("/login", data={"username": "bob", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password" in wrong.text
    assert "fd_staff" not in wrong.cookies


async def test_roles_decide_what_a_signed_in_user_may_do(gateway):
    base, redis = gateway
    await make_staff(redis, "root", "admin")
    await make_staff(redis, "ada", "agent")
    agent = await signed_in_client(base, "ada")
    admin = await signed_in_client(base, "root")
    try:
        assert (await agent.get("/api/auth/me")).json()["roles"] == ["agent"]
        assert (await agent.get("/api/admin/users")).status_code == 403
        created = await admin.post("/api/admin/users", json={
            "username": "eve", "password": "long enough pw", "roles": ["editor"]})
        assert created.status_code == 201
        assert {u["username"] for u in (await admin.get("/api/admin/users")).json()} == {
            "root", "ada", "eve"}
        again = await admin.post("/api/admin/users", json={
            "username": "eve", "password": "long enough pw", "roles": ["editor"]})
        assert again.status_code == 409
        bad_role = await admin.post("/api/admin/users", json={
            "username": "mal", "password": "long enough pw", "roles": ["owner"]})
        assert bad_role.status_code == 422 and "roles must be" in bad_role.json()["detail"]
        # The audit stream says who created whom.
        audit = await redis.xrange("fd:audit")
        assert any(f["action"] == "staff.create" and f["actor"] == "root"
                   and f["username"] == "eve" for _, f in audit)
    finally:
        await agent.aclose()
        await admin.aclose()


async def test_unsafe_api_calls_need_the_anti_forgery_header(gateway):
    base, redis = gateway
    await make_staff(redis, "root", "admin")
    admin = await signed_in_client(base, "root")
    try:
        admin.headers.pop("X-Requested-With")
        forged = await admin.post("/api/admin/users", json={
            "username": "eve", "password": "long enough pw", "roles": ["editor"]})
        assert forged.status_code == 403
        assert await StaffStore(redis).count() == 1
    finally:
        await admin.aclose()


async def test_sign_out_ends_the_session_and_pages_redirect_to_sign_in(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    client = await signed_in_client(base, "ada")
    try:
        assert (await client.get("/api/auth/me")).status_code == 200
        cookie = client.cookies.get("fd_staff")
        await client.post("/logout")
        client.cookies.set("fd_staff", cookie)  # a copy of the old cookie is worthless too
        assert (await client.get("/api/auth/me")).status_code == 401
    finally:
        await client.aclose()


async def test_repeated_wrong_passwords_make_that_address_wait_for_the_username(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent", password="the right password")
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(10):
            await client.post("/login", data={"username": "ada", "password": "guess-guess"})
        right = await client.post("/login", data={"username": "ada",
                                                  "password": "the right password"})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in right.text
    assert "fd_staff" not in right.cookies


async def test_the_sign_in_redirect_never_leaves_the_site(gateway):
    base, redis = gateway
    await make_staff(redis, "ada", "agent")
    async with httpx.AsyncClient(base_url=base, headers=CSRF) as client:
        response = await client.post("/login", data={
            "username": "ada", "password": "correct horse battery",
            "next": "//evil.example/phish"})
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_staff_store_validates_input(redis):
    store = StaffStore(redis)
    with pytest.raises(BadStaffInput):
        await store.create("Bad Name", "long enough pw", ["agent"])
    with pytest.raises(BadStaffInput):
        await store.create("ok", "short", ["agent"])
    await store.create("ok", "long enough pw", ["agent"])
    with pytest.raises(UserExists):
        await store.create("ok", "another password", ["editor"])
    assert (await store.verify("ok", "long enough pw")).roles == {"agent"}
    assert await store.verify("ok", "another password") is None
