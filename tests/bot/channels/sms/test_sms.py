"""The SMS channel: pure rendering and segment counting, to_inbound on recorded
Twilio webhooks, and the real twilio library (RequestValidator, the async REST
client) against the Twilio sandbox, with a gateway and a sandbox server running
in-process on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from bot import BadInput
from bot.channels.base import ChannelSendError, Recipient
from bot.channels.sms.adapter import SmsChannel
from bot.channels.sms.keys import SMS_KEYS
from bot.channels.sms.parse import (
    EMPTY_TWIML,
    HELP_TEXT,
    INBOUND_PATH,
    MAX_WEBHOOK_BYTES,
    MEDIA_ONLY_TEXT,
    OPT_IN_TEXT,
    OPT_OUT_TEXT,
    keyword,
    to_inbound,
)
from bot.channels.sms.render import (
    markdown_to_sms,
    numbered_options,
    plain,
    render,
    segment_count,
    sms_info,
    split_message,
)
from bot.channels.sms.routes import router
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.gateway.inbound import InboundStream
from bot.gateway.keys import GATEWAY_KEYS
from bot.gateway.outbox import Outbox, OutboxSender
from core.models import Button, InboundMessage, TranscriptEntry
from core.redis import text_client
from core.settings import Settings, with_channels, with_sandboxes
from sandbox import twilio as twilio_sandbox
from sandbox.twilio import TWILIO_HELP_TEXT, TWILIO_START_TEXT, TWILIO_STOP_TEXT
from tests.bodies import CHUNK, CountingBody
from tests.conftest import SESSION_SECRET, free_port, serve

PAYLOADS = Path(__file__).parent / "payloads"
PHONE = "+15551234567"
BUTTONS = (Button(title="Return policy", payload='/choose_article{"article_id":"return-policy"}'),
           Button(title="Start a return", payload='/choose_article{"article_id":"start-return"}'),
           Button(title="Refund times", payload='/choose_article{"article_id":"refunds"}'))


def payload(name: str) -> dict[str, str]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def bot_entry(text: str, buttons: tuple[Button, ...] = (),
              entry_id: str = "1-0") -> TranscriptEntry:
    return TranscriptEntry(id=entry_id, channel="sms", author="bot", text=text, buttons=buttons)


# =====================================================================================
# Pure: segment counting
# =====================================================================================

@pytest.mark.parametrize("text, encoding, units, segments", [
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€", "GSM-7", 2, 1),                      # extension table: escape + character
    ("€" * 80, "GSM-7", 160, 1),
    ("a" * 159 + "€", "GSM-7", 161, 2),
    ("{}[]~^|\\", "GSM-7", 16, 1),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair never straddles segments
    ("Café £5 @ Müller", "GSM-7", 16, 1),      # accented letters of the basic set
    ("Ñandú", "UCS-2", 5, 1),                  # but ú is not one of them
    ("😀", "UCS-2", 2, 1),                     # one emoji: UCS-2, a surrogate pair
    ("a" * 159 + "😀", "UCS-2", 161, 3),
    ("a" * 68 + "😀", "UCS-2", 70, 1),
    ("a" * 69 + "😀", "UCS-2", 71, 2),
    ("д" * 70, "UCS-2", 70, 1),
    ("д" * 71, "UCS-2", 71, 2),
    ("д" * 134, "UCS-2", 134, 2),
    ("д" * 135, "UCS-2", 135, 3),
    ("ç", "UCS-2", 1, 1),                      # lower-case ç is not in GSM-7 (only Ç is)
    ("“quoted”", "UCS-2", 8, 1),
])
def test_segments_are_counted_like_the_carriers(text, encoding, units, segments):
    info = sms_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


# =====================================================================================
# Pure: Markdown to SMS text
# =====================================================================================

@pytest.mark.parametrize("markdown, sms", [
    ("**Bold** and *em* and `code`", "Bold and em and code"),
    ("See [our policy](https://b.example/returns).", "See our policy (https://b.example/returns)."),
    ("[https://b.example/x](https://b.example/x)", "https://b.example/x"),
    ("Go to <https://b.example/track>", "Go to https://b.example/track"),
    ("[b.example/help](https://b.example/help)", "https://b.example/help"),
    ("Email [help@b.example](mailto:help@b.example)", "Email help@b.example"),
    ("# Returns\n\nWithin 30 days.", "Returns\n\nWithin 30 days."),
    ("Steps:\n\n- one\n- **two**\n  - nested", "Steps:\n\n- one\n- two\n  - nested"),
    ("* star\n+ plus", "- star\n\n- plus"),
    ("3. third\n4. fourth", "3. third\n4. fourth"),
    ("line one\nline two", "line one\nline two"),
    ("Fish &amp; chips &lt;3", "Fish & chips <3"),
    ("<b>raw html</b> stays text", "<b>raw html</b> stays text"),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("It’s “smart” – really…", "It's \"smart\" - really..."),  # kept GSM-7
    ("ring\x07 the\x1b bell", "ring the bell"),
])
def test_markdown_becomes_plain_sms_text(markdown, sms):
    assert markdown_to_sms(markdown) == sms


def test_a_plain_sms_variant_passes_through_unchanged():
    text = ("Reset your password at brightside.example/signin using Forgot password. "
            "The link we email you is valid for 1 hour.")
    assert markdown_to_sms(text) == text
    assert render(bot_entry(text)) == [text]


def test_numbered_options_in_the_short_form():
    assert numbered_options(["A"]) == "Reply 1 for A."
    assert numbered_options(["A", "B"]) == "Reply 1 for A or 2 for B."
    assert numbered_options(["A", "B", "C"]) == "Reply 1 for A, 2 for B or 3 for C."


def test_render_appends_the_options_after_the_text():
    [body] = render(bot_entry("Which one did you mean?", BUTTONS))
    assert body == ("Which one did you mean?\n\nReply 1 for Return policy, 2 for Start a return "
                    "or 3 for Refund times.")
    assert render(bot_entry("", BUTTONS[:1])) == ["Reply 1 for Return policy."]
    assert render(bot_entry("   ")) == []


# =====================================================================================
# Pure: splitting long texts
# =====================================================================================

URL = "https://brightside.example/help/articles/returns-and-refunds?utm_source=sms&ref=12345"


def test_a_text_of_ten_segments_stays_one_message():
    text = "a" * 1530  # 10 × 153
    assert segment_count(text) == 10 and split_message(text) == [text]
    assert len(split_message(text + "b")) == 2


def test_long_texts_split_at_paragraphs_first():
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_message(text)
    assert len(parts) == 2
    assert all(segment_count(p) <= 10 for p in parts)
    assert all(p.startswith("Paragraph") for p in parts)  # each part starts a paragraph
    assert "\n\n".join(parts) == text


def test_one_long_paragraph_splits_at_sentences_then_words_and_never_cuts_a_url():
    sentence = f"Please read {URL} before you send anything back to us. "
    text = (sentence * 30).strip()
    parts = split_message(text)
    assert len(parts) >= 2
    assert all(segment_count(p) <= 10 for p in parts)
    assert all(p.endswith(".") for p in parts)  # sentence boundaries
    assert " ".join(parts) == text
    one_sentence = ("word " * 200 + URL + " " + "word " * 200).strip()  # no sentence breaks
    parts = split_message(one_sentence)
    assert len(parts) >= 2 and all(segment_count(p) <= 10 for p in parts)
    assert sum(URL in p for p in parts) == 1  # the URL is whole, in one part
    assert all(w in ("word", URL) for p in parts for w in p.split(" "))  # no word cut


def test_ucs2_texts_split_on_code_units():
    text = " ".join(["Grazie 🙏"] * 120)  # emoji: UCS-2, 2 units each
    parts = split_message(text)
    assert all(sms_info(p).encoding == "UCS-2" and sms_info(p).segments <= 10 for p in parts)
    assert sum(sms_info(p).units for p in parts) + len(parts) - 1 == sms_info(text).units
    assert all("\ud83d" not in p for p in parts)  # no half surrogate anywhere


def test_an_unbreakable_run_longer_than_a_message_is_cut_as_a_last_resort():
    parts = split_message("x" * 4000)
    assert [len(p) for p in parts] == [1530, 1530, 940]


# =====================================================================================
# Pure: keywords and to_inbound on recorded webhooks
# =====================================================================================

@pytest.mark.parametrize("body, opted_out, expected", [
    ("STOP", False, "stop"), (" stop ", False, "stop"), ("StopAll", False, "stop"),
    ("unsubscribe", False, "stop"), ("Cancel", False, "stop"), ("end", False, "stop"),
    ("QUIT", False, "stop"), ("stop please", False, None), ("please stop", False, None),
    ("START", True, "start"), ("start", False, "start"), ("Unstop", True, "start"),
    ("yes", True, "start"), ("yes", False, None),  # "yes" is an answer while subscribed
    ("HELP", False, "help"), ("info", True, "help"), ("help me", False, None),
    ("", False, None),
])
def test_carrier_keywords(body, opted_out, expected):
    assert keyword(body, opted_out) == expected


def test_to_inbound_text():
    message = to_inbound(payload("text"))
    assert message == InboundMessage(
        channel="sms", channel_user_id="+15551234567",
        external_id="SM6b0e3a1f2c4d5e6f7a8b9c0d1e2f3a4b",
        text="Hi, can I return a sofa I bought last week?", received_at=message.received_at)


def test_to_inbound_a_number_matching_an_offered_option_is_that_button():
    message = to_inbound(payload("number_reply"), BUTTONS)
    assert message.button_payload == BUTTONS[1].payload and message.text == "Start a return"
    assert message.external_id == "SM0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"


def test_to_inbound_a_number_without_matching_options_is_plain_text():
    assert to_inbound(payload("number_reply")).button_payload is None
    message = to_inbound(payload("number_reply_out_of_range"), BUTTONS)
    assert message.button_payload is None and message.text == "7"


def test_to_inbound_odd_payloads():
    assert to_inbound(payload("emoji")).text == "Thanks 👍 where’s my order?"
    assert to_inbound(payload("mms_with_caption")).text == "Is this the right part for my wardrobe?"
    assert to_inbound(payload("long_concatenated")).text.endswith("when it will arrive, please?")
    assert to_inbound(payload("control_chars")).text == "hello there"
    with pytest.raises(BadInput) as exc:
        to_inbound(payload("mms_image_only"))
    assert exc.value.code == "unsupported" and exc.value.message == MEDIA_ONLY_TEXT
    with pytest.raises(BadInput) as exc:
        to_inbound(payload("empty"))
    assert exc.value.code == "empty"
    with pytest.raises(BadInput) as exc:
        to_inbound(dict(payload("text"), Body="x" * 3000), max_chars=2000)
    assert exc.value.code == "too_long"
    with pytest.raises(BadInput):
        to_inbound({"Body": "hi"})  # no MessageSid / From


# =====================================================================================
# Servers: the Twilio sandbox and a gateway with only the SMS channel
# =====================================================================================

@dataclass
class Env:
    settings: Settings
    redis: Redis
    channel: SmsChannel
    http: httpx.AsyncClient
    sandbox: str  # .../twilio

    @property
    def webhook_url(self) -> str:
        return self.settings.base_url + INBOUND_PATH

    def sign(self, params: dict, url: str | None = None, token: str | None = None) -> str:
        token = token or self.settings.channels.twilio_auth_token.get_secret_value()
        return RequestValidator(token).compute_signature(url or self.webhook_url, params)

    async def post_webhook(self, params: dict, signature: str | None = "sign") -> httpx.Response:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = self.sign(params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.http.post(self.webhook_url, data=params, headers=headers)

    async def text(self, user: str, text: str, **extra) -> dict:
        response = await self.http.post(f"{self.sandbox}/_sandbox/send",
                                        json={"user": user, "text": text, **extra})
        response.raise_for_status()
        return response.json()

    async def transcript(self, user: str, who: str | None = None) -> list[dict]:
        response = await self.http.get(f"{self.sandbox}/_sandbox/transcript",
                                       params={"user": user})
        return [m for m in response.json() if who is None or m["from"] == who]

    async def fail(self, status: int, times: int = 1, retry_after: int | None = None,
                   after: int = 0) -> None:
        await self.http.post(f"{self.sandbox}/_sandbox/fail", json={
            "status": status, "times": times, "retry_after": retry_after, "after": after})

    async def inbound(self) -> list[InboundMessage]:
        return [InboundMessage.model_validate_json(fields["m"])
                for _, fields in await self.redis.xrange(GATEWAY_KEYS.inbound_stream)]

    def account(self, params: dict) -> dict:
        """A recorded payload as if it came for our (sandbox) account."""
        return dict(params, AccountSid=self.settings.channels.twilio_account_sid)


def gateway_app(settings: Settings, redis: Redis, channels: dict) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    # The webhook routes use only these of the gateway's services.
    app.state.services = SimpleNamespace(settings=settings, redis=redis,
                                         inbound=InboundStream(redis), channels=channels)
    return app


def sandbox_app(settings: Settings, http: httpx.AsyncClient) -> FastAPI:
    app = FastAPI()
    app.include_router(twilio_sandbox.router, prefix="/twilio")
    app.state.settings, app.state.http = settings, http
    return app


@contextlib.asynccontextmanager
async def servers(redis_server: str, **channel_settings: object):
    settings = with_channels(
        with_sandboxes(Settings(redis_url=f"{redis_server}/1", port=free_port(),
                                sandbox_port=free_port(), session_secret=SESSION_SECRET)),
        **channel_settings)
    redis = text_client(settings.effective_redis_url)
    channel = SmsChannel(settings, redis)
    async with (httpx.AsyncClient(timeout=10) as http,
                serve(sandbox_app(settings, http), settings.sandbox_port),
                serve(gateway_app(settings, redis, {"sms": channel}), settings.port)):
        yield Env(settings, redis, channel, http,
                  f"http://127.0.0.1:{settings.sandbox_port}/twilio")
    await channel.close()
    await redis.aclose()


@pytest.fixture(scope="module")
async def env(redis_server):
    """Twilio's default: its opt-out handling answers STOP/START/HELP."""
    async with servers(redis_server) as built:
        yield built


