"""Slack payloads to our models, pure: message events and button actions to
inbound messages, reply targets, display names and verified emails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import BadInput
from bot.channels.slack.render import ACTION_PREFIX
from bot.gateway.inbound import clean_text
from core.i18n import N_
from core.models import InboundMessage

log = logging.getLogger(__name__)




EVENTS_PATH = "/channels/slack/events"
API_TIMEOUT_S = 10.0
USER_LOOKUP_TIMEOUT_S = 1.0  # users.info sits before the ack, and Slack wants one within 3 s
USER_NAME_TTL_S = 24 * 3600
REPLY_TO_TTL_S = 30 * 24 * 3600
HANDLED_EVENT_TTL_S = 3600
REPLAY_WINDOW_S = 300  # Slack's timestamp window: an older replay fails the signature check
PRESSED_TTL_S = 7 * 24 * 3600
SENT_PARTS_TTL_S = 24 * 3600
MAX_BODY_BYTES = 1_000_000
_INBOUND = "frontdoor_inbound"  # the Bolt context key carrying the inbound stream
UNSUPPORTED_TEXT = N_("Sorry, I can only read text here. Could you describe it in a message?")
# Message subtypes that are a person writing; edits, deletions, joins, bot
# posts and the like are not.
_TEXT_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
# Slack errors worth another try; any other (channel_not_found, not_in_channel,
# invalid_blocks, invalid_auth...) fails the same way every time.
_TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"}
_TIMESTAMP = re.compile(r"\d{1,12}")
_SPECIAL = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class ReplyTarget:
    """Where replies to a user go: a conversation, and a thread in it if any."""

    channel: str
    thread_ts: str | None = None


# -- pure: Slack payloads to our models ----------------------------------------



def to_inbound(body: Mapping[str, Any], *, max_chars: int) -> InboundMessage | None:
    """An Events API envelope or a block_actions payload as an InboundMessage.

    None for what is not a customer speaking to us (bot posts, edits, other
    events, other apps' buttons). Raises BadInput for a message we cannot take
    (a file without text, empty or too long)."""
    if body.get("type") == "event_callback":
        return _event_to_inbound(body, max_chars)
    if body.get("type") == "block_actions":
        return _action_to_inbound(body, max_chars)
    return None


def _event_to_inbound(body: Mapping[str, Any], max_chars: int) -> InboundMessage | None:
    event = body.get("event") or {}
    kind = event.get("type")
    if kind == "message" and event.get("channel_type") != "im":
        return None
    # A message in a DM with us already arrives as message.im.
    if kind == "app_mention" and str(event.get("channel", "")).startswith("D"):
        return None
    if kind not in ("message", "app_mention"):
        return None
    user = event.get("user")
    if (not user or event.get("bot_id") or event.get("bot_profile") or event.get("hidden")
            or event.get("subtype") not in _TEXT_SUBTYPES):
        return None
    raw = event.get("text") or ""
    if kind == "app_mention":
        raw = _strip_mention(raw, _bot_user_id(body))
    text = slack_to_text(raw)
    if not text.strip() and event.get("files"):
        raise BadInput("unsupported", UNSUPPORTED_TEXT)
    external_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
    return InboundMessage(channel="slack", channel_user_id=user, external_id=str(external_id),
                          text=clean_text(text, max_chars))


def _action_to_inbound(body: Mapping[str, Any], max_chars: int) -> InboundMessage | None:
    actions = body.get("actions") or []
    user = (body.get("user") or {}).get("id")
    if not actions or not user:
        return None
    action = actions[0]
    if action.get("type") != "button" or not str(action.get("action_id", "")).startswith(
            ACTION_PREFIX):
        return None
    title = (action.get("text") or {}).get("text") or ""
    return InboundMessage(
        channel="slack", channel_user_id=user,
        external_id=f"act:{action.get('action_ts', '')}{user}",
        text=clean_text(title, max_chars), button_payload=action.get("value") or None,
    )


def reply_target(body: Mapping[str, Any]) -> ReplyTarget | None:
    """Where to answer this request: the DM, or the thread of a mention."""
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        channel = event.get("channel")
        if not channel:
            return None
        if event.get("type") == "app_mention":  # answer in a thread, not in the channel
            return ReplyTarget(channel, event.get("thread_ts") or event.get("ts"))
        return ReplyTarget(channel, event.get("thread_ts"))
    if body.get("type") == "block_actions":
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
        return ReplyTarget(channel, thread_ts) if channel else None
    return None


def _bot_user_id(body: Mapping[str, Any]) -> str | None:
    """Our bot user, from the envelope's authorizations (no auth.test needed)."""
    for authorization in body.get("authorizations") or []:
        if authorization.get("is_bot") and authorization.get("user_id"):
            return authorization["user_id"]
    return None


def _strip_mention(text: str, bot_user_id: str | None) -> str:
    if bot_user_id:
        return re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s?", "", text)
    return re.sub(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>\s?", "", text)  # ours comes first


def slack_to_text(text: str) -> str:
    """Slack message text as the person wrote it: mentions, channel links and
    links back to plain words, then the three entities decoded."""

    def plain(match: re.Match) -> str:
        target, _, label = match.group(1).partition("|")
        if target[:1] in ("@", "#"):
            return target[0] + (label or target[1:])
        if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^...|fallback>
            return label or "@" + target[1:].split("^")[0]
        shown = target.removeprefix("mailto:")
        if not label or label in (target, shown, target.split("://", 1)[-1]):
            return label or shown
        return f"{label} ({shown})"

    text = _SPECIAL.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def display_name_of(user: Mapping[str, Any]) -> str:
    """The name an agent should see, from a users.info `user` object."""
    profile = user.get("profile") or {}
    return (profile.get("real_name") or user.get("real_name") or profile.get("display_name")
            or user.get("name") or "")


def verified_email_of(user: Mapping[str, Any]) -> str | None:
    """The profile email of a users.info `user` (present with the users:read.email
    scope; Slack confirms it). Bots and guests from other organisations have none
    we can rely on."""
    if user.get("is_bot") or user.get("is_stranger") or user.get("deleted"):
        return None
    email = (user.get("profile") or {}).get("email")
    return email.strip().lower() if isinstance(email, str) and "@" in email else None
