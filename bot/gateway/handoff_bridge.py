"""Where the gateway meets the handoff service.

- For the router: a CSAT answer is handled before Rasa; a waiting customer's
  message is acknowledged with their ticket reference (at most once per
  burst, handoff/waiting_ack.py), with where they stand when that is due.
  (After resolve the bot answers again; a customer who asks for a person again
  soon reaches the same agent if they are online: HandoffService.escalate.)
- For the agent console (handoff/api.py): the customer's profile and unified
  timeline, live entries, and delivery of agent and system messages to the
  customer's reply channel, rendered for it by the usual outbox.
- In the background: queue-position updates when the queue moves, and the
  sweep that re-queues claims an agent never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from redis.asyncio import Redis

from bot.channels.base import Recipient
from bot.customers.language import CustomerLanguages
from bot.customers.merge import Customers, NoReplyTarget
from bot.customers.transcript import TranscriptStore
from bot.gateway.rasa_client import RasaClient
from bot.gateway.replies import ReplySender
from bot.infra.live import LiveHub
from bot.rendering.web import entry_view, markdown_to_html
from core.models import OWNER_BOT, OWNER_QUEUE, Author, Button, InboundMessage, OutboundMessage
from core.staff import StaffStore
from handoff.lookup import HandoffLookup
from handoff.messages import (
    CSAT_SCORES,
    csat_button_title,
    csat_text,
    csat_thanks_text,
    update_text,
)
from handoff.models import QueueStanding
from handoff.ratings import typed_rating
from handoff.service import HandoffService
from handoff.waiting_ack import WaitingAcknowledger, acknowledgement_text
from knowledge.store import ArticleStore

log = logging.getLogger(__name__)
CSAT_PAYLOAD_RE = re.compile(r'/csat\{"score":([1-5])\}')


def csat_buttons(language: str) -> tuple[Button, ...]:
    return tuple(Button(title=csat_button_title(n, language), payload=f'/csat{{"score":{n}}}')
                 for n, _word in CSAT_SCORES)

QUEUE_EVENTS = ("ticket.claimed", "ticket.requeued", "ticket.released", "ticket.transferred",
                "ticket.resolved", "ticket.returned")
# Events after which a customer's conversation state (the web chat header) may differ.
STATE_EVENTS = (*QUEUE_EVENTS, "ticket.created")
ASSISTANT_STATE = {"type": "state", "state": "assistant"}



class HandoffBridge:
    def __init__(self, redis: Redis, replies: ReplySender, transcripts: TranscriptStore,
                 hub: LiveHub, rasa: RasaClient, handoff: HandoffService,
                 articles: ArticleStore) -> None:
        self._redis = redis
        self._replies = replies
        self._transcripts = transcripts
        self._articles = articles
        self._hub = hub
        self._rasa = rasa
        self.handoff = handoff
        self._customers = Customers(redis)
        self._languages = CustomerLanguages(redis)
        self._staff = StaffStore(redis)
        self._acks = WaitingAcknowledger(redis, handoff.settings.waiting_ack_interval_s)
        self._lookup = HandoffLookup(redis)
        self._tasks: list[asyncio.Task] = []

    # -- router hooks -------------------------------------------------------------------
    async def before_bot(self, customer_id: str, message: InboundMessage,
                         recipient: Recipient) -> bool:
        match = CSAT_PAYLOAD_RE.fullmatch(message.button_payload or "")
        if match:
            await self._rated(customer_id, int(match[1]), message)
            return True  # a stale rating button is not a question for the bot either
        # A rating typed instead of pressed ("5", "4/5", "⭐⭐⭐⭐⭐", "fünf") counts
        # only while one is asked; otherwise the message is the bot's as usual.
        typed = typed_rating(message.text) if message.button_payload is None else None
        return typed is not None and await self._rated(customer_id, typed, message)

    async def _rated(self, customer_id: str, score: int, message: InboundMessage) -> bool:
        """Record the rating the customer was asked for and thank them; False when
        no rating was asked (nothing recorded)."""
        if await self.handoff.record_csat(customer_id, score, channel=message.channel) is None:
            return False
        thanks = csat_thanks_text(await self.language(customer_id))
        await self.tell(customer_id, thanks, channel=message.channel,
                        channel_user_id=message.channel_user_id)
        return True

    async def person_owned(self, customer_id: str, owner: str, message: InboundMessage,
                           recipient: Recipient) -> None:
        if owner != OWNER_QUEUE:
            return  # an agent holds it and sees the message live
        ticket = await self.handoff.open_ticket_of(customer_id)
        if ticket is not None:
            # Its queue card shows the last thing they wrote: every console refreshes.
            await self.handoff.publish({"type": "ticket.message", "ticket": ticket.view()})
        if ticket is not None and await self._acks.due(customer_id):  # once per burst
            standing = await self.handoff.standing(ticket)
            remind = await self._standing_due(customer_id, standing, reminder=True)
            await self.tell(customer_id, acknowledgement_text(
                ticket.ref, await self.language(customer_id), standing if remind else None))

    # -- the console's view of the gateway (handoff.ports.Gateway) ----------------------
    async def timeline(self, customer_id: str, limit: int = 2000) -> list[dict]:
        customer_id = await self._customers.live(customer_id)
        return await self._transcripts.views(customer_id, limit)

    async def profile(self, customer_id: str) -> dict:
        """Profile, verified attributes, linked channels and reply channel of the
        customer (followed to the customer they were merged into, if any)."""
        return await self._customers.profile(await self._customers.live(customer_id))

    def watch(self, customer_id: str):
        return self._hub.subscribe_log(customer_id)

    def events(self):
        return self._hub.subscribe_handoff()

    async def deliver(self, customer_id: str, text: str, *, author: Author = "agent",
                      buttons: tuple[Button, ...] = (), channel: str | None = None,
                      channel_user_id: str | None = None) -> dict:
        """Send to the customer's reply channel (the one they used last, unless
        a channel is given) through the outbox; returns the transcript entry."""
        customer_id = await self._customers.live(customer_id)
        if channel is None or channel_user_id is None:
            channel, channel_user_id = await self.reply_target(customer_id, channel)
        recipient = Recipient(customer_id, channel_user_id)
        entry = await self._replies.send(channel, recipient, OutboundMessage(
            text=text, author=author, buttons=buttons))
        return entry_view(entry)

    async def tell(self, customer_id: str, text: str, **where) -> dict:
        return await self.deliver(customer_id, text, author="system", **where)

    async def ask_csat(self, customer_id: str, ref: str) -> None:
        await self.handoff.expect_csat(customer_id, ref)
        language = await self.language(customer_id)
        await self.deliver(customer_id, csat_text(language), author="system",
                           buttons=csat_buttons(language))

    async def reply_target(self, customer_id: str, channel: str | None = None
                           ) -> tuple[str, str]:
        """(channel, channel user id): the given channel if the customer has an
        identity there, else the customer's reply channel (pinned, or last used)."""
        if channel is None:
            try:
                return await self._customers.reply_target(customer_id)
            except NoReplyTarget as exc:
                raise LookupError(f"customer {customer_id} has no channel to reply on") \
                    from exc
        for identity in await self._customers.identities(customer_id):
            if identity["channel"] == channel:
                return channel, identity["channel_user_id"]
        raise LookupError(f"customer {customer_id} has no {channel} identity")

    async def reset_dialogue(self, customer_id: str) -> None:
        await self._rasa.reset_dialogue(customer_id)

    async def agent_name(self, username: str) -> str:
        return await self._staff.display_name(username)

    async def language(self, customer_id: str) -> str:
        return await self._languages.get(await self._customers.live(customer_id))

    async def customer_card(self, customer_id: str) -> dict:
        """Name, channel identities, reply channel and the last thing the
        customer wrote (within their last 20 entries), for a queue card."""
        glance = await self._customers.glance(await self._customers.live(customer_id))
        return {"display_name": glance["display_name"], "last_channel": glance["reply_channel"],
                "identities": glance["identities"], "last_text": glance["last_text"][:1000]}

    async def search_answers(self, query: str, limit: int = 10,
                             language: str | None = None) -> list[dict]:
        """Published articles whose text in any language holds every word of
        `query`, at most `limit` of them; one {id, title, answer, language} entry
        per language each article is written in, `language` (the customer's)
        first, else the article's main language first."""
        words = query.lower().split()
        found = []
        for article in await self._articles.all():
            if article.status != "published":
                continue
            texts = {code: article.text(code) for code in article.languages}
            title = " ".join(t.title for t in texts.values()).lower()
            text = " ".join((title, *(q for t in texts.values() for q in t.questions),
                             *(t.answer for t in texts.values()))).lower()
            if all(word in text for word in words):
                in_title = sum(word in title for word in words)
                order = sorted(texts, key=lambda code: code != language)
                found.append((-in_title, article.title.lower(), [
                    {"id": article.id, "title": texts[code].title, "answer": texts[code].answer,
                     "html": markdown_to_html(texts[code].answer), "language": code}
                    for code in order]))
        found.sort(key=lambda f: f[:2])
        return [entry for *_, entries in found[:limit] for entry in entries]

    # -- the conversation's state (the web chat header) ----------------------------------
    async def state(self, customer_id: str | None) -> dict:
        """Who the customer is talking to now, as a `state` frame of the web chat:
        the assistant; waiting for a person (with their place in the queue, the
        same the handoff service tells them); an agent ("Sam" of "Customer
        support"); or closed (queued outside the team's hours)."""
        if customer_id is None:
            return ASSISTANT_STATE
        owner = await self._lookup.owner(customer_id) or OWNER_BOT
        ticket = None if owner == OWNER_BOT else await self.handoff.open_ticket_of(customer_id)
        if ticket is None:
            return ASSISTANT_STATE
        team = self.handoff.teams.teams.get(ticket.team)
        team_name = team.name if team else ticket.team
        if ticket.status == "claimed" and ticket.agent:
            return {"type": "state", "state": "agent", "team": team_name,
                    "agent": await self.agent_name(ticket.agent)}
        standing = await self.handoff.standing(ticket)
        if not standing.team_open:
            return {"type": "state", "state": "closed", "team": team_name}
        return {"type": "state", "state": "queued", "team": team_name,
                "position": standing.position}

    async def _publish_state(self, customer_id: str) -> None:
        await self._hub.publish(customer_id, await self.state(customer_id))

    # -- background work ------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sweep_forever(), name="claim-sweeper"),
                       asyncio.create_task(self._follow_queue(), name="queue-updates")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep_forever(self, every_s: float = 2.0) -> None:
        while True:
            try:
                await self.handoff.expire_claims()
            except Exception:
                log.exception("claim sweep failed; trying again")
            await asyncio.sleep(every_s)

    async def _follow_queue(self) -> None:
        """When a queue moves, the customers still waiting in it may hear their
        new position."""
        async with self.events() as events:
            while True:
                event = await events.get()
                if event.get("type") not in STATE_EVENTS:
                    continue
                try:
                    # Pub/sub is one namespace for the whole Redis server: an event
                    # about a ticket this database does not hold (another deployment
                    # on another database) is not ours to answer with a header.
                    held = await self.handoff.queue.find(event["ticket"]["ref"])
                    if held is None or held.customer_id != event["ticket"]["customer_id"]:
                        continue
                    await self._update_states(event["ticket"])
                    if event["type"] in QUEUE_EVENTS:
                        await self._update_team(event["ticket"]["team"])
                except Exception:
                    log.exception("queue update for %s failed", event["ticket"]["team"])

    async def _update_states(self, ticket: dict) -> None:
        """The web chat headers of this ticket's customer and of everyone still
        waiting in its team's queue (their places moved). Every gateway sends
        them: a repeated state frame changes nothing."""
        await self._publish_state(ticket["customer_id"])
        for ref in await self.handoff.queue.waiting(ticket["team"]):
            waiting = await self.handoff.queue.find(ref)
            if waiting is not None and waiting.customer_id != ticket["customer_id"]:
                await self._publish_state(waiting.customer_id)

    async def _update_team(self, team: str) -> None:
        for ref in await self.handoff.queue.waiting(team):
            ticket = await self.handoff.queue.find(ref)
            if ticket is not None:
                await self._tell_standing(ticket.customer_id,
                                          await self.handoff.standing(ticket))

    async def _standing_due(self, customer_id: str, standing: QueueStanding, *,
                            reminder: bool = False) -> bool:
        """Whether to tell the customer where they stand now (records that it is told)."""
        if standing.position is None or not standing.team_open:
            return False
        channel, _ = await self.reply_target(customer_id)
        s = self.handoff.settings
        interval = s.sms_position_update_interval_s if channel == "sms" \
            else s.position_update_interval_s
        return await self.handoff.should_tell_standing(customer_id, standing.position, interval,
                                                       reminder=reminder)

    async def _tell_standing(self, customer_id: str, standing: QueueStanding) -> None:
        if await self._standing_due(customer_id, standing):
            await self.tell(customer_id, update_text(standing, await self.language(customer_id)))
