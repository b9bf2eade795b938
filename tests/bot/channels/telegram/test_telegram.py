"""The Telegram channel: pure to_inbound/render on recorded payloads, and the
real aiogram client and webhook route against the Telegram sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.types import Update
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.channels.base import ChannelSendError, Recipient
from bot.channels.telegram.adapter import TelegramChannel, make_bot
from bot.channels.telegram.parse import (
    MAX_UPDATE_BYTES,
    NON_TEXT_REPLY,
    SECRET_HEADER,
    WEBHOOK_PATH,
    DirectReply,
    parse_update,
    to_inbound,
)
from bot.channels.telegram.render import (
    MAX_MESSAGE_CHARS,
    callback_data,
    markdown_to_telegram_html,
    render,
    render_parts,
    utf16_len,
)
from bot.channels.telegram.routes import poll_forever, router, set_webhook
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.gateway.inbound import InboundStream
from bot.gateway.keys import GATEWAY_KEYS
from core.models import Button, InboundMessage, TranscriptEntry
from core.redis import text_client
from core.settings import Settings, with_channels, with_sandboxes
from sandbox import telegram as tg_sandbox
from sandbox.telegram import parse_html
from tests.bodies import CHUNK, CountingBody
from tests.conftest import SESSION_SECRET, free_port, serve

PAYLOADS = Path(__file__).parent / "payloads"
LONG_PAYLOAD = '/request_human{"reason":"' + "x" * 80 + '"}'


def update(name: str):
    return parse_update((PAYLOADS / f"{name}.json").read_bytes())


def entry(text: str, buttons: tuple[Button, ...] = (), id: str = "") -> TranscriptEntry:
    return TranscriptEntry(id=id, channel="telegram", author="bot", text=text, buttons=buttons)


# -- to_inbound on recorded payloads ---------------------------------------------------


def test_a_text_message_becomes_an_inbound_message():
    message = to_inbound(update("text"))
    assert isinstance(message, InboundMessage)
    assert (message.channel, message.channel_user_id, message.external_id) == (
        "telegram", "5120344871", "727563912")
    assert message.text == "How do I cancel my order?"
    assert message.button_payload is None
    assert (message.display_name, message.locale) == ("Ana Lopes", "pt-br")


def test_start_and_help_commands_become_text_the_assistant_understands():
    assert to_inbound(update("start_command")).text == "hello"
    assert to_inbound(update("help_command")).text == "what can you do"  # "/help@bot" too


def test_a_pressed_button_carries_its_payload_and_title():
    message = to_inbound(update("callback_query"))
    assert message.external_id == "cb:2199063781450871062"
    assert message.button_payload == '/choose_article{"article_id":"cancel-order"}'
    assert message.text == "Cancel an order"  # the title, from the message's keyboard
    assert message.channel_user_id == "5120344871"


def test_a_long_payload_comes_back_from_the_stash_and_survives_its_expiry():
    pressed = update("callback_query_long_payload")
    message = to_inbound(pressed, stash={"3q2-7wEAAAAgZXhhbXBs": LONG_PAYLOAD})
    assert (message.button_payload, message.text) == (LONG_PAYLOAD, "Talk to a person")
    expired = to_inbound(pressed, stash={})
    assert (expired.button_payload, expired.text) == (None, "Talk to a person")


def test_a_button_on_a_message_too_old_to_include_still_works():
    message = to_inbound(update("callback_query_inaccessible_message"))
    assert message.button_payload == "/affirm" and message.channel_user_id == "5120344871"


@pytest.mark.parametrize("name", ["sticker", "voice", "photo_with_caption", "document"])
def test_what_we_cannot_read_gets_a_direct_reply(name):
    assert to_inbound(update(name)) == DirectReply(5120344871, NON_TEXT_REPLY)


@pytest.mark.parametrize("name", ["edited_message", "group_message", "empty_text",
                                  "my_chat_member", "unknown_type", "pinned_service_message"])
def test_edits_groups_empty_text_service_messages_and_unknown_types_are_ignored(name):
    assert to_inbound(update(name)) is None


def test_a_message_longer_than_the_limit_is_answered_not_enqueued():
    data = json.loads((PAYLOADS / "text.json").read_text())
    data["message"]["text"] = "word " * 1000
    reply = to_inbound(parse_update(json.dumps(data).encode()), max_chars=2000)
    assert isinstance(reply, DirectReply) and "too long" in reply.text


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"hello"',
                                  (PAYLOADS / "malformed_update.json").read_bytes(),
                                  b'{"update_id": 1, "message": {"message_id": "x"}}'])
def test_a_malformed_update_is_a_clear_bad_input(body):
    from bot import BadInput

    with pytest.raises(BadInput) as caught:
        parse_update(body)
    assert caught.value.code == "malformed_update" and caught.value.message


# -- rendering ------------------------------------------------------------------------------


def test_customer_visible_text_is_escaped_and_markdown_becomes_telegram_html():
    out = markdown_to_telegram_html(
        "# Returns & refunds\n\nUse <script>alert('x')</script> & **bold _both_** *em* "
        "`a<b && c`\n\n- one\n- two\n\n3. three\n4. four\n\n> a quote")
    assert out == (
        "<b>Returns &amp; refunds</b>\n\n"
        "Use &lt;script&gt;alert('x')&lt;/script&gt; &amp; <b>bold <i>both</i></b> <i>em</i> "
        "<code>a&lt;b &amp;&amp; c</code>\n\n"
        "• one\n• two\n\n"
        "3. three\n4. four\n\n"
        "▍ a quote")
    parse_html(out)


def test_only_safe_link_schemes_become_links():
    out = markdown_to_telegram_html(
        "[web](https://brightside.example/returns?a=1&b=2) [mail](mailto:help@example.com) "
        "[call](tel:+441234567) [evil](javascript:alert(1)) [data](data:text/html,x) "
        '[quote](https://e.com/"onclick=x)')
    assert '<a href="https://brightside.example/returns?a=1&amp;b=2">web</a>' in out
    assert '<a href="mailto:help@example.com">mail</a>' in out
    assert '<a href="tel:+441234567">call</a>' in out
    assert "javascript" not in re.findall(r'href="([^"]*)"', out).__str__()
    assert "[evil](javascript:alert(1))" in out and "data:" not in "".join(
        re.findall(r'href="([^"]*)"', out))
    _plain, entities = parse_html(out)
    assert [e["url"] for e in entities if e["type"] == "text_link"][-1].startswith(
        "https://e.com/")


def test_code_never_nests_inside_bold_or_links_and_code_blocks_keep_their_language():
    out = markdown_to_telegram_html(
        "**bold `code`** [link `code`](https://x.example)\n\n```python\nif a < b:\n    pass\n```")
    assert "<b>bold </b><code>code</code>" in out
    assert '<a href="https://x.example">link code</a>' in out
    assert '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>' in out
    parse_html(out)


def test_random_markdown_always_renders_to_html_telegram_can_parse():
    rng = random.Random(20240612)
    pieces = ["word", "**", "*", "_", "`", "```", "~~", "<", ">", "&", "&amp;", "[", "](",
              ")", "https://e.com/?q=<x>&y", "javascript:x", "\n", "\n\n", "- ", "1. ", "> ",
              "# ", "😀", "\"", "'", "   ", "<b>", "</i>", "\\", "![", "|", "&#x27;"]
    for _ in range(400):
        text = "".join(rng.choice(pieces) + rng.choice(["", " "])
                       for _ in range(rng.randint(1, 60)))
        for part in render_parts(text, limit=rng.choice([40, 200, MAX_MESSAGE_CHARS])):
            parse_html(part)
            assert part.strip()


def test_long_messages_split_between_paragraphs_first():
    paragraphs = [f"Paragraph {i}: " + " ".join(f"w{i}x{j}" for j in range(60))
                  for i in range(40)]
    parts = render_parts("\n\n".join(paragraphs))
    assert len(parts) > 1
    assert all(utf16_len(p) <= MAX_MESSAGE_CHARS for p in parts)
    for paragraph in paragraphs:  # never cut inside a paragraph when blocks fit
        assert sum(paragraph in p for p in parts) == 1


def test_a_paragraph_longer_than_a_message_splits_between_words_and_keeps_its_tags():
    words = [f"word{i}" for i in range(1500)]
    parts = render_parts("**" + " ".join(words) + "**")
    assert len(parts) >= 3
    for part in parts:
        assert utf16_len(part) <= MAX_MESSAGE_CHARS
        assert part.startswith("<b>") and part.endswith("</b>")
        parse_html(part)
    seen = " ".join(parse_html(p)[0] for p in parts).split()
    assert seen == words


def test_code_blocks_split_between_lines_each_part_a_whole_pre():
    lines = [f"line {i} <tag> & more" for i in range(600)]
    parts = render_parts("```\n" + "\n".join(lines) + "\n```")
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("<pre>") and part.endswith("</pre>")
        assert utf16_len(part) <= MAX_MESSAGE_CHARS
    assert "\n".join(parse_html(p)[0] for p in parts).split("\n") == lines


def test_a_huge_word_and_emoji_are_cut_by_utf16_length_without_breaking_entities():
    parts = render_parts("&" * 5000)  # each & is 5 characters of HTML
    assert all(utf16_len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert "".join(parse_html(p)[0] for p in parts) == "&" * 5000
    emoji = render_parts("😀" * 5000)  # 2 UTF-16 units each
    assert all(utf16_len(p) <= MAX_MESSAGE_CHARS for p in emoji)
    assert "".join(emoji) == "😀" * 5000


def test_buttons_go_on_the_last_part_and_long_payloads_are_stashed():
    short = Button(title="Return policy", payload='/choose_article{"article_id":"return-policy"}')
    long = Button(title="Talk to a person", payload=LONG_PAYLOAD)
    rendered = render(entry("A paragraph.\n\n" * 800, (short, long)))
    assert len(rendered.parts) > 1
    assert all(p.reply_markup is None for p in rendered.parts[:-1])
    rows = rendered.parts[-1].reply_markup.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [["Return policy"], ["Talk to a person"]]
    assert rows[0][0].callback_data == "p:" + short.payload
    data, token = callback_data(LONG_PAYLOAD)
    assert rows[1][0].callback_data == data == "k:" + token
    assert rendered.stash == {token: LONG_PAYLOAD}
    for payload in ("é" * 40, "x" * 62, "x" * 63):  # bytes, not characters, count
        assert len(callback_data(payload)[0].encode()) <= 64


def test_buttons_without_text_still_get_a_message_to_sit_on():
    rendered = render(entry("", (Button(title="Yes", payload="/affirm"),)))
    assert len(rendered.parts) == 1 and rendered.parts[0].text
    assert render(entry("   ")).parts == ()


# -- against the sandbox --------------------------------------------------------------------


@dataclass
class Env:
    settings: Settings
    channel: TelegramChannel
    redis: Redis
    sandbox: httpx.AsyncClient  # the sandbox's control API and Bot API
    gateway: httpx.AsyncClient

    async def sb(self, path: str, **body) -> dict:
        response = await self.sandbox.post(f"/telegram/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def transcript(self, user: str) -> list[dict]:
        return (await self.sandbox.get("/telegram/_sandbox/transcript",
                                       params={"user": user})).json()

    async def inbound(self) -> list[InboundMessage]:
        entries = await self.redis.xrange(GATEWAY_KEYS.inbound_stream)
        return [InboundMessage.model_validate_json(fields["m"]) for _, fields in entries]

    async def chat_id(self, user: str) -> str:
        """The user opens the chat (as on Telegram, the user writes first)."""
        await self.sb("send", user=user, text="/start")
        return (await self.inbound())[-1].channel_user_id


def sandbox_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.http = httpx.AsyncClient(timeout=10)
        yield
        await app.state.http.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(tg_sandbox.router, prefix="/telegram")
    return app


def gateway_app(settings: Settings, redis: Redis, channels: dict) -> FastAPI:
    app = FastAPI()
    # The webhook routes use only these of the gateway's services.
    app.state.services = SimpleNamespace(settings=settings, redis=redis,
                                         inbound=InboundStream(redis), channels=channels)
    app.include_router(router)
    return app


@pytest.fixture(scope="module")
async def env(redis_server) -> AsyncIterator[Env]:
    settings = with_sandboxes(Settings(redis_url=f"{redis_server}/1", port=free_port(),
                                       sandbox_port=free_port(), session_secret=SESSION_SECRET))
    redis = text_client(settings.effective_redis_url)
    channel = TelegramChannel(settings, redis)
    async with (serve(sandbox_app(settings), settings.sandbox_port),
                serve(gateway_app(settings, redis, {"telegram": channel}), settings.port),
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.sandbox_port}") as sb,
                httpx.AsyncClient(base_url=settings.base_url) as gw):
        yield Env(settings, channel, redis, sb, gw)
    await channel.close()
    await redis.aclose()


@pytest.fixture
async def tg(env: Env, redis) -> Env:  # `redis` empties db 1 for the test
    await env.sb("reset")
    return env


async def test_a_user_message_reaches_the_inbound_stream(tg: Env):
    sent = await tg.sb("send", user="ana", text="Where is my parcel?", first_name="Ana",
                       last_name="Lopes")
    assert sent["status"] == 200
    [message] = await tg.inbound()
    assert message.channel == "telegram" and message.text == "Where is my parcel?"
    assert message.external_id == str(sent["update_id"])
    assert message.display_name == "Ana Lopes" and message.channel_user_id.isdigit()


async def test_a_redelivered_update_is_enqueued_with_the_same_external_id(tg: Env):
    await tg.sb("send", user="ana", text="hello")
    again = await tg.sb("redeliver", user="ana")
    assert again["status"] == 200
    first, second = await tg.inbound()
    assert first.external_id == second.external_id  # the router keeps only one


async def test_forged_requests_are_refused_before_the_body_is_parsed(tg: Env):
    good = (PAYLOADS / "text.json").read_bytes()
    secret = tg.settings.channels.telegram_webhook_secret.get_secret_value()
    for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: secret + "x"},
                    {SECRET_HEADER: secret[:-1]}):
        for body in (good, b"{garbage"):  # 403 even for a malformed body: never parsed
            response = await tg.gateway.post(WEBHOOK_PATH, content=body, headers=headers)
            assert response.status_code == 403, headers
    assert await tg.inbound() == []


async def test_malformed_updates_get_a_clear_400_and_change_nothing(tg: Env):
    headers = {SECRET_HEADER: tg.settings.channels.telegram_webhook_secret.get_secret_value()}
    for body in (b"{garbage", (PAYLOADS / "malformed_update.json").read_bytes(), b"[]"):
        response = await tg.gateway.post(WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 400 and response.json()["detail"]
    too_big = await tg.gateway.post(WEBHOOK_PATH, content=b" " * (2 << 20), headers=headers)
    assert too_big.status_code == 413
    assert await tg.inbound() == []
    ok = await tg.gateway.post(WEBHOOK_PATH, content=(PAYLOADS / "text.json").read_bytes(),
                               headers=headers)
    assert ok.status_code == 200 and len(await tg.inbound()) == 1


async def test_a_chunked_oversized_update_is_refused_with_413_after_reading_at_most_the_limit(
        tg: Env):
    secret = tg.settings.channels.telegram_webhook_secret.get_secret_value()
    app = gateway_app(tg.settings, tg.redis, {"telegram": tg.channel})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                 base_url="http://gw") as client:
        lying = CountingBody(5 << 20, prefix=b'{"update_id": 1, "x": "')
        too_big = await client.post(WEBHOOK_PATH, content=lying, headers={
            SECRET_HEADER: secret, "Content-Length": "100"})
        unmeasured = CountingBody(5 << 20)
        no_length = await client.post(WEBHOOK_PATH, content=unmeasured,
                                      headers={SECRET_HEADER: secret})
    assert too_big.status_code == 413 and lying.pulled <= MAX_UPDATE_BYTES + CHUNK
    assert no_length.status_code == 411 and unmeasured.pulled == 0
    assert await tg.inbound() == []


async def test_the_route_is_404_while_telegram_is_not_enabled(tg: Env):
    app = gateway_app(tg.settings, tg.redis, {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                 base_url="http://gw") as client:
        response = await client.post(WEBHOOK_PATH, content=b"{}", headers={
            SECRET_HEADER: tg.settings.channels.telegram_webhook_secret.get_secret_value()})
    assert response.status_code == 404


async def test_group_messages_and_edits_are_acknowledged_and_ignored(tg: Env):
    assert (await tg.sb("send", user="ana", text="hi all", kind="group"))["status"] == 200
    await tg.sb("send", user="ana", text="helo")
    assert (await tg.sb("send", user="ana", text="hello", kind="edit"))["status"] == 200
    assert [m.text for m in await tg.inbound()] == ["helo"]


async def test_a_sticker_gets_one_direct_reply_even_when_redelivered(tg: Env):
    assert (await tg.sb("send", user="ana", kind="sticker"))["status"] == 200
    assert (await tg.sb("redeliver", user="ana"))["status"] == 200
    assert await tg.inbound() == []
    lines = await tg.transcript("ana")
    assert [(x["from"], x["text"]) for x in lines] == [("user", "[sticker]"),
                                                        ("bot", NON_TEXT_REPLY)]


async def test_buttons_round_trip_and_the_callback_is_answered(tg: Env):
    chat = await tg.chat_id("ana")
    buttons = (Button(title="Return policy", payload='/choose_article{"article_id":"returns"}'),
               Button(title="Talk to a person", payload=LONG_PAYLOAD))
    await tg.channel.send(Recipient("c_1", chat), entry("Did you mean **one** of these?",
                                                        buttons, id="1-0"))
    bot_line = (await tg.transcript("ana"))[-1]
    assert bot_line["from"] == "bot" and bot_line["text"] == "Did you mean one of these?"
    assert bot_line["buttons"] == ["Return policy", "Talk to a person"]

    short = await tg.sb("press", user="ana", message_id=bot_line["id"], index=0)
    long = await tg.sb("press", user="ana", message_id=bot_line["id"], index=1)
    assert short["status"] == long["status"] == 200
    pressed = (await tg.inbound())[1:]
    assert [(m.text, m.button_payload, m.external_id) for m in pressed] == [
        ("Return policy", buttons[0].payload, "cb:" + short["callback_query_id"]),
        ("Talk to a person", LONG_PAYLOAD, "cb:" + long["callback_query_id"])]
    answered = (await tg.sandbox.get("/telegram/_sandbox/callbacks")).json()
    assert answered == {short["callback_query_id"]: True, long["callback_query_id"]: True}


async def test_a_failed_callback_answer_does_not_fail_the_webhook(tg: Env):
    chat = await tg.chat_id("ana")
    await tg.channel.send(Recipient("c_1", chat), entry("Sure?", (Button(title="Yes",
                                                                         payload="/affirm"),)))
    bot_line = (await tg.transcript("ana"))[-1]
    await tg.sb("fail", status=500, times=1)
    pressed = await tg.sb("press", user="ana", message_id=bot_line["id"], index=0)
    assert pressed["status"] == 200
    assert (await tg.inbound())[-1].button_payload == "/affirm"


async def test_send_splits_long_markdown_with_buttons_on_the_last_part(tg: Env):
    chat = await tg.chat_id("ana")
    paragraphs = [f"**Step {i}.** " + "Open *My orders* & choose <Cancel>. " * 12
                  for i in range(30)]
    await tg.channel.send(Recipient("c_1", chat), entry(
        "\n\n".join(paragraphs), (Button(title="Done", payload="/affirm"),), id="2-0"))
    bot = [x for x in await tg.transcript("ana") if x["from"] == "bot"]
    assert len(bot) > 1
    assert [bool(x["buttons"]) for x in bot] == [False] * (len(bot) - 1) + [True]
    text = "\n\n".join(x["text"] for x in bot)
    assert all(p.replace("*", "").strip() in text for p in paragraphs)


async def test_429_becomes_a_retry_after_and_5xx_a_retryable_error(tg: Env):
    chat = await tg.chat_id("ana")
    await tg.sb("fail", status=429, times=1, retry_after=7)
    with pytest.raises(ChannelSendError) as limited:
        await tg.channel.send(Recipient("c_1", chat), entry("one"))
    assert limited.value.retry_after == 7
    await tg.sb("fail", status=500, times=1)
    with pytest.raises(ChannelSendError) as down:
        await tg.channel.send(Recipient("c_1", chat), entry("two"))
    assert down.value.retry_after is None
    await tg.channel.send(Recipient("c_1", chat), entry("three"))
    assert [x["text"] for x in await tg.transcript("ana") if x["from"] == "bot"] == ["three"]


async def test_an_unreachable_telegram_is_a_retryable_error(tg: Env):
    settings = with_channels(tg.settings,
                             telegram_api_base=f"http://127.0.0.1:{free_port()}/telegram")
    channel = TelegramChannel(settings, tg.redis)
    try:
        with pytest.raises(ChannelSendError) as caught:
            await channel.send(Recipient("c_1", "700000001"), entry("hello"))
        assert tg.settings.channels.telegram_bot_token.get_secret_value() not in str(caught.value)
    finally:
        await channel.close()


async def test_a_retry_after_a_failed_part_does_not_resend_the_parts_that_went_out(tg: Env):
    chat = await tg.chat_id("ana")
    long = entry("\n\n".join(f"Paragraph {i} " + "x " * 1500 for i in range(3)), id="3-0")
    assert len(render(long).parts) == 3
    await tg.sb("fail", status=429, times=1, retry_after=1, after=1)  # part 2 fails
    with pytest.raises(ChannelSendError):
        await tg.channel.send(Recipient("c_1", chat), long)
    await tg.channel.send(Recipient("c_1", chat), long)  # the outbox's retry
    bot = [x["text"] for x in await tg.transcript("ana") if x["from"] == "bot"]
    assert [t.split(" ", 2)[:2] for t in bot] == [["Paragraph", "0"], ["Paragraph", "1"],
                                                   ["Paragraph", "2"]]


async def test_a_user_who_blocked_the_bot_is_dropped_without_an_error(tg: Env):
    chat = await tg.chat_id("ana")
    await tg.sb("block", user="ana")
    await tg.channel.send(Recipient("c_1", chat), entry("are you there?"))  # no raise
    assert [x for x in await tg.transcript("ana") if x["from"] == "bot"] == []


async def test_typing_sends_a_chat_action_and_never_raises(tg: Env):
    chat = await tg.chat_id("ana")
    await tg.channel.typing(Recipient("c_1", chat), True)
    await tg.channel.typing(Recipient("c_1", chat), False)
    calls = (await tg.sandbox.get("/telegram/_sandbox/calls")).json()
    assert [c["params"]["action"] for c in calls if c["method"] == "sendChatAction"] == ["typing"]
    await tg.sb("fail", status=500, times=1)
    await tg.channel.typing(Recipient("c_1", chat), True)  # swallowed
    await tg.channel.typing(Recipient("c_1", chat), False)
    await tg.channel.notice(Recipient("c_1", chat), "warning", "delay")  # a no-op


async def test_the_sandbox_checks_the_token_and_parses_html_like_telegram(tg: Env):
    wrong = with_channels(tg.settings, telegram_bot_token=SecretStr("1:wrong"))
    bot = make_bot(wrong)
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    finally:
        await bot.session.close()
    chat = await tg.chat_id("ana")
    token = tg.settings.channels.telegram_bot_token.get_secret_value()
    url = f"/telegram/bot{token}/sendMessage"
    bad = await tg.sandbox.post(url, json={"chat_id": chat, "text": "<b>x", "parse_mode": "HTML"})
    assert bad.status_code == 400 and "can't parse entities" in bad.json()["description"]
    too_long = await tg.sandbox.post(url, data={"chat_id": chat, "text": "x" * 4097})
    assert too_long.status_code == 400 and too_long.json()["description"].endswith("too long")
    multipart = await tg.sandbox.post(url, files={"chat_id": (None, chat),
                                                  "text": (None, "<i>hi</i>"),
                                                  "parse_mode": (None, "HTML")})
    assert multipart.json()["result"]["entities"] == [
        {"offset": 0, "length": 2, "type": "italic"}]


async def test_set_webhook_registers_our_url_secret_and_update_types(tg: Env):
    url = tg.settings.base_url + WEBHOOK_PATH
    await set_webhook(tg.settings, url)
    bot = make_bot(tg.settings)
    try:
        info = await bot.get_webhook_info()
    finally:
        await bot.session.close()
    assert info.url == url
    assert info.allowed_updates == ["message", "edited_message", "callback_query"]
    assert (await tg.sb("send", user="ana", text="hi"))["status"] == 200  # the secret matches


@pytest.mark.slow  # a long-poll round trip: in make test, not test-fast
async def test_long_polling_feeds_the_same_path_once_per_update(tg: Env):
    poller = asyncio.create_task(poll_forever(tg.settings, InboundStream(tg.redis), tg.redis,
                                              poll_timeout=1))
    try:
        for _ in range(100):  # the poller deletes the webhook first
            info = (await tg.sandbox.get(
                f"/telegram/bot{tg.settings.channels.telegram_bot_token.get_secret_value()}"
                "/getWebhookInfo")).json()["result"]
            if info["url"] == "":
                break
            await asyncio.sleep(0.05)
        first = await tg.sb("send", user="bo", text="hello from polling")
        await tg.sb("send", user="bo", kind="voice")
        second = await tg.sb("send", user="bo", text="/help")
        assert first.get("queued") and second.get("queued")
        for _ in range(200):
            if len(await tg.inbound()) >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing arrives twice
        assert [(m.text, m.external_id) for m in await tg.inbound()] == [
            ("hello from polling", str(first["update_id"])),
            ("what can you do", str(second["update_id"]))]
        replies = [x["text"] for x in await tg.transcript("bo") if x["from"] == "bot"]
        assert replies == [NON_TEXT_REPLY]  # the voice message, answered directly
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller


def test_callback_data_that_is_not_on_the_messages_keyboard_is_not_a_button_press():
    data = json.loads((PAYLOADS / "callback_query.json").read_text())
    data["callback_query"]["data"] = "p:/request_human"  # never offered on that message
    forged = Update.model_validate(data)
    assert to_inbound(forged) is None
    data["callback_query"]["message"].pop("reply_markup", None)  # a message without buttons
    assert to_inbound(Update.model_validate(data)) is None


async def test_a_forged_callback_data_with_a_payload_never_offered_is_answered_not_pressed(
        tg: Env):
    chat = await tg.chat_id("ana")
    await tg.channel.send(Recipient("c_1", chat), entry("Sure?", (Button(title="Yes",
                                                                         payload="/affirm"),)))
    bot_line = (await tg.transcript("ana"))[-1]
    before = len(await tg.inbound())
    for data in ("p:/request_human", 'p:/choose_article{"article_id":"x"}', "k:nothing"):
        forged = await tg.sb("press", user="ana", message_id=bot_line["id"], index=0,
                             data=data)
        assert forged["status"] == 200
        answered = (await tg.sandbox.get("/telegram/_sandbox/callbacks")).json()
        assert answered[forged["callback_query_id"]] is True  # the spinner stops
    assert len(await tg.inbound()) == before  # but nothing was pressed
    pressed = await tg.sb("press", user="ana", message_id=bot_line["id"], index=0)
    assert pressed["status"] == 200
    assert (await tg.inbound())[-1].button_payload == "/affirm"


async def test_a_german_telegram_user_gets_the_direct_replies_in_german(tg: Env):
    """Before the customer has a language of their own, Telegram's language_code
    decides; once they have one, theirs does."""
    await tg.sb("send", user="jonas", kind="sticker", language_code="de")
    await tg.sb("send", user="jonas", text="/share_phone")
    lines = await tg.transcript("jonas")
    assert [(x["from"], x["text"]) for x in lines][1] == (
        "bot", "Ich kann bisher nur Textnachrichten lesen.")
    prompt = lines[-1]
    assert prompt["text"].startswith("Um diesen Chat mit Ihrer SMS-Unterhaltung zu verbinden")
    assert "Meine Telefonnummer teilen" in json.dumps(prompt, ensure_ascii=False)
    # An English app, a customer who chose German: German.
    chat = await tg.chat_id("lena")
    customer_id = await IdentityStore(tg.redis).resolve("telegram", chat, None)
    await CustomerLanguages(tg.redis).choose(customer_id, "de", "customer")
    await tg.sb("send", user="lena", kind="voice", language_code="en")
    assert (await tg.transcript("lena"))[-1]["text"] == "Ich kann bisher nur Textnachrichten lesen."
    # An English user is answered as before.
    await tg.sb("send", user="ana", kind="photo")
    assert (await tg.transcript("ana"))[-1]["text"] == NON_TEXT_REPLY
