"""The customers part's Redis keys: customers, identities, verified attributes,
transcripts, merges and linking codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class CustomerKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "link_failures": "a per-channel counter of failed code redemptions (it slows "
                         "redemptions down, never stops them); no identity",
    }

    def identity(self, channel: str, channel_user_id: str) -> str:
        return f"{self.prefix}:identity:{channel}:{channel_user_id}"

    def customer(self, customer_id: str) -> str:
        return f"{self.customer_tag(customer_id)}:customer"

    def transcript(self, customer_id: str) -> str:
        return f"{self.customer_tag(customer_id)}:transcript"

    def customer_identities(self, customer_id: str) -> str:
        """Hash: "<channel>:<channel user id>" -> JSON {channel, channel_user_id,
        linked_at, how: first_contact | code | verified_phone | verified_email | agent,
        by (the agent, for how=agent)}."""
        return f"{self.customer_tag(customer_id)}:identities"

    def customer_attributes(self, customer_id: str) -> str:
        """Hash of verified attributes: "<kind>:<value>" -> JSON {kind, value, source,
        verified_at}; kind is phone (E.164) or email (lower case). Only what a platform
        proved (an SMS sender, a Telegram contact of the user's own, a Slack profile email),
        never what the customer typed."""
        return f"{self.customer_tag(customer_id)}:attributes"

    def verified_attribute(self, kind: str, value: str) -> str:
        """A verified phone or email -> the customer who proved it (for linking)."""
        return f"{self.prefix}:verified:{kind}:{value}"

    def customer_merge(self, target: str, source: str) -> str:
        """JSON record of one merge of `source` into `target`: the identities and
        attributes that moved, when, how and by whom; what an unmerge restores."""
        return f"{self.customer_tag(target)}:merge:{source}"

    def customer_kept_apart(self, customer_id: str) -> str:
        """Set of customers an agent unmerged from this one: a matching verified
        phone or email does not link them again by itself."""
        return f"{self.customer_tag(customer_id)}:kept-apart"

    def customer_merging(self, customer_id: str) -> str:
        """Held (briefly) while a merge or unmerge changes this customer."""
        return f"{self.customer_tag(customer_id)}:merging"

    def customer_merged_from(self, customer_id: str) -> str:
        """Set of customer ids whose transcripts were copied into this one (for unmerge)."""
        return f"{self.customer_tag(customer_id)}:merged-from"

    def customer_language(self, customer_id: str) -> str:
        """Hash {language, source, at}: the customer's language on every channel;
        source is detected | customer | widget | agent (an explicit choice wins over
        detection)."""
        return f"{self.customer_tag(customer_id)}:language"

    def link_attempts_customer(self, customer_id: str) -> str:
        """Code redemption attempts by any identity of one customer (fixed window)."""
        return f"{self.customer_tag(customer_id)}:link-attempts"

    # -- linking by one-time code ----------------------------------------------------
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
        """Failed redemptions on one channel (fixed window): past a budget every
        redemption there is slowed down (guessing by an attacker who rotates
        identities, e.g. fresh web visitor ids), never refused."""
        return f"{self.prefix}:link:failures:{channel}"

    def link_pending(self, channel: str, channel_user_id: str) -> str:
        """A redeemed code awaiting the issuing identity's YES -> JSON {customer_id
        (the code's), code_channel, channel and channel_user_id (the redeemer),
        requested_at}; lives a few minutes."""
        return f"{self.prefix}:link:pending:{channel}:{channel_user_id}"


CUSTOMER_KEYS = CustomerKeys()