@pytest.fixture
async def own_replies(redis_server, redis):
    """A number whose Twilio opt-out handling is off; the gateway answers keywords."""
    async with servers(redis_server, sms_own_keyword_replies=True) as built:
        yield built


@pytest.fixture(autouse=False)
async def sms(env, redis):
    """A clean sandbox and an empty Redis (the `redis` fixture flushes db 1)."""
    await env.http.post(f"{env.sandbox}/_sandbox/reset")
    return env


# =====================================================================================
# Inbound through the route
# =====================================================================================

async def test_a_text_is_acked_with_empty_twiml_and_enqueued_with_the_message_sid(sms):
    params = sms.account(payload("text"))
    response = await sms.post_webhook(params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == EMPTY_TWIML and "<Response" in response.text
    [message] = await sms.inbound()
    assert (message.channel, message.channel_user_id, message.external_id, message.text) == (
        "sms", PHONE, params["MessageSid"], params["Body"])


async def test_the_sandbox_signs_like_twilio_and_a_redelivery_keeps_the_message_sid(sms):
    sent = await sms.text(PHONE, "Where is my order?")
    assert sent["status"] == 200 and re.fullmatch(r"SM[0-9a-f]{32}", sent["message_sid"])
    again = await sms.http.post(f"{sms.sandbox}/_sandbox/redeliver", json={"user": PHONE})
    assert again.json() == {"status": 200, "message_sid": sent["message_sid"]}
    messages = await sms.inbound()
    # Both deliveries carry the same external id: the router keeps one of them.
    assert [m.external_id for m in messages] == [sent["message_sid"]] * 2
    assert {m.text for m in messages} == {"Where is my order?"}


async def _forged(sms, params: dict, headers: dict | None = None, content: bytes | None = None):
    if content is not None:
        return await sms.http.post(sms.webhook_url, content=content, headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return await sms.http.post(sms.webhook_url, data=params, headers=headers or {})


async def test_forged_webhooks_are_refused_before_anything_is_read(sms):
    params = sms.account(payload("text"))
    good = sms.sign(params)
    cases = {
        "no signature": await _forged(sms, params),
        "garbage signature": await _forged(sms, params, {"X-Twilio-Signature": "bm9wZQ=="}),
        "wrong token": await _forged(sms, params, {
            "X-Twilio-Signature": sms.sign(params, token="0" * 32)}),
        "other url": await _forged(sms, params, {
            "X-Twilio-Signature": sms.sign(params, url="https://evil.example" + INBOUND_PATH)}),
        "tampered body": await _forged(sms, dict(params, Body="Refund me twice"),
                                       {"X-Twilio-Signature": good}),
        "added param": await _forged(sms, dict(params, Extra="1"), {"X-Twilio-Signature": good}),
        "other account, correctly signed": await sms.post_webhook(payload("text")),
        "not utf-8": await _forged(sms, {}, {"X-Twilio-Signature": good},
                                   content=b"Body=\xff\xfe&From=%2B1555"),
    }
    assert {name: r.status_code for name, r in cases.items()} == dict.fromkeys(cases, 403)
    big = await _forged(sms, {}, {"X-Twilio-Signature": good}, content=b"Body=" + b"a" * 70_000)
    assert big.status_code == 413
    assert await sms.inbound() == []
    assert (await sms.post_webhook(params)).status_code == 200  # the genuine one passes


async def test_a_chunked_5_mib_post_is_refused_with_413_after_reading_at_most_the_limit(sms):
    body = CountingBody(5 << 20, prefix=b"Body=")
    app = gateway_app(sms.settings, sms.redis, {"sms": sms.channel})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gw") as client:
        # A small Content-Length that lies: the chunked body streams on past it.
        response = await client.post(INBOUND_PATH, content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100",
            "X-Twilio-Signature": "bm9wZQ=="})
    assert response.status_code == 413
    assert body.pulled <= MAX_WEBHOOK_BYTES + CHUNK
    assert await sms.inbound() == []


async def test_a_post_without_content_length_is_411_before_the_signature_check(sms):
    body = CountingBody(5 << 20, prefix=b"Body=")
    app = gateway_app(sms.settings, sms.redis, {"sms": sms.channel})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gw") as client:
        response = await client.post(INBOUND_PATH, content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 411  # not 403: nothing of it was looked at
    assert body.pulled == 0
    assert await sms.inbound() == []


async def test_the_signature_covers_the_public_url(redis):
    """Twilio signs the URL it was configured with: FRONTDOOR_PUBLIC_URL, not
    the address the request arrived at behind a proxy."""
    settings = with_sandboxes(Settings(public_url="https://frontdoor.example/", port=free_port(),
                                       sandbox_port=free_port(), session_secret=SESSION_SECRET))
    channel = SmsChannel(settings, redis)
    app = gateway_app(settings, redis, {"sms": channel})
    params = dict(payload("text"), AccountSid=settings.channels.twilio_account_sid)
    validator = RequestValidator(settings.channels.twilio_auth_token.get_secret_value())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://10.0.0.5:8000") as client:
        local = await client.post(INBOUND_PATH, data=params, headers={
            "X-Twilio-Signature": validator.compute_signature(
                "http://10.0.0.5:8000" + INBOUND_PATH, params)})
        public = await client.post(INBOUND_PATH, data=params, headers={
            "X-Twilio-Signature": validator.compute_signature(
                "https://frontdoor.example" + INBOUND_PATH, params)})
    assert (local.status_code, public.status_code) == (403, 200)


async def test_the_route_is_404_when_sms_is_not_enabled(redis):
    settings = Settings(port=free_port(), session_secret=SESSION_SECRET)
    app = gateway_app(settings, redis, {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as client:
        response = await client.post(INBOUND_PATH, data={"Body": "hi"})
    assert response.status_code == 404
    with pytest.raises(ValueError):
        SmsChannel(settings, redis)


async def test_a_signed_but_malformed_webhook_is_a_400_and_changes_nothing(sms):
    params = {"AccountSid": sms.settings.channels.twilio_account_sid, "Body": "hi"}
    response = await sms.post_webhook(params)
    assert response.status_code == 400 and await sms.inbound() == []


async def _outbox_delivers(sms, user: str, text: str) -> None:
    """An agent's reply through the outbox worker, as the gateway sends it; returns
    once the outbox entry is acknowledged (delivered, or dropped for good)."""
    sender = OutboxSender(sms.redis, {"sms": sms.channel}, concurrency=1, reclaim_idle_ms=60_000,
                          max_attempts=3, backoff_s=0.01, backoff_max_s=0.02)
    await sender.worker.start()
    try:
        outbox_id = await Outbox(sms.redis).enqueue("sms", Recipient("c_1", user),
                                                    bot_entry(text))
        for _ in range(1000):  # done (delivered or dropped for good), then acknowledged
            if await sms.redis.exists(GATEWAY_KEYS.outbox_done(outbox_id)) and \
                    (await sms.redis.xpending(GATEWAY_KEYS.outbox_stream,
                                              "senders"))["pending"] == 0:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the outbox entry was never acknowledged")
    finally:
        await sender.worker.stop()


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_stop_is_answered_once_by_twilio_and_the_gateway_records_it_silently(sms, caplog):
    user = "+15550001111"
    assert (await sms.text(user, " Stop "))["status"] == 200
    # Exactly one confirmation reaches the phone: Twilio's; ours would be refused.
    assert [(m["text"], m.get("by")) for m in await sms.transcript(user, "bot")] == [
        (TWILIO_STOP_TEXT, "twilio")]
    assert await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    await sms.http.post(f"{sms.sandbox}/_sandbox/redeliver", json={"user": user})
    await sms.text(user, "STOP")  # already out: nothing more
    await sms.text(user, "hello?")  # not taken while opted out
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [TWILIO_STOP_TEXT]
    assert await sms.inbound() == []

    # An agent's reply: not sent, not retried, and the log says why.
    with caplog.at_level(logging.WARNING, logger="bot.channels.sms.adapter"):
        await _outbox_delivers(sms, user, "Sorry about your order")
    assert "not sent: the number opted out of SMS" in caplog.text and user not in caplog.text
    assert await sms.redis.xlen(GATEWAY_KEYS.outbox_dead) == 0
    # Had our record lagged behind Twilio's list, Twilio's 21610 is taken the same way.
    await sms.redis.delete(SMS_KEYS.sms_opted_out(user))
    with caplog.at_level(logging.WARNING, logger="bot.channels.sms.adapter"):
        await _outbox_delivers(sms, user, "Sorry again")
    assert "Twilio reports the number unsubscribed (21610" in caplog.text
    assert await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [TWILIO_STOP_TEXT]

    await sms.text(user, "help")  # Twilio answers HELP, even while opted out; we do not
    await sms.text(user, "START")  # re-enables: Twilio confirms, the gateway records it
    assert not await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    await sms.text(user, "hello again")
    await _outbox_delivers(sms, user, "Welcome back")
    await sms.text(user, "Yes")  # an answer now, not a keyword
    texts = [m["text"] for m in await sms.transcript(user, "bot")]
    assert texts == [TWILIO_STOP_TEXT, TWILIO_HELP_TEXT, TWILIO_START_TEXT, "Welcome back"]
    assert not {OPT_OUT_TEXT, OPT_IN_TEXT, HELP_TEXT} & set(texts)
    assert [m.text for m in await sms.inbound()] == ["hello again", "Yes"]


async def test_yes_opts_back_in_while_opted_out(sms):
    user = "+15550001112"
    await sms.text(user, "QUIT")
    await sms.text(user, "yes")
    assert not await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [
        TWILIO_STOP_TEXT, TWILIO_START_TEXT]
    assert await sms.inbound() == []


async def test_with_own_keyword_replies_our_texts_are_the_ones_sent(own_replies):
    sms, user = own_replies, "+15550001113"
    assert (await sms.text(user, " Stop "))["status"] == 200
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [OPT_OUT_TEXT]
    assert await sms.redis.exists(SMS_KEYS.sms_opted_out(user))

    await sms.http.post(f"{sms.sandbox}/_sandbox/redeliver", json={"user": user})
    await sms.text(user, "STOP")  # already out: no second confirmation
    await sms.text(user, "hello?")  # not taken while opted out
    await sms.text(user, "yes")  # while opted out, YES opts back in
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [OPT_OUT_TEXT, OPT_IN_TEXT]
    assert not await sms.redis.exists(SMS_KEYS.sms_opted_out(user))

    await sms.text(user, "QUIT")
    await sms.channel.send(Recipient("c_1", user), bot_entry("a late answer"))  # dropped
    await sms.text(user, "help")  # HELP is answered even while opted out
    await sms.http.post(f"{sms.sandbox}/_sandbox/redeliver", json={"user": user})  # once only
    await sms.text(user, "START")
    await sms.text(user, "hello again")
    await sms.text(user, "Yes")  # an answer now, not a keyword
    texts = [m["text"] for m in await sms.transcript(user, "bot")]
    assert texts == [OPT_OUT_TEXT, OPT_IN_TEXT, OPT_OUT_TEXT, HELP_TEXT, OPT_IN_TEXT]
    assert all(m.get("by") != "twilio" for m in await sms.transcript(user, "bot"))
    assert [m.text for m in await sms.inbound()] == ["hello again", "Yes"]


async def test_a_numbered_reply_becomes_the_button_offered(sms):
    user = "+15550002222"
    await sms.channel.send(Recipient("c_1", user), bot_entry("Which one did you mean?", BUTTONS))
    [offer] = await sms.transcript(user, "bot")
    assert offer["text"].endswith("Reply 1 for Return policy, 2 for Start a return "
                                  "or 3 for Refund times.")
    assert offer["buttons"] == [] and (offer["segments"], offer["encoding"]) == (1, "GSM-7")
    assert 0 < await sms.redis.ttl(SMS_KEYS.sms_options(user)) <= 86400

    await sms.text(user, " 2 ")
    await sms.text(user, "4")
    await sms.text(user, "2 please")
    first, second, third = await sms.inbound()
    assert (first.button_payload, first.text) == (BUTTONS[1].payload, "Start a return")
    assert (second.button_payload, second.text) == (None, "4")
    assert (third.button_payload, third.text) == (None, "2 please")

    await sms.redis.delete(SMS_KEYS.sms_options(user))  # expired: a bare number is just text
    await sms.text(user, "1")
    assert (await sms.inbound())[-1].button_payload is None


async def test_a_picture_without_words_gets_a_polite_answer_and_is_not_taken(sms):
    user = "+15550003333"
    sent = await sms.text(user, "", media_url="https://example.test/photo.jpg")
    assert sent["status"] == 200
    await sms.http.post(f"{sms.sandbox}/_sandbox/redeliver", json={"user": user})
    assert [m["text"] for m in await sms.transcript(user, "bot")] == [MEDIA_ONLY_TEXT]
    assert await sms.inbound() == []
    await sms.text(user, "")  # an empty text: silently ignored
    assert len(await sms.transcript(user, "bot")) == 1 and await sms.inbound() == []


# =====================================================================================
# Outbound through the real twilio REST client against the sandbox
# =====================================================================================

async def test_send_plain_text_with_segment_info(sms):
    user = "+15550004444"
    await sms.channel.send(Recipient("c_1", user), bot_entry("**Hi!** Prices in € apply 😀"))
    [message] = await sms.transcript(user, "bot")
    assert message["text"] == "Hi! Prices in € apply 😀"
    assert (message["segments"], message["encoding"]) == (1, "UCS-2")


async def test_a_long_answer_goes_out_as_several_messages_of_at_most_ten_segments(sms):
    user = "+15550005555"
    text = "\n\n".join(f"Step {i}: " + "pack the item carefully and keep the receipt. " * 9
                       for i in range(12))
    await sms.channel.send(Recipient("c_1", user), bot_entry(text, BUTTONS[:2]))
    messages = await sms.transcript(user, "bot")
    assert len(messages) == len(render(bot_entry(text, BUTTONS[:2]))) >= 2
    assert all(m["segments"] <= 10 and len(m["text"]) <= 1600 for m in messages)
    assert messages[0]["text"].startswith("Step 0:")
    assert messages[-1]["text"].endswith("Reply 1 for Return policy or 2 for Start a return.")


async def test_429_becomes_a_retryable_error_with_retry_after(sms):
    user = "+15550006666"
    await sms.fail(429, retry_after=7)
    with pytest.raises(ChannelSendError) as exc:
        await sms.channel.send(Recipient("c_1", user), bot_entry("hello"))
    assert exc.value.retry_after == 7.0
    await sms.fail(429)
    with pytest.raises(ChannelSendError) as exc:
        await sms.channel.send(Recipient("c_1", user), bot_entry("hello"))
    assert exc.value.retry_after is None
    await sms.channel.send(Recipient("c_1", user), bot_entry("hello"))
    assert [m["text"] for m in await sms.transcript(user, "bot")] == ["hello"]


async def test_5xx_becomes_a_retryable_error(sms):
    await sms.fail(500)
    with pytest.raises(ChannelSendError) as exc:
        await sms.channel.send(Recipient("c_1", "+15550007777"), bot_entry("hello"))
    assert exc.value.retry_after is None
    await sms.fail(503)
    with pytest.raises(ChannelSendError):
        await sms.channel.send(Recipient("c_1", "+15550007777"), bot_entry("hello"))


async def test_a_network_failure_becomes_a_retryable_error(redis):
    settings = with_sandboxes(Settings(port=free_port(), sandbox_port=free_port(),
                                       session_secret=SESSION_SECRET))  # nothing listens there
    channel = SmsChannel(settings, redis)
    try:
        with pytest.raises(ChannelSendError, match="unreachable"):
            await channel.send(Recipient("c_1", PHONE), bot_entry("hello"))
    finally:
        await channel.close()


async def test_a_retry_of_a_split_message_does_not_resend_the_parts_already_sent(sms):
    user = "+15550008888"
    entry = bot_entry("\n\n".join(f"Part {i}. " + "word " * 250 for i in range(3)))
    assert len(render(entry)) == 3
    await sms.fail(500, after=1)  # the first part goes through, the second fails
    with pytest.raises(ChannelSendError):
        await sms.channel.send(Recipient("c_1", user), entry)
    await sms.channel.send(Recipient("c_1", user), entry)  # the outbox's retry
    texts = [m["text"] for m in await sms.transcript(user, "bot")]
    assert [t.split(".")[0] for t in texts] == ["Part 0", "Part 1", "Part 2"]


async def test_the_outbox_retries_through_429_and_delivers_once(sms):
    user = "+15550009999"
    sender = OutboxSender(sms.redis, {"sms": sms.channel}, concurrency=2, reclaim_idle_ms=60_000,
                          max_attempts=5, backoff_s=0.01, backoff_max_s=0.02)
    await sms.fail(429, times=2, retry_after=0)
    await sender.worker.start()
    try:
        await Outbox(sms.redis).enqueue("sms", Recipient("c_1", user), bot_entry("finally"))
        for _ in range(300):
            if await sms.transcript(user, "bot"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    finally:
        await sender.worker.stop()
    assert [m["text"] for m in await sms.transcript(user, "bot")] == ["finally"]


async def test_unsubscribed_at_the_carrier_marks_opted_out_and_drops(sms):
    user = "+15550001234"
    await sms.http.post(f"{sms.sandbox}/_sandbox/block", json={"user": user})
    await sms.channel.send(Recipient("c_1", user), bot_entry("hello"))  # 21610: no error
    assert await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    assert await sms.transcript(user, "bot") == []


async def test_other_4xx_are_logged_and_dropped(sms, caplog):
    with caplog.at_level(logging.ERROR, logger="bot.channels.sms.adapter"):
        await sms.channel.send(Recipient("c_1", "not-a-number"), bot_entry("hello"))
    assert "error 21211" in caplog.text
    wrong = SmsChannel(with_channels(sms.settings, twilio_auth_token=SecretStr("f" * 32)),
                       sms.redis)
    try:
        with caplog.at_level(logging.ERROR, logger="bot.channels.sms.adapter"):
            await wrong.send(Recipient("c_1", PHONE), bot_entry("hello"))
    finally:
        await wrong.close()
    assert "HTTP 401, error 20003" in caplog.text
    real_token = sms.settings.channels.twilio_auth_token.get_secret_value()
    assert "f" * 32 not in caplog.text and real_token not in caplog.text


# =====================================================================================
# The sandbox's Messages API speaks Twilio's wire format
# =====================================================================================

async def test_sandbox_messages_api(sms):
    sid = sms.settings.channels.twilio_account_sid
    url = f"{sms.sandbox}/2010-04-01/Accounts/{sid}/Messages.json"
    auth = (sid, sms.settings.channels.twilio_auth_token.get_secret_value())
    form = {"To": PHONE, "From": sms.settings.channels.twilio_from_number, "Body": "a" * 161}

    unauthenticated = await sms.http.post(url, data=form)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {"code": 20003, "message": "Authenticate",
                                      "more_info": "https://www.twilio.com/docs/errors/20003",
                                      "status": 401}
    assert (await sms.http.post(url, data=form, auth=(sid, "nope"))).status_code == 401

    created = await sms.http.post(url, data=form, auth=auth)
    assert created.status_code == 201
    body = created.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert (body["status"], body["num_segments"], body["to"], body["direction"]) == (
        "queued", "2", PHONE, "outbound-api")

    too_long = await sms.http.post(url, data=dict(form, Body="a" * 1601), auth=auth)
    assert (too_long.status_code, too_long.json()["code"]) == (400, 21617)

    await sms.fail(429, retry_after=3)
    limited = await sms.http.post(url, data=form, auth=auth)
    assert (limited.status_code, limited.json()["code"], limited.headers["retry-after"]) == (
        429, 20429, "3")


# =====================================================================================
# German: keywords, replies and segments
# =====================================================================================

GERMAN_HELP_TEXT = ("Brightside-Hilfe: Schreiben Sie uns Ihre Frage, wir antworten. Persönlich "
                    "erreichen Sie uns unter 0800 555 0142 oder help@brightside.example. "
                    "Abmelden mit STOP.")
GERMAN_OPT_OUT_TEXT = ("Sie erhalten keine Nachrichten von Brightside mehr. Antworten Sie START, "
                       "um sich wieder anzumelden.")


async def test_sms_hilfe_is_answered_in_german_by_the_gateway_while_twilio_answers_help(sms):
    """Twilio's opt-out handling knows HELP and STOP, not HILFE and STOPP: the
    gateway answers those itself, in German, and STOPP opts out like STOP."""
    user = "+4915550001"
    await sms.text(user, " Hilfe ")
    await sms.text(user, "HELP")  # Twilio's, as before
    await sms.text(user, "STOPP")
    await sms.text(user, "Wo ist meine Bestellung?")  # not taken: opted out
    replies = await sms.transcript(user, "bot")
    assert [(m["text"], m.get("by")) for m in replies] == [
        (GERMAN_HELP_TEXT, None), (TWILIO_HELP_TEXT, "twilio"), (GERMAN_OPT_OUT_TEXT, None)]
    # German stays GSM-7 (ä ö ü ß are in its alphabet): one segment, not three of UCS-2.
    assert (replies[0]["encoding"], replies[0]["segments"]) == ("GSM-7", 1)
    assert await sms.redis.exists(SMS_KEYS.sms_opted_out(user))
    assert await sms.inbound() == []
    await _outbox_delivers(sms, user, "Ihre Bestellung ist unterwegs")  # dropped: opted out
    assert len(await sms.transcript(user, "bot")) == 3


async def test_a_german_customer_gets_keyword_replies_and_numbered_options_in_german(
        own_replies):
    sms, user = own_replies, "+4915550002"
    customer_id = await IdentityStore(sms.redis).resolve("sms", user, None)
    await CustomerLanguages(sms.redis).choose(customer_id, "de", "customer")
    await sms.text(user, "HELP")  # an English keyword, a German customer: German
    await sms.channel.send(Recipient(customer_id, user), bot_entry(
        "Welche Frage meinten Sie?", (Button(title="Rückgabe", payload="/a"),
                                      Button(title="Größentabelle", payload="/b"),
                                      Button(title="Lieferzeiten", payload="/c"))))
    help_text, offer = await sms.transcript(user, "bot")
    assert help_text["text"] == GERMAN_HELP_TEXT
    assert offer["text"] == ("Welche Frage meinten Sie?\n\nAntworten Sie 1 für Rückgabe, "
                             "2 für Größentabelle oder 3 für Lieferzeiten.")
    assert (offer["encoding"], offer["segments"]) == ("GSM-7", 1)
    await sms.text(user, "2")
    [chosen] = await sms.inbound()
    assert (chosen.text, chosen.button_payload) == ("Größentabelle", "/b")


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    # ä ö ü ß Ä Ö Ü: one septet each, in the basic alphabet.
    ("Ihre Bestellung ist unterwegs. Größe 42, Farbe Weiß; Rückgabe innerhalb von 30 Tagen "
     "möglich. Öffnungszeiten: Mo-Fr 9-18 Uhr. Übrigens: Äpfel liefern wir nicht.",
     "GSM-7", 1),
    # 161 septets: two segments of 153.
    ("Sie können Ihre Bestellung innerhalb von 30 Tagen zurückgeben. Drucken Sie dazu das "
     "Rücksendeetikett aus und bringen Sie das Paket zur nächsten Filiale. Vielen Dank!",
     "GSM-7", 2),
    # The euro sign is in the extension table: two septets.
    ("Der Versand kostet 4,95 € und ist ab 50 € kostenlos.", "GSM-7", 1),
    # An emoji cannot be GSM-7: the whole text is UCS-2 (70 a segment).
    ("Vielen Dank für Ihre Bestellung! 😊 Wir melden uns, sobald das Paket unterwegs ist.",
     "UCS-2", 2),
])
def test_german_sms_segment_counts(text, encoding, segments):
    info = sms_info(text)
    assert (info.encoding, info.segments) == (encoding, segments)


def test_german_typography_is_transliterated_so_a_german_sms_stays_gsm7():
    answer = ("Bitte wählen Sie „Rücksendung“ – dann »Etikett drucken«… ‚Fertig‘. "
              "Bewertung: ★★★★★")
    [body] = render(bot_entry(answer))
    assert body == ('Bitte wählen Sie "Rücksendung" - dann "Etikett drucken"... \'Fertig\'. '
                    "Bewertung: *****")
    assert sms_info(body).encoding == "GSM-7"
    assert sms_info(answer).encoding == "UCS-2"  # what it would have cost as written


def test_every_german_handoff_and_sms_text_is_gsm7():
    """What the German catalogues say on SMS never forces UCS-2."""
    from babel.messages.pofile import read_po

    from core.i18n import catalogue_path

    sms_texts = {OPT_OUT_TEXT, OPT_IN_TEXT, HELP_TEXT, MEDIA_ONLY_TEXT, "{number} for {option}",
                 "Reply {option}.", "Reply {options} or {last}."}
    for domain, wanted in (("handoff", None), ("channels", sms_texts)):
        with catalogue_path(domain, "de").open("rb") as f:
            catalog = read_po(f)
        for message in catalog:
            if message.id and (wanted is None or message.id in wanted):
                assert sms_info(plain(str(message.string))).encoding == "GSM-7", message.string
