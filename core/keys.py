"""Every Redis key name the project uses, in one place.

Per-customer keys carry the customer id as a hash tag (`{c_...}`) so that, on
Redis Cluster, all of one customer's data lives in one slot (DESIGN §10).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "fd"

    # -- inbound ---------------------------------------------------------------
    @property
    def inbound_stream(self) -> str:
        return f"{self.prefix}:inbound"

    @property
    def inbound_dead(self) -> str:
        return f"{self.prefix}:inbound:dead"

    def inbound_seen(self, channel: str, external_id: str) -> str:
        return f"{self.prefix}:seen:{channel}:{external_id}"

    def inbound_progress(self, stream_id: str) -> str:
        return f"{self.prefix}:progress:{stream_id}"

    # -- identity and customers --------------------------------------------------
    def identity(self, channel: str, channel_user_id: str) -> str:
        return f"{self.prefix}:identity:{channel}:{channel_user_id}"

    def customer(self, customer_id: str) -> str:
        return f"{self.prefix}:{{{customer_id}}}:customer"

    def transcript(self, customer_id: str) -> str:
        return f"{self.prefix}:{{{customer_id}}}:transcript"

    def customer_identities(self, customer_id: str) -> str:
        """Hash: "<channel>:<channel user id>" -> JSON
        {channel, channel_user_id, linked_at, how: first_contact | code}."""
        return f"{self.prefix}:{{{customer_id}}}:identities"

    def customer_merged_from(self, customer_id: str) -> str:
        """Set of customer ids whose transcripts were copied into this one (for unmerge)."""
        return f"{self.prefix}:{{{customer_id}}}:merged-from"

    def link_attempts_customer(self, customer_id: str) -> str:
        """Code redemption attempts by any identity of one customer (fixed window)."""
        return f"{self.prefix}:{{{customer_id}}}:link-attempts"

    # -- linking by one-time code (issue 5) ----------------------------------------
    def link_code(self, code: str) -> str:
        """A live one-time code -> JSON {customer_id, channel, channel_user_id, issued_at}."""
        return f"{self.prefix}:link:code:{code}"

    def link_issued(self, channel: str, channel_user_id: str) -> str:
        """Codes issued to one identity in the current hour (fixed window)."""
        return f"{self.prefix}:link:issued:{channel}:{channel_user_id}"

    def link_attempts(self, channel: str, channel_user_id: str) -> str:
        """Code redemption attempts from one identity (fixed window)."""
        return f"{self.prefix}:link:attempts:{channel}:{channel_user_id}"

    def link_failures(self, channel: str) -> str:
        """Failed redemptions on one channel (fixed window): a ceiling on guessing
        by an attacker who rotates identities (e.g. fresh web visitor ids)."""
        return f"{self.prefix}:link:failures:{channel}"

    def owner(self, customer_id: str) -> str:
        return f"{self.prefix}:{{{customer_id}}}:owner"

    def delay_notice(self, customer_id: str) -> str:
        return f"{self.prefix}:{{{customer_id}}}:delay-notice"

    def live(self, customer_id: str) -> str:
        """Pub/sub channel carrying live frames (entries, typing, notices) for one customer."""
        return f"{self.prefix}:live:{{{customer_id}}}"

    # -- outbox ------------------------------------------------------------------
    @property
    def outbox_stream(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def outbox_dead(self) -> str:
        return f"{self.prefix}:outbox:dead"

    def outbox_done(self, outbox_id: str) -> str:
        return f"{self.prefix}:outbox:done:{outbox_id}"

    # -- channels ------------------------------------------------------------------
    def telegram_callback(self, token: str) -> str:
        """Button payloads too long for Telegram's 64-byte callback_data."""
        return f"{self.prefix}:tg:callback:{token}"

    def telegram_direct_reply(self, update_id: str) -> str:
        """Set once a non-text update got its direct reply, so a redelivery does not repeat it."""
        return f"{self.prefix}:tg:replied:{update_id}"

    def telegram_sent_parts(self, entry_key: str) -> str:
        """How many Telegram messages of a long, split entry went out (no resend on retry)."""
        return f"{self.prefix}:tg:sent-parts:{entry_key}"

    def sms_options(self, phone: str) -> str:
        """The numbered options last offered to a phone ("reply 1, 2 or 3")."""
        return f"{self.prefix}:sms:options:{phone}"

    def sms_opted_out(self, phone: str) -> str:
        return f"{self.prefix}:sms:opted-out:{phone}"

    def sms_handled(self, message_sid: str) -> str:
        """An inbound SMS the gateway answered itself (STOP/START/HELP, media only):
        set once, so a redelivered webhook is not answered twice."""
        return f"{self.prefix}:sms:handled:{message_sid}"

    def sms_sent_parts(self, entry_key: str) -> str:
        """How many SMS of a long, split entry went out (no resend on retry)."""
        return f"{self.prefix}:sms:sent-parts:{entry_key}"

    def slack_handled_event(self, event_id: str) -> str:
        return f"{self.prefix}:slack:event:{event_id}"

    def slack_reply_to(self, user_id: str) -> str:
        """Where replies to a Slack user go: their DM, or the thread they mentioned us in."""
        return f"{self.prefix}:slack:reply-to:{user_id}"

    def slack_request_seen(self, signature: str) -> str:
        """A signed request already taken (replay protection within the 5-minute window)."""
        return f"{self.prefix}:slack:request:{signature}"

    def slack_user_name(self, user_id: str) -> str:
        """Cached display name from users.info."""
        return f"{self.prefix}:slack:user-name:{user_id}"

    def slack_pressed(self, channel_id: str, message_ts: str) -> str:
        """A bot message whose buttons were already pressed once."""
        return f"{self.prefix}:slack:pressed:{channel_id}:{message_ts}"

    def slack_sent_parts(self, entry_id: str) -> str:
        """How many Slack messages of a long, split entry went out (no resend on retry)."""
        return f"{self.prefix}:slack:sent-parts:{entry_id}"

    # -- knowledge -----------------------------------------------------------------
    def article(self, article_id: str) -> str:
        return f"{self.prefix}:kb:article:{article_id}"

    def article_versions(self, article_id: str) -> str:
        return f"{self.prefix}:kb:article:{article_id}:versions"

    @property
    def article_ids(self) -> str:
        return f"{self.prefix}:kb:ids"

    @property
    def kb_revision(self) -> str:
        """Bumped on every publish; every process rebuilds its index when it moves."""
        return f"{self.prefix}:kb:revision"

    @property
    def kb_seeded(self) -> str:
        return f"{self.prefix}:kb:seeded"

    def embedding(self, model: str, text_sha: str) -> str:
        return f"{self.prefix}:kb:emb:{model}:{text_sha}"

    def kb_head(self, model: str, content_sha: str) -> str:
        """A fitted answer head and its thresholds, for one exact set of published
        variants (and head settings): fitted once, shared by every replica."""
        return f"{self.prefix}:kb:head:{model}:{content_sha}"

    @property
    def unanswered(self) -> str:
        return f"{self.prefix}:kb:unanswered"


KEYS = Keys()
