"""The router: deduplicate, resolve identity, log to the transcript, and,
while the bot owns the conversation, take a bot turn (docs/architecture.md,
"The flow of a message" and "The owner rule")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import AssistantUnavailable
from bot.channels.base import ChannelAdapter, Recipient
from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.linking import CODE_ALPHABET, LinkCodes, TooManyCodes, looks_like_code
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from bot.customers.verified import VerifiedAttributes, e164
from bot.gateway.keys import GATEWAY_KEYS, GatewayKeys
from bot.gateway.rasa_client import RasaClient
from bot.gateway.replies import ReplySender
from bot.gateway.turns import Lease, TurnLeases
from bot.infra import metrics
from bot.infra.live import LiveHub
from bot.infra.streams import AckWith
from bot.rasa_store.store import RasaStore
from core.i18n import N_, text
from core.language import count_words, detect_language, language_choice
from core.models import OWNER_BOT, InboundMessage, OutboundMessage, TranscriptEntry
from handoff.lookup import HandoffLookup
from handoff.reports import count_conversation

log = logging.getLogger(__name__)


# The gateway's own texts: English msgids of locale/<lang>/LC_MESSAGES/gateway.po,
# translated into the customer's language when sent (`_t`).
DELAY_TEXT = N_("Sorry, we're experiencing a short delay. Your message is saved and "
                 "we'll answer as soon as we can.")
SEEN_TTL_S = 7 * 24 * 3600
RASA_LOCK_POLL_S = 0.2
CONVERSATION_GAP_S = 3600

LINK_ISSUED_TEXT = N_('Your code is {code}. Within {minutes}, send it (or "link {code}") on the '
                       "other channel where you want to continue.")
LINK_TOO_MANY_CODES_TEXT = N_("You have asked for several codes this hour; please use the latest "
                               "one, or try again later.")
LINK_DONE_TEXT = N_("Linked: you can continue here; I can see our conversation from {channel}.")
LINK_ALREADY_TEXT = N_("This channel is already linked to your conversation.")
LINK_INVALID_TEXT = N_("That code isn't valid: it may be mistyped, expired or already used. "
                        "Type link on the channel you came from to get a new one.")
LINK_LIMITED_TEXT = N_("Too many attempts; please wait a few minutes.")
LINK_CONFIRM_TEXT = N_("Someone on {channel} wants to join this conversation — reply YES to allow "
                        "(anything else refuses).")
LINK_WAITING_TEXT = N_("Waiting for confirmation on {channel}…")
LINK_ALLOWED_TEXT = N_("Linked: this conversation continues on {channel} too.")
LINK_REFUSED_TEXT = N_("Not linked: nothing was shared with {channel}.")
LINK_DECLINED_TEXT = N_("Not linked: it was not confirmed on {channel}.")
LINK_CONFIRM_EXPIRED_TEXT = N_("That request to link has expired or was already answered.")
LINK_SHARE_PHONE_HINT = N_("\nTexted us from your phone before? Send /share_phone to link by "
                            "your phone number instead.")
PHONE_LINKED_TEXT = N_("Thanks, your number is verified. This chat is now linked with your SMS "
                        "conversation: I can see what we talked about there.")
PHONE_VERIFIED_TEXT = N_("Thanks, your number is verified. If you text us from it, that "
                          "conversation will carry on from this one.")
EMAIL_LINKED_TEXT = N_("Your Slack email matches the one you verified with us, so I've linked "
                        "this chat with your earlier conversation.")
TICKET_NOT_HERE_TEXT = N_("That reference isn't linked to this chat, so I can't share anything "
                           "about it here. If you opened it on another channel, type link there "
                           "and send me the code you get, to connect the two.")
CHANNEL_LABELS = {"web": N_("web chat"), "telegram": N_("Telegram"), "slack": N_("Slack"),
                  "sms": N_("SMS")}
LANGUAGE_CHOSEN_TEXT = {"en": N_("Okay, I'll write to you in English from now on."),
                        "de": N_("Okay, I'll write to you in German from now on.")}
MINUTE_TEXT = N_("1 minute")
MINUTES_TEXT = N_("{count} minutes")
# The issuer's answer that allows a link: YES, or JA in German.
LINK_YES = frozenset({"YES", "JA"})
RASA_LANGUAGE_TTL_S = 7 * 24 * 3600
# The `language` slot's initial_value in domain.yml (tests/dialogue checks they agree).
RASA_INITIAL_LANGUAGE = "en"


def _t(language: str | None, message: str, **values: object) -> str:
    """A gateway text in `language` (English when unknown)."""
    return text("gateway", language, message, **values)


class HandoffHooks(Protocol):
    """What the router asks the handoff side (wired in by the app)."""

    async def person_owned(self, customer_id: str, owner: str, message: InboundMessage,
                           recipient: Recipient) -> None: ...

    async def before_bot(self, customer_id: str, message: InboundMessage,
                         recipient: Recipient) -> bool: ...


class NoHandoff:
    """For a router without a handoff side (tests, trying the bot alone)."""

    async def person_owned(self, customer_id: str, owner: str, message: InboundMessage,
                           recipient: Recipient) -> None:
        return None

    async def before_bot(self, customer_id: str, message: InboundMessage,
                         recipient: Recipient) -> bool:
        return False


KeepAlive = Callable[[], Awaitable[None]]


async def _no_keep_alive() -> None:
    return None


class Router:
    def __init__(
        self,
        redis: Redis,
        rasa: RasaClient,
        channels: dict[str, ChannelAdapter],
        hub: LiveHub,
        transcripts: TranscriptStore,
        replies: ReplySender,
        handoff: HandoffHooks,
        *,
        links: LinkCodes | None = None,
        backoff_s: float = 1.0,
        backoff_max_s: float = 15.0,
        keys: GatewayKeys = GATEWAY_KEYS,
        lease_ms: int = 15_000,
        delay_notice_s: float = 5.0,
        typing_after_s: float = 0.4,
        rasa_redis: Redis | None = None,
    ) -> None:
        """`lease_ms`: how long a gateway's hold on a bot turn lasts unrenewed (at
        most the streams' `reclaim_idle_ms`, so a dead gateway's turn is free by
        the time its entry is taken over). `delay_notice_s`: a customer whose
        message is not answered this long after it arrived hears about the delay.
        `typing_after_s`: the typing indicator shows for a turn not answered
        this long (a quicker answer comes without a flicker of it).
        `rasa_redis`: where Rasa keeps its locks, when not in `redis`."""
        self._redis = redis
        self._keys = keys
        self._rasa = rasa
        self._channels = channels
        self._hub = hub
        self._transcripts = transcripts
        self._replies = replies
        self._handoff = handoff
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._identities = IdentityStore(redis)
        self._languages = CustomerLanguages(redis)
        self._links = links or LinkCodes(redis)
        self._customers = Customers(redis)
        self._verified = VerifiedAttributes(redis)
        self._conversations = HandoffLookup(redis)
        self._leases = TurnLeases(redis, lease_ms, SEEN_TTL_S)
        self._rasa_store = RasaStore(rasa_redis or redis)
        self._delay_notice_s = delay_notice_s
        self._typing_after_s = typing_after_s

    async def handle(self, stream_id: str, message: InboundMessage,
                     keep_alive: KeepAlive = _no_keep_alive) -> AckWith | None:
        """Handle one inbound stream entry; `keep_alive` keeps the entry ours
        while the assistant is retried. What it returns marks the message
        answered along with the entry's acknowledgement (bot/infra/streams.py)."""
        first, link_answer = await self._arrival(stream_id, message)
        if not first:
            metrics.DUPLICATES.labels(channel=message.channel).inc()
            return None
        if await self._answers_link_request(stream_id, link_answer):
            await self._gateway_turn(stream_id, message,
                                     lambda: self._confirm_reply(stream_id, message))
            return None
        choice = language_choice(message.text) if message.button_payload is None else None
        if choice is not None:  # "Deutsch", "in English": the gateway answers it
            await self._gateway_turn(stream_id, message,
                                     lambda: self._language_reply(message, choice))
            return None
        command = link_command(message)
        if command is not None:
            await self._gateway_turn(stream_id, message,
                                     lambda: self._link_reply(message, *command))
            return None
        if message.shared_contact:
            await self._gateway_turn(stream_id, message, lambda: self._contact_reply(message))
            return None
        customer_id = await self._identities.resolve(
            message.channel, message.channel_user_id, message.display_name
        )
        progress = self._keys.inbound_progress(stream_id)
        if message.verified:  # e.g. a Slack profile email: may join an earlier customer
            customer_id, linked = await self._link_by_verified(customer_id, message)
            if linked and await self._redis.hsetnx(progress, "verified_told", "1"):
                told = _t(await self._languages.get(customer_id), EMAIL_LINKED_TEXT)
                await self.send(message.channel, Recipient(customer_id, message.channel_user_id),
                                OutboundMessage(text=told, author="system"))
        recipient = Recipient(customer_id, message.channel_user_id)
        if message.button_payload is not None and not await self._transcripts.offered(
                customer_id, message.button_payload):
            # Every channel: a payload the assistant never offered this customer
            # (forged callback data, an action value, a stale button) is not a
            # button press; its title, if any, is read as typed text.
            log.warning("%s: a button payload that was not offered; read as text",
                        message.channel)
            metrics.REJECTED.labels(channel=message.channel, code="not_offered").inc()
            message = message.model_copy(update={"button_payload": None})

        # Each step runs once even if this entry is re-claimed after a crash. The
        # same round trip reads what the customer's parts hold for this message.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(progress, "logged", "1")
            pipe.expire(progress, SEEN_TTL_S)
            pipe.hget(progress, "answered")
            pipe.hget(progress, "rasa_sender")
            self._conversations.owner_in(pipe, customer_id)
            self._languages.record_in(pipe, customer_id)
            first_time, _, answered, sender, owner, language_record = await pipe.execute()
        language: str | None = None  # the customer's, once this message was read
        if first_time:
            last_seen = await self._identities.touch(customer_id, message.channel,
                                                     message.channel_user_id)
            await self._count_conversation(last_seen, message)
            detected, language = await self._detect(customer_id, message, language_record)
            entry = await self._transcripts.append(customer_id, _customer_entry(message, detected))
            # once a language was detected, the customer's is on record: the widget
            # may take it from the frame
            await self._hub.publish_customer_entry(customer_id, entry,
                                                   language if detected else None)
            metrics.INBOUND_MESSAGES.labels(channel=message.channel).inc()

        owner = owner or OWNER_BOT
        if answered:
            return None
        if await self._quotes_someone_elses_ticket(customer_id, message.text):
            # Not one word about that ticket: only how to connect it, if it is theirs.
            await self.send(message.channel, recipient, OutboundMessage(
                text=_t(await self._languages.get(customer_id), TICKET_NOT_HERE_TEXT),
                author="system"))
            return _answered(progress)
        if owner != OWNER_BOT:
            # A person owns the conversation: the bot stays silent. The agent sees
            # the message live; a waiting customer may hear their queue position.
            if first_time:
                await self._handoff.person_owned(customer_id, owner, message, recipient)
            return None
        if await self._handoff.before_bot(customer_id, message, recipient):
            return _answered(progress)  # a CSAT answer, or a returning customer handed on
        delay = _Delay()
        watch = asyncio.create_task(self._delay_watch(message, recipient, delay))
        try:
            replies = await self._leased_turn(stream_id, message, recipient, keep_alive, delay,
                                              _TurnContext(sender, language))
            if replies is None:
                return None  # answered by another gateway
            for reply in replies:
                await self.send(message.channel, recipient, reply)
        finally:
            watch.cancel()
        if delay.told:
            await self._channels[message.channel].notice(recipient, "clear", "")
        return _answered(progress)

    async def _leased_turn(self, stream_id: str, message: InboundMessage, recipient: Recipient,
                           keep_alive: KeepAlive, delay: _Delay, known: _TurnContext
                           ) -> list[OutboundMessage] | None:
        """The bot turn under this message's lease: None if another gateway
        answered it meanwhile (or holds it to the end)."""
        progress = self._keys.inbound_progress(stream_id)
        lease = await self._leases.take(progress)
        while lease == "busy":  # another gateway is on it: wait for its answer or its end
            await keep_alive()
            await asyncio.sleep(self._leases.lease_ms / 10_000)
            lease = await self._leases.take(progress)
        if not isinstance(lease, Lease):
            return None  # answered
        if lease.earlier_turns:  # taken over from a gateway that died mid-turn
            await self._tell(delay, message.channel, recipient)
        async with self._leases.kept(progress, lease):
            replies = await self._bot_turn(stream_id, message, recipient, keep_alive,
                                           delay, known, check_first=lease.earlier_turns > 0)
        if not await self._leases.held(progress, lease):
            log.warning("lost the turn of %s to another gateway; its replies are theirs",
                        stream_id)
            return None
        return replies

    async def _delay_watch(self, message: InboundMessage, recipient: Recipient,
                           delay: _Delay) -> None:
        """However the delay arises (queued behind a slow turn, taken over from a
        dead gateway, a frozen conversation), the customer hears about it."""
        await asyncio.sleep(max(0.0, message.received_at + self._delay_notice_s - time.time()))
        try:
            await self._tell(delay, message.channel, recipient)
        except (RedisError, OSError) as exc:  # Redis away: the turn itself reports that
            log.warning("could not tell about a delay: %r", exc)

    async def _tell(self, delay: _Delay, channel: str, recipient: Recipient) -> None:
        if not delay.told:
            delay.told = True
            await self._tell_delay_once(channel, recipient)

    async def send(self, channel: str, recipient: Recipient, message: OutboundMessage
                   ) -> TranscriptEntry:
        return await self._replies.send(channel, recipient, message)

    async def _gateway_turn(self, stream_id: str, message: InboundMessage,
                            make_reply: Callable[[], Awaitable[str]]) -> None:
        """A message the gateway answers itself with a system message, whoever
        owns the conversation, never shown to Rasa: "link" issues a code, a code
        (or "link CODE") redeems one, the issuer's answer to a redeemed code
        allows or refuses the link, a shared Telegram contact links by phone.
        Each step runs once even if the entry is re-claimed."""
        progress = self._keys.inbound_progress(stream_id)
        reply = await self._redis.hget(progress, "link_reply")
        if reply is None:
            reply = await make_reply()
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(progress, "link_reply", reply)
                pipe.hget(progress, "link_reply")
                pipe.expire(progress, SEEN_TTL_S)
                _, reply, _ = await pipe.execute()

        # Resolved after the redeem: a newly linked identity speaks as the code's customer.
        customer_id = await self._identities.resolve(
            message.channel, message.channel_user_id, message.display_name
        )
        recipient = Recipient(customer_id, message.channel_user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(progress, "logged", "1")
            pipe.hget(progress, "answered")
            first_time, answered = await pipe.execute()
        if first_time:
            await self._identities.touch(customer_id, message.channel, message.channel_user_id)
            entry = await self._transcripts.append(
                customer_id, _customer_entry(message, _message_language(message)))
            await self._hub.publish_customer_entry(customer_id, entry)
            metrics.INBOUND_MESSAGES.labels(channel=message.channel).inc()
        if answered:
            return
        await self.send(message.channel, recipient, OutboundMessage(text=reply, author="system"))
        await self._redis.hset(progress, "answered", "1")
        # An answer to a link request: the redeemer hears the outcome, once.
        tell = await self._redis.hget(progress, "link_tell")
        if tell is not None and await self._redis.hsetnx(progress, "link_told", "1"):
            told = json.loads(tell)
            await self.send(told["channel"], Recipient(told["customer_id"], told["user"]),
                            OutboundMessage(text=told["text"], author="system"))

    async def _link_reply(self, message: InboundMessage, kind: str, code: str | None) -> str:
        if kind == "issue":
            customer_id = await self._identities.resolve(
                message.channel, message.channel_user_id, message.display_name
            )
            language: str | None = await self._languages.get(customer_id)
            try:
                code = await self._links.issue(customer_id, message.channel,
                                              message.channel_user_id)
            except TooManyCodes:
                return _t(language, LINK_TOO_MANY_CODES_TEXT)
            minutes = max(1, round(self._links.code_ttl_s / 60))
            span = (_t(language, MINUTE_TEXT) if minutes == 1
                    else _t(language, MINUTES_TEXT, count=minutes))
            reply = _t(language, LINK_ISSUED_TEXT, code=code, minutes=span)
            return reply + (_t(language, LINK_SHARE_PHONE_HINT)
                            if message.channel == "telegram" else "")
        # The redeemer is often new here (no language yet): then the code's owner's.
        mine = await self._customers.find(message.channel, message.channel_user_id)
        language = await self._languages.get(mine) if mine else None
        result = await self._links.redeem(code or "", message.channel, message.channel_user_id)
        log.info("link code redemption on %s: %s", message.channel, result.status)
        if result.status == "pending" and result.issuer is not None:
            # The issuing identity must say YES before anything moves (a code
            # phished out of its owner links nothing without them).
            issuer_channel, issuer_user = result.issuer
            issuer = await self._identities.resolve(issuer_channel, issuer_user, None)
            theirs = await self._languages.get(issuer)
            await self.send(issuer_channel, Recipient(issuer, issuer_user), OutboundMessage(
                text=_t(theirs, LINK_CONFIRM_TEXT,
                        channel=_label(message.channel, theirs)), author="system"))
            language = language if mine and await self._languages.source(mine) else theirs
            return _t(language, LINK_WAITING_TEXT, channel=_label(issuer_channel, language))
        if result.customer_id and not (mine and await self._languages.source(mine)):
            language = await self._languages.get(result.customer_id)
        if result.status == "already_linked":
            return _t(language, LINK_ALREADY_TEXT)
        if result.status == "limited":
            return _t(language, LINK_LIMITED_TEXT)
        return _t(language, LINK_INVALID_TEXT)

    async def _language_reply(self, message: InboundMessage, language: str) -> str:
        """The customer asked for a language ("Deutsch", "in English"): it is
        theirs from now on, on every channel, and confirmed in it."""
        customer_id = await self._identities.resolve(
            message.channel, message.channel_user_id, message.display_name)
        chosen = await self._languages.choose(customer_id, language, "customer")
        log.info("%s: the customer chose %s", message.channel, chosen)
        return _t(chosen, LANGUAGE_CHOSEN_TEXT[chosen])

    async def _answers_link_request(self, stream_id: str, link: _LinkAnswer) -> bool:
        """Whether this message answers a redeemed code of its sender's. Decided
        once per stream entry (kept in its progress), so a re-claim goes the
        same way."""
        progress = self._keys.inbound_progress(stream_id)
        decided = link.decided
        if decided is None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(progress, "link_answer", "1" if link.due else "0")
                pipe.hget(progress, "link_answer")
                pipe.expire(progress, SEEN_TTL_S)
                _, decided, _ = await pipe.execute()
        return bool(decided == "1")

    async def _confirm_reply(self, stream_id: str, message: InboundMessage) -> str:
        """The issuer's answer: exactly YES links, anything else refuses. The
        issuer gets the reply; the redeemer hears the outcome on their channel
        after it (kept in the progress, sent once by _gateway_turn)."""
        allow = (message.button_payload is None
                 and message.text.strip().rstrip(".!").strip().upper() in LINK_YES)
        issuer = await self._customers.find(message.channel, message.channel_user_id)
        language = await self._languages.get(issuer) if issuer else None
        result = await self._links.confirm(message.channel, message.channel_user_id, allow)
        log.info("link confirmation on %s: %s", message.channel,
                 result.status if result else "none pending")
        if result is None or result.redeemer is None:
            return _t(language, LINK_CONFIRM_EXPIRED_TEXT)
        redeemer_channel, redeemer_user = result.redeemer
        if result.ok and result.customer_id is not None:
            redeemer = result.customer_id
            theirs: str | None = await self._languages.get(redeemer)  # one person now
            told = _t(theirs, LINK_DONE_TEXT,
                      channel=_label(result.from_channel or message.channel, theirs))
            reply = _t(language, LINK_ALLOWED_TEXT, channel=_label(redeemer_channel, language))
        else:
            redeemer = await self._identities.resolve(redeemer_channel, redeemer_user, None)
            theirs = (await self._languages.get(redeemer)
                      if await self._languages.source(redeemer) else language)
            told = _t(theirs, LINK_DECLINED_TEXT, channel=_label(message.channel, theirs))
            reply = _t(language, LINK_REFUSED_TEXT, channel=_label(redeemer_channel, language))
        await self._redis.hset(self._keys.inbound_progress(stream_id), "link_tell", json.dumps(
            {"channel": redeemer_channel, "user": redeemer_user, "customer_id": redeemer,
             "text": told}))
        return reply

    async def _count_conversation(self, last_seen: float | None, message: InboundMessage
                                  ) -> None:
        """A conversation starts with the first message after an hour's quiet (as
        Rasa's session does); the reports count them per channel per day.
        `last_seen`: when the customer wrote before this message."""
        if last_seen is None or message.received_at - last_seen > CONVERSATION_GAP_S:
            await count_conversation(self._redis, message.received_at, message.channel)

    async def _contact_reply(self, message: InboundMessage) -> str:
        customer_id = await self._identities.resolve(
            message.channel, message.channel_user_id, message.display_name)
        customer_id, linked = await self._link_by_verified(customer_id, message)
        phone = e164(message.verified[0].value) if message.verified else None
        if not linked and phone is not None:  # shared again after an earlier link
            linked = await self._customers.find("sms", phone) == customer_id
        language = await self._languages.get(customer_id)
        return _t(language, PHONE_LINKED_TEXT if linked else PHONE_VERIFIED_TEXT)

    async def _detect(self, customer_id: str, message: InboundMessage, stored: dict
                      ) -> tuple[str | None, str]:
        """The language of a customer's message (None: unsure, or a button press),
        recorded on the customer (bot/customers/language.py decides what counts),
        and the customer's language after it. `stored`: the customer's language
        record, read already."""
        detected = _message_language(message)
        now = await self._languages.detected(customer_id, detected,
                                             words=count_words(message.text), stored=stored)
        return detected, now

    async def _sync_language(self, customer_id: str, sender: str, language: str | None,
                             heard: str | None = None) -> None:
        """Before a bot turn: Rasa's `language` slot follows the customer's
        language (`language`, when this turn knows it already). What this
        conversation last heard is kept per Rasa sender (with a TTL), so the
        extra call to Rasa happens only on a change (`heard`: read already)."""
        language = language or await self._languages.get(customer_id)
        key = self._keys.rasa_language(customer_id)
        if (heard or await self._redis.hget(key, sender)) == language:
            return
        if await self._rasa.set_language(sender, language):
            async with self._redis.pipeline(transaction=True) as pipe:  # one key
                pipe.hset(key, sender, language)
                pipe.expire(key, RASA_LANGUAGE_TTL_S)
                await pipe.execute()

    async def _link_by_verified(self, customer_id: str, message: InboundMessage
                                ) -> tuple[str, bool]:
        """Record what the platform proved about the sender; when another customer
        proved the same phone or email first (or is the SMS identity of that
        number), this customer joins that one. Returns (customer id now, linked?)."""
        linked = False
        for attribute in message.verified:
            recorded = await self._verified.record(customer_id, attribute, message.channel)
            if recorded is None:
                continue
            owner = recorded.owner
            if owner == customer_id and attribute.kind == "phone":
                owner = await self._customers.find("sms", recorded.attribute.value) or owner
            owner = await self._customers.live(owner)
            if owner == customer_id or await self._customers.kept_apart(customer_id, owner):
                continue
            await self._customers.merge(customer_id, owner, how=f"verified_{attribute.kind}")
            log.info("%s identity linked by a verified %s", message.channel, attribute.kind)
            customer_id, linked = owner, True
        return customer_id, linked

    async def _quotes_someone_elses_ticket(self, customer_id: str, text: str) -> bool:
        for ref in ticket_refs(text):
            owner = await self._conversations.ticket_owner(ref)
            if owner is not None and await self._customers.live(owner) != customer_id:
                return True
        return False

    async def _arrival(self, stream_id: str, message: InboundMessage
                       ) -> tuple[bool, _LinkAnswer]:
        """Whether this is the first delivery of the message (False for a second
        delivery of a message already taken, same channel and external id; True
        for the first one, including its own re-claim), and whether it was
        decided to answer a link request (`_answers_link_request`) and whether
        one is due, in one round trip."""
        seen = self._keys.inbound_seen(message.channel, message.external_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(seen, stream_id, nx=True, ex=SEEN_TTL_S)
            pipe.get(seen)
            pipe.hget(self._keys.inbound_progress(stream_id), "link_answer")
            self._links.awaiting_in(pipe, message.channel, message.channel_user_id)
            _, taken_by, link_answer, due = await pipe.execute()
        return taken_by == stream_id, _LinkAnswer(link_answer, bool(due))

    async def _bot_turn(
        self, stream_id: str, message: InboundMessage, recipient: Recipient,
        keep_alive: KeepAlive, delay: _Delay, known: _TurnContext, *,
        check_first: bool = False,
    ) -> list[OutboundMessage]:
        """Ask Rasa until it answers. The stream entry id goes with the message as
        `message_id`; before any second attempt the conversation's tracker is read
        (once Rasa's lock on it is free), so a message Rasa already recorded is not
        recorded again: its recorded replies are used, or a failed turn is reverted."""
        channel = self._channels[message.channel]
        text = message.button_payload or _plain_text(message.text)
        metadata = {"channel": message.channel, "locale": message.locale,
                    "message_id": stream_id}
        backoff = self._backoff_s
        typing = _Typing(channel, recipient, self._typing_after_s)
        sender = known.sender
        heard: str | None = None  # the language this Rasa conversation last heard
        try:
            while True:
                started = time.perf_counter()
                try:
                    if sender is None:
                        sender, heard = await self._turn_sender(stream_id,
                                                                recipient.customer_id)
                    if check_first:
                        await self._rasa_idle(sender, keep_alive)
                        recorded = await self._rasa.recorded_turn(sender, stream_id)
                        if recorded is not None:
                            log.info("%s was answered by Rasa before; its replies are reused",
                                     stream_id)
                            return recorded
                    await self._sync_language(recipient.customer_id, sender, known.language,
                                              heard)
                    heard = None  # a retry asks again
                    replies = await self._rasa.turn(sender, text, metadata)
                    metrics.BOT_TURN_SECONDS.observe(time.perf_counter() - started)
                    return replies
                except AssistantUnavailable as exc:
                    metrics.ASSISTANT_UNAVAILABLE.inc()
                    log.warning("assistant unavailable for %s: %s; retrying in %.1fs",
                                stream_id, exc, backoff)
                    check_first = True
                    await self._tell(delay, message.channel, recipient)
                    await keep_alive()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max_s)
        finally:
            await typing.stop()

    async def _turn_sender(self, stream_id: str, customer_id: str) -> tuple[str, str | None]:
        """The Rasa conversation of this message's turn, chosen once (kept in its
        progress): a retry, or a gateway taking the entry over, asks the same
        conversation whether it was answered already. (Called when the progress
        read at the start held none; if another gateway chose meanwhile, its
        choice stands.) With it, in the same round trip, the language that
        conversation last heard (None: not known here)."""
        progress = self._keys.inbound_progress(stream_id)
        conversation = await self._rasa.conversation(customer_id)
        sender = conversation.sender
        heard_key = self._keys.rasa_language(customer_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(progress, "rasa_sender", sender)
            pipe.hget(progress, "rasa_sender")
            if conversation.empty:
                # A conversation Rasa does not hold yet starts with the slot's
                # initial value (domain.yml): for a new English-speaking customer
                # no call to Rasa is needed to set it, now or on a later turn.
                pipe.hsetnx(heard_key, sender, RASA_INITIAL_LANGUAGE)
                pipe.expire(heard_key, RASA_LANGUAGE_TTL_S)
            pipe.hget(heard_key, sender)
            results = await pipe.execute()
        chosen, heard = results[1], results[-1]
        return str(chosen), heard if chosen == sender else None

    async def _rasa_idle(self, customer_id: str, keep_alive: KeepAlive) -> None:
        """Wait (at most a lease's length) until Rasa holds no lock on the
        conversation: an earlier attempt that timed out here may still be running
        there, and its outcome must be in the tracker before it is read."""
        deadline = time.monotonic() + self._leases.lease_ms / 1000
        while await self._rasa_store.conversation_busy(customer_id):
            if time.monotonic() > deadline:
                log.warning("Rasa still locks %s; asking anyway", customer_id)
                return
            await keep_alive()
            await asyncio.sleep(RASA_LOCK_POLL_S)

    async def _tell_delay_once(self, channel_name: str, recipient: Recipient) -> None:
        key = self._keys.delay_notice(recipient.customer_id)
        told = _t(await self._languages.get(recipient.customer_id), DELAY_TEXT)
        if await self._redis.set(key, "1", nx=True, ex=300):
            await self.send(channel_name, recipient, OutboundMessage(text=told, author="system"))
        await self._channels[channel_name].notice(recipient, "warning", told)


class _Delay:
    """Whether this message's customer was told about a delay (once per turn)."""

    told = False


class _Typing:
    """The typing indicator of one bot turn, shown only once the turn has taken
    `after_s`: most answers come sooner, and "typing…" flashing for a few
    milliseconds before them is noise to the customer (and two frames and two
    round trips for the gateway). Once shown, it is cleared when the turn ends."""

    def __init__(self, channel: ChannelAdapter, recipient: Recipient, after_s: float) -> None:
        self._channel, self._recipient = channel, recipient
        self._shown = False
        self._task = asyncio.create_task(self._show_after(after_s))

    async def _show_after(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._shown = True
        try:
            await self._channel.typing(self._recipient, True)
        except (RedisError, OSError) as exc:  # only an indicator: the turn goes on
            log.warning("could not show typing: %r", exc)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._shown:
            await self._channel.typing(self._recipient, False)


def _answered(progress: str) -> AckWith:
    """Marks the message answered, written with its stream acknowledgement."""
    return lambda pipe: pipe.hset(progress, "answered", "1")


@dataclass(frozen=True)
class _LinkAnswer:
    """Read on arrival: whether this entry was decided to answer a link request
    ("1"/"0", None: not decided yet), and whether one is due for its sender."""

    decided: str | None
    due: bool


@dataclass(frozen=True)
class _TurnContext:
    """What the message's handling already read, so the bot turn need not ask
    Redis again: the Rasa conversation chosen for it by an earlier attempt, and
    the customer's language after this message (None: not known here)."""

    sender: str | None
    language: str | None


_LINK_ISSUE_RE = re.compile(r"/?link", re.IGNORECASE)
NOTHING_TEXT = "?"  # what Rasa gets for a message of only slashes: a fallback
LINK_PAYLOAD = "link"  # utter_link_channels' button (domain.yml)
# Ticket references: "FD-" and 4 characters of the code alphabet.
_TICKET_RE = re.compile(r"\bFD-([A-Za-z0-9]{4})\b", re.IGNORECASE)


def ticket_refs(text: str) -> list[str]:
    """The ticket references quoted in a message, upper-cased (FD-7K2Q)."""
    refs = []
    for match in _TICKET_RE.finditer(text):
        ref = "FD-" + match[1].upper()
        if all(c in CODE_ALPHABET for c in ref[3:]) and ref not in refs:
            refs.append(ref)
    return refs
_LINK_REDEEM_RE = re.compile(r"/?link\s+([A-Za-z0-9]{4,10})", re.IGNORECASE)


def _label(channel: str, language: str | None = None) -> str:
    label = CHANNEL_LABELS.get(channel)
    return _t(language, label) if label else channel


def link_command(message: InboundMessage) -> tuple[str, str | None] | None:
    """("issue", None) for exactly "link" or "/link" (or the assistant's "Get a
    link code" button, payload "link"); ("redeem", CODE) for a message that is
    exactly a code, or "link" and a code-like token; None for anything else
    (that goes to Rasa). Deliberately no NLU: only these exact forms."""
    if message.button_payload is not None:
        return ("issue", None) if message.button_payload == LINK_PAYLOAD else None
    text = " ".join(message.text.split())
    if _LINK_ISSUE_RE.fullmatch(text):
        return ("issue", None)
    if looks_like_code(text):
        return ("redeem", text.upper())
    match = _LINK_REDEEM_RE.fullmatch(text)
    if match and any(c.isdigit() for c in match[1]):  # "link account" stays with Rasa
        return ("redeem", match[1].upper())
    return None


def _message_language(message: InboundMessage) -> str | None:
    """A typed message's language; a button press says nothing about it (its
    title is ours)."""
    return None if message.button_payload is not None else detect_language(message.text)


def _customer_entry(message: InboundMessage, language: str | None = None) -> TranscriptEntry:
    return TranscriptEntry(
        ts=message.received_at,
        channel=message.channel,
        author="customer",
        text=message.text,
        language=language,
        # web chat external ids are "<visitor>:<client id>"; the widget knows the latter
        client_id=message.external_id.rpartition(":")[2] if message.channel == "web" else None,
    )


def _plain_text(text: str) -> str:
    """Rasa reads text starting with '/' (after stripping blanks, as Rasa does) as
    an intent with entities; customers' text must never be. Leading slashes and
    blanks are stripped until neither is left ("/ /request_human", "/\t/greet");
    text of nothing else becomes NOTHING_TEXT."""
    previous = None
    while text != previous:
        previous, text = text, text.strip().lstrip("/")
    return text or NOTHING_TEXT

