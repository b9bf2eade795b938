"""The Slack channel: pure mapping and rendering on recorded payloads, then the
real slack-bolt / slack-sdk adapter behind a real gateway route, talking to
the Slack sandbox over HTTP (both served by uvicorn in this process)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import BadInput
from bot.channels.base import ChannelSendError, Recipient
from bot.channels.slack.adapter import SlackChannel
from bot.channels.slack.keys import SLACK_KEYS
from bot.channels.slack.parse import (
    EVENTS_PATH,
    MAX_BODY_BYTES,
    REPLAY_WINDOW_S,
    reply_target,
    slack_to_text,
    to_inbound,
)
from bot.channels.slack.render import (
    BUTTON_TEXT_LIMIT,
    SECTION_LIMIT,
    mark_chosen,
    markdown_to_mrkdwn,
    render,
    split_mrkdwn,
)
from bot.channels.slack.routes import router
from bot.gateway.inbound import InboundStream
from bot.gateway.keys import GATEWAY_KEYS
from bot.gateway.services import Services
from core.models import Button, InboundMessage, TranscriptEntry
from core.redis import text_client
from core.settings import Settings, with_channels, with_sandboxes
from sandbox import slack as slack_sandbox
from tests.bodies import CHUNK, CountingBody
from tests.conftest import SESSION_SECRET, free_port, serve

PAYLOADS = Path(__file__).parent / "payloads"
ALICE, ALICE_DM = slack_sandbox.user_ids("alice")


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def bot_entry(text: str, buttons: tuple[Button, ...] = ()) -> TranscriptEntry:
    return TranscriptEntry(channel="slack", author="bot", text=text, buttons=buttons)


# -- to_inbound on recorded payloads ---------------------------------------------


def test_a_dm_becomes_an_inbound_message_keyed_by_the_event_id():
    message = to_inbound(payload("message_im.json"), max_chars=2000)
    assert message == InboundMessage(channel="slack", channel_user_id="U0ALICE5F2B",
                                     external_id="Ev0A1B2C3D4E", text="Where is my order?",
                                     received_at=message.received_at)
    assert reply_target(payload("message_im.json")).channel == "D0ALICE5F2B"
    assert reply_target(payload("message_im.json")).thread_ts is None


def test_slack_markup_in_customer_text_becomes_plain_words():
    message = to_inbound(payload("message_im_markup.json"), max_chars=2000)
    assert message.text == ("Is this order (https://shop.example/orders?id=1&x=2) ok for @bob? "
                            "<3 & see #general @here https://shop.example alice@example.com")


def test_a_mention_loses_our_mention_and_is_answered_in_a_thread():
    body = payload("app_mention.json")
    assert to_inbound(body, max_chars=2000).text == "what is your return policy?"
    assert reply_target(body).channel == "C0GENERAL"
    assert reply_target(body).thread_ts == "1767225700.000400"  # a thread on the mention

    in_thread = payload("app_mention_in_thread.json")
    assert to_inbound(in_thread, max_chars=2000).text == "thanks and for sale items?"
    assert reply_target(in_thread).thread_ts == "1767225700.000400"  # the same thread


def test_a_mention_without_authorizations_still_loses_the_leading_mention():
    body = payload("app_mention.json")
    del body["authorizations"]
    assert to_inbound(body, max_chars=2000).text == "what is your return policy?"


def test_a_dm_in_a_thread_is_answered_in_that_thread():
    assert reply_target(payload("message_im_in_thread.json")).thread_ts == "1767225600.000100"


@pytest.mark.parametrize("name", [
    "message_changed.json", "message_deleted.json", "bot_message_own.json",
    "bot_message_subtype.json", "channel_join.json", "app_home_opened.json",
    "url_verification.json", "app_mention_in_dm.json", "block_actions_foreign.json",
])
def test_what_is_not_a_customer_speaking_is_ignored(name):
    assert to_inbound(payload(name), max_chars=2000) is None


def test_a_file_with_text_keeps_the_text_and_a_file_alone_gets_an_explanation():
    assert to_inbound(payload("file_share_with_text.json"), max_chars=2000).text == \
        "Here is the receipt"
    with pytest.raises(BadInput) as info:
        to_inbound(payload("file_share_no_text.json"), max_chars=2000)
    assert info.value.code == "unsupported"


def test_empty_and_too_long_messages_are_bad_input():
    with pytest.raises(BadInput) as info:
        to_inbound(payload("message_empty.json"), max_chars=2000)
    assert info.value.code == "empty"
    body = payload("message_im.json")
    body["event"]["text"] = "x" * 2001
    with pytest.raises(BadInput) as info:
        to_inbound(body, max_chars=2000)
    assert info.value.code == "too_long"


def test_a_malformed_payload_is_ignored_not_a_crash():
    for body in ({}, {"type": "event_callback"}, {"type": "event_callback", "event": {}},
                 {"type": "block_actions", "actions": []}, {"type": "block_actions"}):
        assert to_inbound(body, max_chars=2000) is None


def test_a_button_press_carries_the_payload_and_the_title():
    message = to_inbound(payload("block_actions.json"), max_chars=2000)
    assert message.button_payload == '/choose_article{"article_id":"return-policy"}'
    assert message.text == "Return policy"
    assert message.external_id == "act:1767225901.345678U0ALICE5F2B"
    assert reply_target(payload("block_actions.json")).channel == "D0ALICE5F2B"


def test_a_button_without_value_arrives_as_its_text():
    message = to_inbound(payload("block_actions_no_value.json"), max_chars=2000)
    assert message.button_payload is None and message.text == "Shipping times"


def test_a_press_in_a_thread_is_answered_in_that_thread():
    target = reply_target(payload("block_actions_in_thread.json"))
    assert (target.channel, target.thread_ts) == ("C0GENERAL", "1767225700.000400")


def test_slack_to_text_decodes_entities_once():
    assert slack_to_text("&amp;lt; is how you write &lt;") == "&lt; is how you write <"
    assert slack_to_text("<!subteam^S0TEAM|@support> <!date^1392734382^{date}|Feb 18>") == \
        "@support Feb 18"


# -- rendering ---------------------------------------------------------------------


def test_markdown_becomes_mrkdwn():
    text = markdown_to_mrkdwn("# Returns\nYou have **30 days** to return *unworn* items, "
                              "~~not~~ `code`.\n\n- one\n- two\n  1. nested\n\n> quoted")
    assert text == ("*Returns*\n\nYou have *30 days* to return _unworn_ items, ~not~ `code`.\n\n"
                    "• one\n• two\n    1. nested\n\n> quoted")


def test_links_are_slack_links_only_for_web_and_mail():
    text = markdown_to_mrkdwn("[policy](https://x.example/p?a=1&b=2) [mail](mailto:help@x.example)"
                              " [bad](javascript:alert(1)) [phone](tel:123) <https://x.example>")
    assert "<https://x.example/p?a=1&amp;b=2|policy>" in text
    assert "<mailto:help@x.example|mail>" in text
    assert "<https://x.example>" in text
    assert "[bad](javascript:alert(1))" in text  # literal text, not a link
    assert "<javascript" not in text and "<tel:" not in text


def test_control_characters_are_escaped_everywhere():
    text = markdown_to_mrkdwn("a & b < c > d <@U123> <!channel> `x<y&z` "
                              "[a <b>](https://x.example)\n```\n<script>&\n```")
    assert "<@U123>" not in text and "<!channel>" not in text and "<script>" not in text
    assert "&lt;@U123&gt;" in text and "&lt;!channel&gt;" in text
    assert "`x&lt;y&amp;z`" in text and "&lt;script&gt;&amp;" in text
    # Outside our links, no raw < or > remains.
    stripped = text.replace("<https://x.example|", "").replace(">\n", "\n")
    assert "<" not in stripped


def test_a_plain_text_fallback_goes_with_the_blocks():
    [message] = render(bot_entry("**Hi** <there> [docs](https://x.example)"))
    assert message["text"] == "Hi &lt;there&gt; docs (https://x.example)"
    assert message["blocks"][0]["text"]["text"] == "*Hi* &lt;there&gt; <https://x.example|docs>"


def test_buttons_become_an_actions_block_with_unique_action_ids():
    buttons = (Button(title="Return policy", payload='/choose_article{"article_id":"r"}'),
               Button(title="x" * 100, payload="/affirm"),
               Button(title="Long payload", payload="/x" + "y" * 2000))
    [message] = render(bot_entry("Which one?", buttons))
    section, actions = message["blocks"]
    assert section["type"] == "section" and actions["type"] == "actions"
    first, second, third = actions["elements"]
    assert first["value"] == '/choose_article{"article_id":"r"}'
    assert first["text"] == {"type": "plain_text", "text": "Return policy", "emoji": True}
    assert len(second["text"]["text"]) == BUTTON_TEXT_LIMIT and second["text"]["text"][-1] == "…"
    assert "value" not in third  # too long for Slack: the press arrives as the title
    assert len({e["action_id"] for e in actions["elements"]}) == 3


def test_more_than_25_buttons_take_several_actions_blocks():
    buttons = tuple(Button(title=f"Option {i}", payload=f"/o{i}") for i in range(30))
    [message] = render(bot_entry("Pick", buttons))
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert len({e["action_id"] for a in actions for e in a["elements"]}) == 30
    assert not slack_sandbox.block_errors(message["blocks"])


def test_long_text_is_split_into_sections_within_the_limit():
    paragraph = "word " * 150  # 750 characters
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(12))
    [message] = render(bot_entry(text))
    sections = [b["text"]["text"] for b in message["blocks"]]
    assert len(sections) > 1 and all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(" ".join(sections).split()) == " ".join(markdown_to_mrkdwn(text).split())
    assert not slack_sandbox.block_errors(message["blocks"])


def test_a_split_never_cuts_a_link_or_an_entity():
    text = ("&amp; <https://x.example/a|a link with spaces> " * 200).strip()
    parts = split_mrkdwn(text, 500)
    assert all(len(p) <= 500 for p in parts)
    for part in parts:
        assert part.count("<") == part.count(">")
        assert not part.endswith(("&", "&amp", "<https")) and not part.startswith(("amp;", "p;"))


def test_a_split_code_block_is_closed_and_reopened():
    parts = split_mrkdwn("```\n" + "line of code\n" * 400 + "```", 1000)
    assert len(parts) > 1 and all(p.count("```") == 2 for p in parts)
    assert all(len(p) <= 1000 for p in parts)


def test_a_word_longer_than_a_section_is_cut_anyway():
    parts = split_mrkdwn("x" * 7000)
    assert [len(p) for p in parts] == [2996, 2996, 1008]


def test_more_than_50_blocks_go_out_as_several_messages_buttons_last():
    text = "\n\n".join("y" * 2990 for _ in range(60))
    messages = render(bot_entry(text, (Button(title="Yes", payload="/affirm"),)))
    assert [len(m["blocks"]) for m in messages] == [50, 11]
    assert messages[-1]["blocks"][-1]["type"] == "actions"
    assert messages[1]["text"] == "(continued, part 2 of 2)"
    for message in messages:
        assert not slack_sandbox.block_errors(message["blocks"])


def test_buttons_alone_render_without_an_empty_section():
    [message] = render(bot_entry("", (Button(title="A & B", payload="/a"),)))
    assert [b["type"] for b in message["blocks"]] == ["actions"]
    assert message["text"] == "A &amp; B"
    assert render(bot_entry("   ")) == []


def test_the_chosen_button_replaces_the_actions_block():
    [message] = render(bot_entry("Which?", (Button(title="A", payload="/a"),
                                            Button(title="B", payload="/b"))))
    blocks = mark_chosen(message["blocks"], "B <yes>")
    assert [b["type"] for b in blocks] == ["section", "context"]
    assert blocks[1]["elements"][0]["text"] == "You chose: B &lt;yes&gt;"
    assert not slack_sandbox.block_errors(blocks)


def test_the_sandbox_rejects_what_slack_rejects():
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert slack_sandbox.block_errors(too_long)
    assert slack_sandbox.block_errors([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}])
    button = {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "action_id": "a"}
    assert slack_sandbox.block_errors([{"type": "actions", "elements": [button]}])
    assert slack_sandbox.block_errors([{"type": "divider"}] * 51)


# -- the real adapter against the sandbox ------------------------------------------


class Env:
    """A gateway with only the Slack route and a Slack sandbox, on free ports."""

    def __init__(self, settings: Settings, redis: Redis, channel: SlackChannel,
                 services: Services, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.redis = redis
        self.channel = channel
        self.services = services
        self.http = http
        self.sandbox = f"http://127.0.0.1:{settings.sandbox_port}/slack/_sandbox"
        self.webhook = settings.base_url + EVENTS_PATH

    async def control(self, path: str, **body) -> dict:
        response = await self.http.post(f"{self.sandbox}/{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def transcript(self, user: str = "alice") -> list[dict]:
        response = await self.http.get(f"{self.sandbox}/transcript", params={"user": user})
        return response.json()

    async def calls(self, method: str | None = None) -> list[dict]:
        calls = (await self.http.get(f"{self.sandbox}/calls")).json()
        return [c for c in calls if method is None or c["method"] == method]

    async def inbound(self) -> list[InboundMessage]:
        entries = await self.redis.xrange(GATEWAY_KEYS.inbound_stream)
        return [InboundMessage.model_validate_json(fields["m"]) for _, fields in entries]

    def signed(self, body: bytes, timestamp: int | None = None,
               content_type: str = "application/json", **extra: str) -> dict:
        """Headers as Slack sends them, signed independently of slack_sdk."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        secret = self.settings.channels.slack_signing_secret.get_secret_value().encode()
        digest = hmac.new(secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": f"v0={digest}", **extra}

    async def post(self, body: bytes, headers: dict) -> httpx.Response:
        return await self.http.post(self.webhook, content=body, headers=headers)

    async def bot_messages(self, user: str = "alice", timeout: float = 5.0,
                           until=lambda msgs: bool(msgs)) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            messages = [m for m in await self.transcript(user) if m["from"] == "bot"]
            if until(messages) or time.monotonic() > deadline:
                return messages
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _lifespan_sandbox(app: FastAPI):
    app.state.http = httpx.AsyncClient(timeout=10)
    yield
    await app.state.http.aclose()


@pytest.fixture(scope="module")
async def env(redis_server):
    settings = with_sandboxes(Settings(redis_url=f"{redis_server}/2", port=free_port(),
                                       sandbox_port=free_port(), session_secret=SESSION_SECRET))
    redis = text_client(settings.effective_redis_url)
    channel = SlackChannel(settings, redis)
    # The events route uses only these of the gateway's services.
    services = SimpleNamespace(settings=settings, redis=redis, inbound=InboundStream(redis),
                               channels={"slack": channel})
    gateway = FastAPI()
    gateway.include_router(router)
    gateway.state.services = services
    sandbox = FastAPI(lifespan=_lifespan_sandbox)
    sandbox.state.settings = settings
    sandbox.include_router(slack_sandbox.router, prefix="/slack")
    async with serve(gateway, settings.port), serve(sandbox, settings.sandbox_port), \
            httpx.AsyncClient(timeout=10) as http:
        yield Env(settings, redis, channel, services, http)
    await channel.close()
    await redis.aclose()


@pytest.fixture
async def slack(env):
    await env.redis.flushdb()
    await env.control("reset")
    yield env


async def test_a_dm_reaches_the_inbound_stream_with_name_and_reply_target(slack):
    sent = await slack.control("send", user="alice", text="Where is my order?")
    assert sent["status"] == 200 and sent["user_id"] == ALICE
    [message] = await slack.inbound()
    assert (message.channel, message.channel_user_id, message.external_id, message.text,
            message.display_name) == ("slack", ALICE, sent["event_id"], "Where is my order?",
                                      "Alice")
    target = json.loads(await slack.redis.get(SLACK_KEYS.slack_reply_to(ALICE)))
    assert target == {"channel": ALICE_DM, "thread_ts": None}


async def test_the_users_name_is_looked_up_once_and_a_failed_lookup_keeps_the_message(slack):
    await slack.control("fail", status=500, times=1)  # users.info fails
    await slack.control("send", user="alice", text="one")
    await slack.control("send", user="alice", text="two")
    await slack.control("send", user="alice", text="three")
    names = [m.display_name for m in await slack.inbound()]
    assert names == [None, "Alice", "Alice"]
    assert len(await slack.calls("users.info")) == 2  # the failure, then cached


async def test_a_mention_is_answered_in_its_thread(slack):
    sent = await slack.control("send", user="alice", text="what about returns?", mention=True,
                               channel="C0SUPPORT")
    [message] = await slack.inbound()
    assert message.text == "what about returns?"
    await slack.channel.send(Recipient("c_x", ALICE), bot_entry("You have **30 days**."))
    [reply] = await slack.bot_messages()
    assert (reply["channel"], reply["thread_ts"]) == ("C0SUPPORT", sent["ts"])
    assert reply["text"] == "You have *30 days*."


async def test_a_press_in_a_mention_thread_keeps_the_answers_in_that_thread(slack):
    sent = await slack.control("send", user="alice", text="returns?", mention=True)
    await slack.channel.send(Recipient("c_x", ALICE),
                             bot_entry("Which?", (Button(title="Return policy", payload="/r"),)))
    [question] = await slack.bot_messages()
    await slack.control("press", user="alice", message_id=question["id"], index=0)
    assert (await slack.inbound())[-1].button_payload == "/r"
    target = json.loads(await slack.redis.get(SLACK_KEYS.slack_reply_to(ALICE)))
    assert target == {"channel": "C0GENERAL", "thread_ts": sent["ts"]}


async def test_the_sandbox_speaks_the_web_api_wire_format(slack):
    client = AsyncWebClient(token=slack.settings.channels.slack_bot_token.get_secret_value(),
                            base_url=slack.settings.channels.slack_api_base)
    assert (await client.auth_test())["user_id"] == slack_sandbox.BOT_USER_ID
    await slack.control("send", user="alice", text="hi")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=ALICE_DM, text="x", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    assert info.value.response["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks/0/text/text]" in info.value.response["errors"][0]
    with pytest.raises(SlackApiError) as info:
        await AsyncWebClient(token="xoxb-forged", base_url=slack.settings.channels.slack_api_base) \
            .users_info(user=ALICE)
    assert info.value.response["error"] == "invalid_auth"
    user = (await client.users_info(user=ALICE))["user"]
    assert (user["real_name"], user["profile"]["email"]) == ("Alice", "alice@example.com")


async def test_the_url_verification_challenge_is_answered(slack):
    body = json.dumps(payload("url_verification.json")).encode()
    response = await slack.post(body, slack.signed(body))
    assert response.status_code == 200
    assert response.json()["challenge"] == payload("url_verification.json")["challenge"]


async def test_forged_stale_and_tampered_requests_are_rejected_before_parsing(slack):
    body = json.dumps(payload("message_im.json")).encode()
    good = slack.signed(body)
    cases = {
        "no signature": {"Content-Type": "application/json"},
        "wrong secret": {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        # A minute past the window either way: the headers are built before the
        # requests run, and a clock tick between the two must not bring a
        # "future" timestamp back inside Slack's 300 s window.
        "stale": slack.signed(body, timestamp=int(time.time()) - REPLAY_WINDOW_S - 60),
        "future": slack.signed(body, timestamp=int(time.time()) + REPLAY_WINDOW_S + 60),
        "not a timestamp": {**good, "X-Slack-Request-Timestamp": "soon"},
    }
    for case, headers in cases.items():
        response = await slack.post(body, headers)
        assert response.status_code == 401, case
    tampered = body.replace(b"Where is my order?", b"Refund everything!")
    assert (await slack.post(tampered, good)).status_code == 401
    garbage = b"\xff{not json"  # unparseable: still a 401, not a 500
    assert (await slack.post(garbage, slack.signed(b"other"))).status_code == 401
    form = urlencode({"payload": json.dumps(payload("block_actions.json"))}).encode()
    forged_press = await slack.post(form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert forged_press.status_code == 401
    assert await slack.inbound() == []
    assert (await slack.post(body, good)).status_code == 200  # the genuine one
    assert len(await slack.inbound()) == 1


def _in_process(slack) -> httpx.AsyncClient:
    """The events route in-process, so a test sees how much of a body was pulled."""
    gateway = FastAPI()
    gateway.include_router(router)
    gateway.state.services = slack.services
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw")


async def test_a_chunked_5_mib_post_is_refused_with_413_after_reading_at_most_the_limit(slack):
    body = CountingBody(5 << 20, prefix=b'{"type": "event_callback", "x": "')
    async with _in_process(slack) as client:
        # A small Content-Length that lies: the chunked body streams on past it.
        response = await client.post(EVENTS_PATH, content=body, headers={
            **slack.signed(b"{}"), "Content-Length": "100"})
    assert response.status_code == 413
    assert body.pulled <= MAX_BODY_BYTES + CHUNK
    assert await slack.inbound() == []


async def test_a_post_without_content_length_is_411_before_the_signature_check(slack):
    body = CountingBody(5 << 20)
    async with _in_process(slack) as client:
        unsigned = await client.post(EVENTS_PATH, content=body,
                                     headers={"Content-Type": "application/json"})
        declared = CountingBody(5 << 20)
        declared_too_big = await client.post(EVENTS_PATH, content=declared, headers={
            **slack.signed(b"{}"), "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert unsigned.status_code == 411  # not 401: nothing of it was looked at
    assert body.pulled == 0
    assert declared_too_big.status_code == 413 and declared.pulled == 0


async def test_a_replayed_request_is_acknowledged_but_not_processed(slack):
    body = json.dumps(payload("message_im.json")).encode()
    headers = slack.signed(body)
    assert (await slack.post(body, headers)).status_code == 200
    assert (await slack.post(body, headers)).status_code == 200
    assert len(await slack.inbound()) == 1


async def test_slack_retries_of_a_handled_event_are_not_enqueued_again(slack):
    sent = await slack.control("send", user="alice", text="hello")
    retried = await slack.control("retry", user="alice")
    again = await slack.control("retry", user="alice")
    assert (sent["status"], retried["status"], again["status"]) == (200, 200, 200)
    assert retried["event_id"] == sent["event_id"] and again["retry_num"] == 2
    [message] = await slack.inbound()
    assert message.external_id == sent["event_id"]


async def test_a_retry_of_an_event_we_never_took_is_processed(slack):
    body = payload("message_im.json")
    body["event"]["user"] = ALICE
    raw = json.dumps(body).encode()
    response = await slack.post(raw, slack.signed(raw, **{"X-Slack-Retry-Num": "1",
                                                          "X-Slack-Retry-Reason": "http_error"}))
    assert response.status_code == 200
    [message] = await slack.inbound()
    assert message.external_id == "Ev0A1B2C3D4E"


async def test_when_the_stream_is_down_slack_gets_a_500_and_its_retry_gets_through(slack):
    class Broken:
        async def append(self, message):
            raise ConnectionError("redis is down")

    working, slack.services.inbound = slack.services.inbound, Broken()
    try:
        sent = await slack.control("send", user="alice", text="hello")  # Bolt logs the error
    finally:
        slack.services.inbound = working
    assert sent["status"] == 500
    assert (await slack.control("retry", user="alice"))["status"] == 200
    [message] = await slack.inbound()
    assert message.external_id == sent["event_id"]


async def test_our_own_posts_edits_and_other_events_are_acknowledged_and_ignored(slack):
    for name in ("bot_message_own.json", "message_changed.json", "message_deleted.json",
                 "app_home_opened.json", "channel_join.json"):
        raw = json.dumps(payload(name)).encode()
        assert (await slack.post(raw, slack.signed(raw))).status_code == 200, name
    assert await slack.inbound() == []


async def test_a_file_without_text_gets_an_explanation_not_a_turn(slack):
    sent = await slack.control("send", user="alice", file="receipt.jpg")
    assert sent["status"] == 200
    [hint] = await slack.bot_messages()
    assert "only read text" in hint["text"]
    assert await slack.inbound() == []
    await slack.control("retry", user="alice")  # Slack's retry: no second explanation
    await asyncio.sleep(0.2)
    assert len(await slack.bot_messages()) == 1


async def test_a_button_press_enqueues_the_payload_and_disables_the_buttons(slack):
    await slack.control("send", user="alice", text="returns")
    buttons = (Button(title="Return policy", payload='/choose_article{"article_id":"r"}'),
               Button(title="Shipping times", payload='/choose_article{"article_id":"s"}'))
    await slack.channel.send(Recipient("c_x", ALICE), bot_entry("Which one?", buttons))
    [question] = await slack.bot_messages()
    assert question["buttons"] == ["Return policy", "Shipping times"]

    pressed = await slack.control("press", user="alice", message_id=question["id"], index=1)
    assert pressed["status"] == 200
    _, choice = await slack.inbound()
    assert choice.button_payload == '/choose_article{"article_id":"s"}'
    assert choice.text == "Shipping times" and choice.display_name == "Alice"
    assert choice.external_id == f"act:{pressed['action_ts']}{ALICE}"

    [updated] = await slack.bot_messages(until=lambda msgs: msgs and not msgs[0]["buttons"])
    assert updated["buttons"] == []
    assert updated["text"] == "Which one?\nYou chose: Shipping times"
    no_more = await slack.http.post(f"{slack.sandbox}/press", json={
        "user": "alice", "message_id": question["id"], "index": 0})
    assert no_more.status_code == 404


async def test_a_double_press_before_the_update_counts_once(slack):
    await slack.control("send", user="alice", text="hi")
    await slack.channel.send(Recipient("c_x", ALICE),
                             bot_entry("Sure?", (Button(title="Yes", payload="/affirm"),)))
    [question] = await slack.bot_messages()
    body = payload("block_actions.json")
    body["user"]["id"] = ALICE
    body["container"].update(message_ts=question["id"], channel_id=ALICE_DM)
    statuses = []
    for action_ts in ("1767225901.000001", "1767225901.000002"):
        body["actions"][0]["action_ts"] = action_ts
        form = urlencode({"payload": json.dumps(body)}).encode()
        response = await slack.post(form, slack.signed(
            form, content_type="application/x-www-form-urlencoded"))
        statuses.append(response.status_code)
    assert statuses == [200, 200]
    presses = [m for m in await slack.inbound() if m.button_payload]
    assert len(presses) == 1


async def test_send_renders_blocks_slack_accepts(slack):
    await slack.control("send", user="alice", text="hi")
    text = ("**Returns** within 30 days & free. "
            "See [the policy](https://shop.example/returns?a=1&b=2)."
            "\n\n- unworn\n- with tags\n\n" + "Long paragraph. " * 400)
    buttons = tuple(Button(title=f"Option {i}", payload=f"/o{i}") for i in range(30))
    await slack.channel.send(Recipient("c_x", ALICE), bot_entry(text, buttons))
    [message] = await slack.bot_messages()
    assert message["text"].startswith("*Returns* within 30 days &amp; free. See "
                                      "<https://shop.example/returns?a=1&amp;b=2|the policy>.")
    assert len(message["buttons"]) == 30
    [call] = await slack.calls("chat.postMessage")
    assert len(call["args"]["blocks"]) == 5  # 3 sections, 2 actions blocks
    assert call["args"]["channel"] == ALICE_DM and "thread_ts" not in call["args"]


async def test_without_a_stored_target_the_reply_goes_to_the_users_dm(slack):
    await slack.control("send", user="alice", text="hi")
    await slack.redis.delete(SLACK_KEYS.slack_reply_to(ALICE))
    await slack.channel.send(Recipient("c_x", ALICE), bot_entry("An agent here."))
    assert [c["method"] for c in await slack.calls()][-2:] == ["conversations.open",
                                                              "chat.postMessage"]
    [message] = await slack.bot_messages()
    assert message["channel"] == ALICE_DM


async def test_a_rate_limit_is_a_send_error_with_retry_after(slack):
    await slack.control("send", user="alice", text="hi")
    await slack.control("fail", status=429, times=1, retry_after=7)
    with pytest.raises(ChannelSendError) as info:
        await slack.channel.send(Recipient("c_x", ALICE), bot_entry("hello"))
    assert info.value.retry_after == 7
    await slack.channel.send(Recipient("c_x", ALICE), bot_entry("hello"))  # the outbox's retry
    assert len(await slack.bot_messages()) == 1


async def test_a_server_error_is_a_send_error_without_retry_after(slack):
    await slack.control("send", user="alice", text="hi")
    await slack.control("fail", status=503, times=1)
    with pytest.raises(ChannelSendError) as info:
        await slack.channel.send(Recipient("c_x", ALICE), bot_entry("hello"))
    assert info.value.retry_after is None
    assert await slack.bot_messages(timeout=0) == []


async def test_slack_unreachable_is_a_send_error(slack):
    settings = with_channels(slack.settings,
                             slack_api_base=f"http://127.0.0.1:{free_port()}/api/")
    offline = SlackChannel(settings, slack.redis)
    try:
        with pytest.raises(ChannelSendError):
            await offline.send(Recipient("c_x", ALICE), bot_entry("hello"))
    finally:
        await offline.close()


async def test_a_gone_channel_or_a_bad_token_is_dropped_not_retried(slack, caplog):
    await slack.redis.set(SLACK_KEYS.slack_reply_to(ALICE),
                          json.dumps({"channel": "C0ARCHIVED", "thread_ts": None}))
    with caplog.at_level(logging.WARNING, logger="bot.channels.slack.adapter"):
        await slack.channel.send(Recipient("c_x", ALICE), bot_entry("hello"))
    assert "channel_not_found" in caplog.text

    settings = with_channels(slack.settings, slack_bot_token=SecretStr("xoxb-wrong"))
    wrong = SlackChannel(settings, slack.redis)
    try:
        await wrong.send(Recipient("c_x", ALICE), bot_entry("hello"))  # logged, not raised
    finally:
        await wrong.close()
    assert "invalid_auth" in caplog.text and "xoxb" not in caplog.text


async def test_a_split_entry_is_not_resent_from_the_start_on_retry(slack):
    await slack.control("send", user="alice", text="hi")
    entry = bot_entry("\n\n".join("z" * 2990 for _ in range(60))).model_copy(
        update={"id": "1767225600000-0"})
    await slack.control("fail", status=500, times=1, after=1)  # the second message fails
    with pytest.raises(ChannelSendError):
        await slack.channel.send(Recipient("c_x", ALICE), entry)
    await slack.channel.send(Recipient("c_x", ALICE), entry)
    assert len(await slack.bot_messages()) == 2  # not 3


async def test_the_route_is_404_while_slack_is_not_enabled(slack):
    slack.services.channels.pop("slack")
    try:
        body = json.dumps(payload("message_im.json")).encode()
        assert (await slack.post(body, slack.signed(body))).status_code == 404
    finally:
        slack.services.channels["slack"] = slack.channel
