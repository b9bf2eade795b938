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
        """Hash: "<channel>:<channel user id>" -> JSON {channel, channel_user_id,
        linked_at, how: first_contact | code | verified_phone | verified_email | agent,
        by (the agent, for how=agent)}."""
        return f"{self.prefix}:{{{customer_id}}}:identities"

    def customer_attributes(self, customer_id: str) -> str:
        """Hash of verified attributes: "<kind>:<value>" -> JSON {kind, value, source,
        verified_at}; kind is phone (E.164) or email (lower case). Only what a platform
        proved (an SMS sender, a Telegram contact of the user's own, a Slack profile email),
        never what the customer typed."""
        return f"{self.prefix}:{{{customer_id}}}:attributes"

    def verified_attribute(self, kind: str, value: str) -> str:
        """A verified phone or email -> the customer who proved it (for linking)."""
        return f"{self.prefix}:verified:{kind}:{value}"

    def customer_merge(self, target: str, source: str) -> str:
        """JSON record of one merge of `source` into `target`: the identities and
        attributes that moved, when, how and by whom; what an unmerge restores."""
        return f"{self.prefix}:{{{target}}}:merge:{source}"

    def customer_kept_apart(self, customer_id: str) -> str:
        """Set of customers an agent unmerged from this one: a matching verified
        phone or email does not link them again by itself."""
        return f"{self.prefix}:{{{customer_id}}}:kept-apart"

    def customer_merging(self, customer_id: str) -> str:
        """Held (briefly) while a merge or unmerge changes this customer."""
        return f"{self.prefix}:{{{customer_id}}}:merging"

    def customer_scan(self, customer_id: str) -> str:
        """A SCAN pattern for every per-customer key (they share the hash tag)."""
        return f"{self.prefix}:{{{customer_id}}}:*"

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

    # -- staff: agents, editors, admins ------------------------------------------------
    def staff_user(self, username: str) -> str:
        """Hash: username, display_name, roles (comma-separated), password_hash, created_at."""
        return f"{self.prefix}:staff:user:{username}"

    @property
    def staff_users(self) -> str:
        return f"{self.prefix}:staff:users"

    def staff_session(self, session_id: str) -> str:
        """A signed-in staff session -> username (expires)."""
        return f"{self.prefix}:staff:session:{session_id}"

    def staff_login_failures(self, username: str) -> str:
        return f"{self.prefix}:staff:login-failures:{username}"

    @property
    def audit(self) -> str:
        """Stream of who did what: staff changes, merges and unmerges, erasures."""
        return f"{self.prefix}:audit"

    # -- tickets and the agent queue (issue 6) ----------------------------------------
    # Queue keys share the {handoff} hash tag so the claim/resolve scripts touch
    # one Cluster slot; per-customer keys keep the customer's tag.
    def ticket(self, ref: str) -> str:
        """Hash of one escalation ticket, by its reference number (e.g. FD-7K2Q);
        field customer_id says whose it is."""
        return f"{self.prefix}:{{handoff}}:ticket:{ref}"

    def ticket_notes(self, ref: str) -> str:
        """Stream of agents' internal notes on a ticket (never sent to the customer)."""
        return f"{self.prefix}:{{handoff}}:ticket:{ref}:notes"

    @property
    def tickets_by_time(self) -> str:
        """Sorted set of every ticket reference by creation time (reports, listing)."""
        return f"{self.prefix}:{{handoff}}:tickets"

    def team_queue(self, team: str) -> str:
        """Sorted set of waiting ticket references: priority first, then age."""
        return f"{self.prefix}:{{handoff}}:queue:{team}"

    def agent_tickets(self, agent: str) -> str:
        """Set of the tickets an agent holds now (capacity is its size)."""
        return f"{self.prefix}:{{handoff}}:agent:{agent}:tickets"

    def agent_profile(self, agent: str) -> str:
        """Hash: teams (comma-separated), capacity."""
        return f"{self.prefix}:{{handoff}}:agent:{agent}:profile"

    @property
    def agent_presence(self) -> str:
        """Hash: agent -> JSON {status, ts}."""
        return f"{self.prefix}:{{handoff}}:presence"

    @property
    def claim_deadlines(self) -> str:
        """Sorted set: claimed ticket -> time by which the agent must reply, or it is re-queued."""
        return f"{self.prefix}:{{handoff}}:claim-deadlines"

    def team_wait_samples(self, team: str) -> str:
        """List of recent waits (seconds from escalation to claim) for the wait estimate."""
        return f"{self.prefix}:{{handoff}}:waits:{team}"

    @property
    def handoff_events(self) -> str:
        """Pub/sub channel of queue and ticket events for every connected agent console."""
        return f"{self.prefix}:handoff:events"

    @property
    def webhook_stream(self) -> str:
        return f"{self.prefix}:webhooks"

    @property
    def webhook_dead(self) -> str:
        return f"{self.prefix}:webhooks:dead"

    def customer_tickets(self, customer_id: str) -> str:
        """List of one customer's ticket references, oldest first."""
        return f"{self.prefix}:{{{customer_id}}}:tickets"

    def last_agent(self, customer_id: str) -> str:
        """The agent who resolved the customer's last ticket (expires): a customer
        writing again soon reaches the same agent if they are online."""
        return f"{self.prefix}:{{{customer_id}}}:last-agent"

    def csat_pending(self, customer_id: str) -> str:
        """Ticket whose CSAT question awaits the customer's answer (expires)."""
        return f"{self.prefix}:{{{customer_id}}}:csat-pending"

    def queue_notice(self, customer_id: str) -> str:
        """Hash: position and time of the last queue update told to the customer."""
        return f"{self.prefix}:{{{customer_id}}}:queue-notice"

    def stats_day(self, day: str) -> str:
        """Hash of counters for one UTC day (conversations, escalations, … per channel)."""
        return f"{self.prefix}:stats:{day}"

    def live_log(self, customer_id: str) -> str:
        """Pub/sub channel of every transcript entry of one customer, for the agent
        console (whatever the channel; the customer's own live channel only
        carries what their web chat shows)."""
        return f"{self.prefix}:live:{{{customer_id}}}:log"
    # -- Rasa's own keys (endpoints.yml: RedisTrackerStore / RedisLockStore, prefix "rasa") --
    @staticmethod
    def rasa_tracker(sender_id: str) -> str:
        """Rasa's tracker of one conversation; its sender id is our customer id."""
        return f"rasa:tracker:{sender_id}"

    @staticmethod
    def rasa_lock(sender_id: str) -> str:
        return f"rasa:lock:{sender_id}"

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

    def slack_user_email(self, user_id: str) -> str:
        """Cached profile email from users.info (Slack verified it); "" when none."""
        return f"{self.prefix}:slack:user-email:{user_id}"

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

    @property
    def unanswered_resolved(self) -> str:
        """Hash: unanswered stream entry id -> how it was dealt with ("picked:<article>"
        when the customer pressed a clarification button, "variant:<article>",
        "new:<article>" or "dismissed" when an editor handled it)."""
        return f"{self.prefix}:kb:unanswered:resolved"

    def clarify_pending(self, customer_id: str) -> str:
        """The unanswered entry id of the clarification a customer was last offered,
        until they press one of its buttons (expires)."""
        return f"{self.prefix}:{{{customer_id}}}:kb:clarify-pending"


KEYS = Keys()
