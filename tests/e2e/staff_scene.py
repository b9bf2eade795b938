"""A running product for the staff pages' browser tests and screenshots: the
real gateway (no Rasa: the tickets are opened as the escalation action opens
them) and the channel sandboxes, over one emptied Redis database, with
customers on web chat, Telegram, Slack and SMS waiting for a person.

Used by tests/e2e/test_staff_pages_browser.py and scripts/staff_screenshots.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis

from bot.app import create_app
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from core.models import ArticleRef, TranscriptEntry
from core.redis import text_client
from core.settings import HandoffSettings, Settings, with_sandboxes
from handoff.models import Summary, Ticket
from handoff.service import HandoffService
from knowledge.models import Article
from knowledge.store import ArticleStore
from sandbox.app import create_app as sandbox_app
from tests.conftest import free_port, serve
from tests.staff import make_staff, signed_in_client

PASSWORD = "correct horse battery"


@dataclass
class Scene:
    settings: Settings
    redis: Redis
    handoff: HandoffService = field(init=False)
    sandbox: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.handoff = HandoffService(self.redis, HandoffSettings())

    @property
    def base(self) -> str:
        return self.settings.base_url

    async def customer(self, channel: str, user_id: str, name: str = "", *,
                       said: tuple[tuple[str, str], ...] = (), language: str = "en",
                       ago_s: float = 0) -> str:
        """A customer on `channel` who said and heard `said` ((author, text)
        pairs, `ago_s` seconds ago onwards); their customer id."""
        identities = IdentityStore(self.redis)
        customer_id = await identities.resolve(channel, user_id, name or None)
        await identities.touch(customer_id, channel, user_id)
        await CustomerLanguages(self.redis).choose(customer_id, language, "detected")
        transcripts = TranscriptStore(self.redis)
        start = time.time() - ago_s
        for n, (author, text) in enumerate(said):
            article = ArticleRef(id="track-order", version=3, title="Track your order") \
                if author == "bot" and "track" in text.lower() else None
            await transcripts.append(customer_id, TranscriptEntry(
                ts=start + n * 2, channel=channel, author=author, text=text,  # type: ignore[arg-type]
                language=language if author == "customer" else None, article=article,
                decision="answer" if article else None))
        return customer_id

    async def link(self, customer_id: str, channel: str, user_id: str) -> None:
        await Customers(self.redis).attach(customer_id, channel, user_id, "code")

    async def escalate(self, customer_id: str, channel: str, reason: str = "asked_for_human",
                       *, name: str = "", language: str = "en", topic: str | None = None,
                       last_text: str = "", ago_s: float = 0) -> Ticket:
        ticket, _ = await self.handoff.escalate(
            customer_id, channel, reason, topic=topic, display_name=name, language=language,
            summary=Summary(intents=["request_human"], last_customer_text=last_text))
        if ago_s:  # waiting for a while already
            await self.redis.hset(self.handoff.keys.ticket(ticket.ref), "created_at",
                                  str(ticket.created_at - ago_s))
        return ticket

    async def agent(self, username: str, display_name: str) -> None:
        from core.staff import StaffStore
        await StaffStore(self.redis).create(username, PASSWORD, ["agent"], display_name)

    async def api(self, username: str) -> httpx.AsyncClient:
        return await signed_in_client(self.base, username, PASSWORD)

    async def sandbox_post(self, path: str, **body) -> dict:
        response = await self.sandbox.post(path, json=body)
        response.raise_for_status()
        return response.json()

    async def sandbox_get(self, path: str, **params) -> list[dict]:
        response = await self.sandbox.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def until(self, check, timeout: float = 15, what: str = "a condition"):
        """Poll `check()` (async) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := await check():
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def running_product(redis_server: str, db: int) -> AsyncIterator[Scene]:
    settings = with_sandboxes(Settings(
        redis_url=f"{redis_server}/{db}", port=free_port(), sandbox_port=free_port(),
        rasa_port=free_port(), actions_port=free_port()))
    redis = text_client(settings.effective_redis_url)
    await redis.flushdb()
    scene = Scene(settings, redis)
    try:
        async with (serve(sandbox_app(settings), settings.sandbox_port),
                    serve(create_app(settings), settings.port),
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.sandbox_port}",
                                      timeout=30) as sandbox):
            scene.sandbox = sandbox
            yield scene
    finally:
        await redis.flushdb()
        await redis.aclose()


async def busy_queue(scene: Scene) -> dict[str, Ticket]:
    """Five customers waiting on four channels, as an agent finds them on a Monday."""
    tickets = {}
    tove = await scene.customer("telegram", "700000901", "Tove Lindqvist", said=(
        ("customer", "hi"), ("bot", "Hello! How can I help?"),
        ("customer", "My parcel still hasn't arrived, it's been 9 days. Order 44-1187."),
        ("bot", "You can **track your order** with the link in your confirmation email."),
        ("customer", "The tracking page says 'label created' since last week. "
                     "Can a person look at it please?")), ago_s=600)
    tickets["telegram"] = await scene.escalate(tove, "telegram", name="Tove Lindqvist",
                                               ago_s=540)
    phone = await scene.customer("sms", "+4915112345678", said=(
        ("customer", "Ich möchte mein Abo kündigen und das Geld für März zurück."),), language="de",
        ago_s=400)
    tickets["sms"] = await scene.escalate(phone, "sms", "topic:cancellation",
                                          topic="cancellation", language="de", ago_s=380)
    visitor = await scene.customer("web", "visitor-7f3a", said=(
        ("customer", "charged twice for one order, card ending 4242"),
        ("bot", "Sorry, I don't know the answer to that yet."),
        ("customer", "why was I charged twice?? <img src=x onerror=alert(1)> <b>twice</b>"),
        ("bot", "Sorry, I still couldn't find that.")), ago_s=200)
    tickets["web"] = await scene.escalate(visitor, "web", "repeated_fallback", ago_s=150)
    sam = await scene.customer("slack", "U07SAMRIVERA", "Sam Rivera", said=(
        ("customer", "This is the third time I'm asking. Where is my refund?!"),), ago_s=90)
    tickets["slack"] = await scene.escalate(sam, "slack", "negative_sentiment",
                                            name="Sam Rivera", ago_s=80)
    maja = await scene.customer("telegram", "700000902", "Maja Berg", said=(
        ("customer", "Can I change the delivery address of order 45-0021?"),), ago_s=40)
    await scene.link(maja, "sms", "+447700900123")
    tickets["linked"] = await scene.escalate(maja, "telegram", name="Maja Berg", ago_s=30)
    return tickets


async def knowledge(scene: Scene) -> None:
    """Two published answers to paste, with Markdown in them."""
    store = ArticleStore(scene.redis)
    await store.save(Article(
        id="track-order", title="Track your order", questions=("where is my parcel?",),
        answer="Open **Your orders** and choose *Track*. Parcels usually arrive within "
               "**3–5 working days**.\n\n- Tracking updates every few hours\n- "
               "Still stuck after 7 days? We send a replacement."),
        expected_version=None, author="seed")
    await store.save(Article(
        id="refunds", title="Refunds", questions=("where is my refund?",),
        answer="Refunds reach your account **within 5 working days** of us receiving "
               "the return."), expected_version=None, author="seed")


async def sign_in(page, base: str, username: str, next_path: str = "/agent") -> None:
    await page.goto(f"{base}/login?next={next_path}")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}{next_path}")


__all__ = ["Scene", "busy_queue", "knowledge", "make_staff", "running_product", "sign_in"]
