"""The handoff part's Redis keys: tickets, the agent queue, agents, webhooks,
per-customer handoff state and the daily report counters.

Queue keys share the {handoff} hash tag so the claim/resolve scripts touch
one Cluster slot; so does each customer's list of tickets (written with the
ticket); the rest of per-customer keys keep the customer's tag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class HandoffKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "agent_profile": "an agent's teams and capacity (staff, not customers)",
        "agent_presence": "agents' presence (staff, not customers)",
        "team_wait_samples": "recent waits in seconds; no ticket or customer",
        "handoff_events": "a pub/sub channel: messages pass through, nothing is stored",
        "stats_day": "counters per channel, reason and day; no customer",
        "webhook_done": "a delivered-flag named by the webhook delivery's id; expires",
    }

    def ticket(self, ref: str) -> str:
        """Hash of one escalation ticket, by its reference number (e.g. FD-7K2Q);
        field customer_id says whose it is."""
        return f"{self.handoff_tag}:ticket:{ref}"

    def ticket_notes(self, ref: str) -> str:
        """Stream of agents' internal notes on a ticket (never sent to the customer)."""
        return f"{self.handoff_tag}:ticket:{ref}:notes"

    @property
    def tickets_by_time(self) -> str:
        """Sorted set of every ticket reference by creation time (reports, listing)."""
        return f"{self.handoff_tag}:tickets"

    def team_queue(self, team: str) -> str:
        """Sorted set of waiting ticket references: priority first, then age."""
        return f"{self.handoff_tag}:queue:{team}"

    def agent_tickets(self, agent: str) -> str:
        """Set of the tickets an agent holds now (capacity is its size)."""
        return f"{self.handoff_tag}:agent:{agent}:tickets"

    def agent_profile(self, agent: str) -> str:
        """Hash: teams (comma-separated), capacity."""
        return f"{self.handoff_tag}:agent:{agent}:profile"

    @property
    def agent_presence(self) -> str:
        """Hash: agent -> JSON {status, ts}."""
        return f"{self.handoff_tag}:presence"

    @property
    def claim_deadlines(self) -> str:
        """Sorted set: claimed ticket -> time by which the agent must reply, or it is re-queued."""
        return f"{self.handoff_tag}:claim-deadlines"

    def team_wait_samples(self, team: str) -> str:
        """List of recent waits (seconds from escalation to claim), for the expected
        wait."""
        return f"{self.handoff_tag}:waits:{team}"

    @property
    def handoff_events(self) -> str:
        """Pub/sub channel of queue and ticket events for every connected agent console
        (public: the live hub relays it to the consoles)."""
        return f"{self.prefix}:handoff:events"

    @property
    def webhook_stream(self) -> str:
        return f"{self.prefix}:webhooks"

    @property
    def webhook_dead(self) -> str:
        return f"{self.prefix}:webhooks:dead"

    def webhook_done(self, delivery_id: str) -> str:
        """Set once a webhook delivery went out (no resend on retry)."""
        return f"{self.prefix}:webhooks:done:{delivery_id}"

    # -- per customer ----------------------------------------------------------------
    def customer_tickets(self, customer_id: str) -> str:
        """List of one customer's ticket references, oldest first. Under {handoff},
        not the customer's tag: a new ticket enters it in the same MULTI as the queue."""
        return f"{self.handoff_tag}:customer:{customer_id}:tickets"

    def owner(self, customer_id: str) -> str:
        """Who talks to the customer now: bot, queue or agent:<name>
        (docs/architecture.md#owner)."""
        return f"{self.customer_tag(customer_id)}:owner"

    def last_agent(self, customer_id: str) -> str:
        """The agent who resolved the customer's last ticket (expires): a customer
        writing again soon reaches the same agent if they are online."""
        return f"{self.customer_tag(customer_id)}:last-agent"

    def csat_pending(self, customer_id: str) -> str:
        """Ticket whose CSAT question awaits the customer's answer (expires)."""
        return f"{self.customer_tag(customer_id)}:csat-pending"

    def queue_notice(self, customer_id: str) -> str:
        """Hash: position and time of the last queue update told to the customer."""
        return f"{self.customer_tag(customer_id)}:queue-notice"

    def waiting_ack(self, customer_id: str) -> str:
        """Set (expiring) while a waiting customer's last acknowledgement is recent."""
        return f"{self.customer_tag(customer_id)}:waiting-ack"

    # -- reports ---------------------------------------------------------------------
    def stats_day(self, day: str) -> str:
        """Hash of counters for one UTC day (conversations, escalations, … per channel)."""
        return f"{self.prefix}:stats:{day}"


HANDOFF_KEYS = HandoffKeys()
