"""Staff accounts: the agents, editors and admins who sign in to the agent
console, the knowledge editor and the admin API (docs/architecture.md#security).

Passwords are hashed with Argon2id, always in worker threads (`PasswordHashing`),
never on the event loop; a hash made with older parameters is replaced on the
next successful verify. Each account carries a random session generation, new
on creation and on every password change: a session holds the generation it was
made with, so a changed password, a deleted or a re-created account ends every
older session. An admin holds every role. Framework-free: the web side
(sessions, sign-in page, limits, role checks) is core/webauth.py and core/signin.py.

Exceptions: StaffError
  ├── UserExists
  ├── UnknownUser
  └── BadStaffInput
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar, get_args

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
T = TypeVar("T")


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
    # Random, new on creation and on each password change; sessions must match it.
    # Never shown (not in `public()`).
    generation: str = ""

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
        "staff_signin_address": "sign-in attempts from one client address (staff or an "
                                "attacker, not a customer; expires)",
        "staff_signin_pair": "sign-in attempts from one client address for one staff "
                             "username (not a customer; expires)",
    }

    def staff_user(self, username: str) -> str:
        """Hash: username, display_name, roles (comma-separated), password_hash, created_at."""
        return f"{self.prefix}:staff:user:{username}"

    @property
    def staff_users(self) -> str:
        return f"{self.prefix}:staff:users"

    def staff_session(self, session_id: str) -> str:
        """A signed-in staff session -> "<username> <generation>" (expires)."""
        return f"{self.prefix}:staff:session:{session_id}"

    def staff_signin_address(self, address: str) -> str:
        """Hash: n (attempts counted), strikes, until (ms): core/signin.py."""
        return f"{self.prefix}:staff:signin:address:{address}"

    def staff_signin_pair(self, address: str, username: str) -> str:
        """Hash like `staff_signin_address`, for one username from one address."""
        return f"{self.prefix}:staff:signin:pair:{address}:{username}"


STAFF_KEYS = StaffKeys()


class PasswordHashing:
    """Argon2 off the event loop, in at most `threads` worker threads (argon2-cffi
    releases the GIL while hashing), so hashing never stalls the other requests of
    a process and at most `threads` hashes run at once; further ones wait their turn."""

    def __init__(self, threads: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")

    async def run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


DEFAULT_HASHING = PasswordHashing()  # for the command line and helpers; the gateway has its own

# Replace the password hash only if it is still the one that was verified (a
# password change in between wins).
_REHASH = """
if redis.call('HGET', KEYS[1], 'password_hash') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'password_hash', ARGV[2])
  return 1
end
return 0
"""


def _hash(password: str) -> str:
    return _hasher.hash(password)  # the module's hasher at call time (tests swap it)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _new_generation() -> str:
    return secrets.token_urlsafe(12)


class StaffStore:
    def __init__(self, redis: Redis, keys: StaffKeys = STAFF_KEYS,
                 hashing: PasswordHashing | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._hashing = hashing or DEFAULT_HASHING
        self._rehash = redis.register_script(_REHASH)

    async def create(self, username: str, password: str, roles: list[str],
                     display_name: str = "") -> StaffUser:
        check_username(username)
        check_password(password)
        role_set = check_roles(roles)
        fields = {"username": username, "display_name": display_name or username,
                  "roles": ",".join(sorted(role_set)), "created_at": str(time.time()),
                  "password_hash": await self._hashing.run(_hash, password),
                  "generation": _new_generation()}
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
            await self._hashing.run(_hash, password)  # similar time either way
            return None
        stored = fields["password_hash"]
        if not await self._hashing.run(_verify, stored, password):
            return None
        if _hasher.check_needs_rehash(stored):  # made with older parameters: bring it up
            await self._rehash(keys=[self._keys.staff_user(username)],
                               args=[stored, await self._hashing.run(_hash, password)])
        return _user(fields)

    async def current(self, username: str, generation: str) -> StaffUser | None:
        """The user if the account exists and still has this session generation
        (not deleted, re-created or given a new password since), else None."""
        raw = await self._redis.hgetall(self._keys.staff_user(username))
        if not raw or "password_hash" not in raw or raw.get("generation", "") != generation:
            return None
        return _user(raw)

    async def set_roles(self, username: str, roles: list[str]) -> StaffUser:
        await self._fields(username)
        await self._redis.hset(self._keys.staff_user(username), "roles",
                               ",".join(sorted(check_roles(roles))))
        return await self.get(username)

    async def set_password(self, username: str, password: str) -> None:
        """A new password ends every session of the account (a new generation)."""
        await self._fields(username)
        new_hash = await self._hashing.run(_hash, check_password(password))
        await self._redis.hset(self._keys.staff_user(username),
                               mapping={"password_hash": new_hash,
                                        "generation": _new_generation()})

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
                     created_at=float(fields.get("created_at") or 0),
                     generation=fields.get("generation", ""))
