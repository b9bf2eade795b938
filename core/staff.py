"""Staff accounts: the agents, editors and admins who sign in to the agent
console, the knowledge editor and the admin API (docs/architecture.md#security).

Passwords are hashed with Argon2id; an admin holds every role. Framework-free:
the web side (sessions, sign-in page, role checks) is core/webauth.py.

Exceptions: StaffError
  ├── UserExists
  ├── UnknownUser
  └── BadStaffInput
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from core.keys import KeySpace

Role = Literal["agent", "editor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
MIN_PASSWORD_CHARS = 8
_hasher = PasswordHasher()


class StaffError(Exception):
    """Root of the staff account errors."""


class UserExists(StaffError):
    pass


class UnknownUser(StaffError):
    pass


class BadStaffInput(StaffError):
    pass


class StaffUser(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    display_name: str
    roles: frozenset[str]
    created_at: float = 0.0

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    def public(self) -> dict:
        return {"username": self.username, "display_name": self.display_name,
                "roles": sorted(self.roles), "created_at": self.created_at}


def check_roles(roles: list[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise BadStaffInput(f"roles must be some of {', '.join(ROLES)}; got {sorted(roles)}")
    return frozenset(roles)


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise BadStaffInput("usernames are 2-32 lower-case letters, digits, '.', '_' or '-'")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadStaffInput(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    return password


@dataclass(frozen=True)
class StaffKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "staff_user": "a staff account (agents, editors, admins), not a customer",
        "staff_users": "the staff usernames",
        "staff_session": "a staff sign-in session",
        "staff_login_failures": "failed staff sign-ins",
    }

    def staff_user(self, username: str) -> str:
        """Hash: username, display_name, roles (comma-separated), password_hash, created_at."""
        return f"{self.prefix}:staff:user:{username}"

    @property
    def staff_users(self) -> str:
        return f"{self.prefix}:staff:users"

    def staff_session(self, session_id: str) -> str:
        """A signed-in staff session -> username (expires)."""
        return f"{self.prefix}:staff:session:{session_id}"

    def staff_login_failures(self, username: str) -> str:
        return f"{self.prefix}:staff:login-failures:{username}"


STAFF_KEYS = StaffKeys()


class StaffStore:
    def __init__(self, redis: Redis, keys: StaffKeys = STAFF_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def create(self, username: str, password: str, roles: list[str],
                     display_name: str = "") -> StaffUser:
        check_username(username)
        check_password(password)
        role_set = check_roles(roles)
        fields = {"username": username, "display_name": display_name or username,
                  "roles": ",".join(sorted(role_set)), "created_at": str(time.time()),
                  "password_hash": _hasher.hash(password)}
        key = self._keys.staff_user(username)
        # HSETNX on the username field makes "create" race-free: one winner.
        if not await self._redis.hsetnx(key, "username", username):
            raise UserExists(username)
        await self._redis.hset(key, mapping=fields)
        await self._redis.sadd(self._keys.staff_users, username)
        return _user(fields)

    async def get(self, username: str) -> StaffUser:
        fields = await self._fields(username)
        return _user(fields)

    async def display_name(self, username: str) -> str:
        """The name customers see for a staff user; the username when none is set
        (or the user is gone)."""
        return await self._redis.hget(self._keys.staff_user(username), "display_name") \
            or username

    async def all(self) -> list[StaffUser]:
        names = sorted(await self._redis.smembers(self._keys.staff_users))
        return [await self.get(n) for n in names]

    async def count(self) -> int:
        return await self._redis.scard(self._keys.staff_users)

    async def verify(self, username: str, password: str) -> StaffUser | None:
        """The user if the password is right, else None (same answer for an
        unknown user, so sign-in does not reveal which usernames exist)."""
        try:
            fields = await self._fields(username)
        except UnknownUser:
            _hasher.hash(password)  # similar time either way
            return None
        try:
            _hasher.verify(fields["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(fields)

    async def set_roles(self, username: str, roles: list[str]) -> StaffUser:
        await self._fields(username)
        await self._redis.hset(self._keys.staff_user(username), "roles",
                               ",".join(sorted(check_roles(roles))))
        return await self.get(username)

    async def set_password(self, username: str, password: str) -> None:
        await self._fields(username)
        await self._redis.hset(self._keys.staff_user(username), "password_hash",
                               _hasher.hash(check_password(password)))

    async def delete(self, username: str) -> None:
        await self._fields(username)
        await self._redis.delete(self._keys.staff_user(username))
        await self._redis.srem(self._keys.staff_users, username)

    async def _fields(self, username: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self._keys.staff_user(username))
        if not raw or "password_hash" not in raw:
            raise UnknownUser(username)
        return raw


def _user(fields: dict[str, str]) -> StaffUser:
    return StaffUser(username=fields["username"], display_name=fields["display_name"],
                     roles=frozenset(r for r in fields["roles"].split(",") if r),
                     created_at=float(fields.get("created_at") or 0))
