"""Session fixtures: a real Redis on a free port, and the real stack (Rasa server
with the trained model, action server, gateway) started by the same launcher
`frontdoor up` uses."""

from __future__ import annotations

import asyncio
import contextlib
import io
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from redis.asyncio import Redis

from bot.infra.redis_procs import free_port, start_redis
from bot.infra.supervisor import Stack, model_path
from core import staff
from core.redis import text_client
from core.settings import KnowledgeSettings, Settings, with_sandboxes
from knowledge.editor.backend import shared_embedder
from tests import slot_guard

# A web chat secret for tests that set their own: long enough for the settings (32+).
SESSION_SECRET = "test-session-secret-at-least-32-characters"
# The running stack by its gateway port, for the few tests that take one of its
# processes down and start it again (tests/bot/gateway/test_delivery_stack.py).
RUNNING_STACKS: dict[int, Stack] = {}


@contextlib.asynccontextmanager
async def serve(app, port: int) -> AsyncIterator[None]:
    """Run an ASGI app with uvicorn inside the test's event loop until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=5,
                                           proxy_headers=False))  # as `frontdoor up` runs it
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():  # failed to start (e.g. lifespan error): surface it
            await task
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await _stopped(task, port)


async def _stopped(task: asyncio.Task, port: int, timeout_s: float = 60) -> None:
    """Wait for a served app to stop; one that hangs is cancelled, and what it was
    waiting on is reported as a warning instead of eating the test's timeout."""
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return
    except TimeoutError:
        pass
    stacks = io.StringIO()
    for pending in asyncio.all_tasks():
        if not pending.done() and pending is not asyncio.current_task():
            pending.print_stack(limit=8, file=stacks)
    warnings.warn(f"the app on port {port} did not stop within {timeout_s}s; cancelled. "
                  f"Pending tasks:\n{stacks.getvalue()}", stacklevel=1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def gateway_without_rasa(redis_server: str, db: int, **overrides
                               ) -> AsyncIterator[tuple[Settings, Redis, object]]:
    """A real gateway served in-process on a free port, over an emptied Redis
    database, with no Rasa behind it: for API tests that need no assistant."""
    from bot.app import create_app

    settings = Settings(redis_url=f"{redis_server}/{db}", port=free_port(),
                        rasa_port=free_port(), actions_port=free_port(), **overrides)
    redis = text_client(settings.effective_redis_url)
    await redis.flushdb()
    app = create_app(settings)
    try:
        async with serve(app, settings.port):
            yield settings, redis, app
    finally:
        await redis.flushdb()
        await redis.aclose()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 at the product's cost takes about 0.2 s a hash and the tests create and
    sign in staff hundreds of times: same algorithm, lowest cost (a hash carries its
    parameters, so the launched stack still verifies these)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8,
                                                      parallelism=1))
        yield


@pytest.fixture(scope="session", autouse=True)
def one_hash_slot_per_atomic_call(redis_server):
    """Multi-key commands, transactions and scripts that Redis Cluster would refuse
    (CROSSSLOT) fail on the tests' plain Redis too (tests/slot_guard.py)."""
    slot_guard.GUARD.command_source = ("127.0.0.1", int(redis_server.rsplit(":", 1)[1]))
    with slot_guard.installed():
        yield


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> str:
    """A throwaway redis-server; yields its base URL (no db number)."""
    server = start_redis(free_port(), tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@contextlib.asynccontextmanager
async def empty_database(redis_server: str, db: int) -> AsyncIterator[Redis]:
    """A client of database `db`, emptied before and after the block."""
    client = text_client(f"{redis_server}/{db}")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
async def redis(redis_server) -> Redis:
    """An empty database for one test (db 1; the stack lives in db 0)."""
    async with empty_database(redis_server, 1) as client:
        yield client


@pytest.fixture
async def stack_redis(stack) -> Redis:
    """A client of the stack's own Redis (db 0), for tests that look behind the product."""
    client = text_client(stack.effective_redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def stack(redis_server, tmp_path_factory) -> Settings:
    """The real product: Rasa + action server + gateway on free ports."""
    var_dir: Path = tmp_path_factory.mktemp("var")
    settings = with_sandboxes(Settings(
        redis_url=f"{redis_server}/0", port=free_port(), rasa_port=free_port(),
        actions_port=free_port(), sandbox_port=free_port(), var_dir=var_dir,
        retry_backoff_s=0.2, retry_backoff_max_s=1.0,
        # every test's visitor comes from 127.0.0.1: the per-address limits have
        # their own tests (tests/bot/channels/web/test_visitors.py)
        webchat_sessions_per_address=100_000, webchat_connects_per_address=100_000,
        webchat_messages_per_address=100_000,
    ))
    if not model_path(settings).exists():
        pytest.fail("no model trained from the current project: run `make test` (it trains)")
    running = Stack(settings, echo=lambda *_: None)
    running.start()
    RUNNING_STACKS[settings.port] = running
    yield running.settings  # as started: the number of Rasa processes fixed
    running.stop()


@pytest.fixture(scope="session")
def kb_embedder():
    """The knowledge embedder, loaded once for the session; every in-process gateway
    shares it (knowledge.editor.backend.shared_embedder)."""
    return shared_embedder(KnowledgeSettings().model_path())
