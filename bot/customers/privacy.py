"""Export and erasure of everything Front Door keeps about one customer:
`frontdoor customer export|erase ID` and the admin API.

"The customer" is the person: the live customer an id resolves to (following
merged_into) together with every customer merged into it, whose data is kept
for an unmerge. The person is gathered once, before anything is deleted (a
`core.personal.Person`: their customer ids, channel identities, ticket refs and
what they wrote); then every part that keeps personal data (the list in
bot/customers/parts.py) exports or erases its own share, through the one
`PersonalData` interface. Each part knows only its own keys:

- customers: the customer records, transcripts, identities, verified
  attributes and their index, merge records, link codes and rate limits;
- gateway: their entries in the inbound and outbox streams (and dead
  letters), with the deduplication and progress keys of their messages;
- channels: Slack reply target, cached name and email, pressed buttons; SMS
  numbered options and sent-part counters; Telegram sent-part counters;
- handoff: their tickets and notes, wherever the tickets are queued or held,
  webhook deliveries about them, owner, sticky agent, CSAT and queue notices;
- knowledge: their questions in the editors' "unanswered" stream, cached
  embeddings of them, a pending clarification;
- Rasa: the tracker (`rasa:tracker:<id>`) and lock.

Kept on purpose (each key class's `kept` says why): an SMS opt-out
(`sms:opted-out:<phone>`). Carriers require that a number that texted STOP is
never messaged again until it texts START; erasing the flag would let the next
agent reply reach a phone that refused us. The audit stream keeps the (random,
meaningless) customer ids of merges and of the erasure itself, as the record
that it happened.

Deleted keys live on in Redis's append-only file until it is rewritten, so an
erasure ends by starting an AOF rewrite when AOF is on (`core/aof.py`); where
the Redis service refuses that (managed Redis), the outcome says an operator
must rewrite it, and the CLI and API pass that on.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.customers.parts import personal_data_parts
from bot.customers.personal import CustomerData
from core.aof import AofOutcome, rewrite_after_erase
from core.personal import Person, PersonalData
from handoff.lookup import HandoffLookup

# The export's sections of each customer, in this order (unknown ones follow).
SECTIONS = ("profile", "identities", "verified_attributes", "merges", "owner", "transcript",
            "tickets", "assistant_memory", "sms_opted_out")


@dataclass(frozen=True)
class Erasure:
    customer_ids: list[str]
    """The customer ids erased (the live one first)."""
    aof: AofOutcome
    """What became of the append-only file's copies of the erased values."""


class Privacy:
    def __init__(self, redis: Redis, parts: list[PersonalData] | None = None, *,
                 rasa_redis: Redis | None = None) -> None:
        """`rasa_redis`: where Rasa keeps its trackers, when not in our Redis."""
        self._redis = redis
        self._rasa_redis = rasa_redis if rasa_redis is not redis else None
        self._customers = CustomerData(redis)
        self._handoff = HandoffLookup(redis)
        self._parts = parts if parts is not None else personal_data_parts(redis, rasa_redis)

    async def people(self, customer_id: str) -> list[str]:
        """The live customer and everyone merged into it, recursively."""
        return await self._customers.people(customer_id)

    async def person(self, customer_id: str) -> Person:
        person = await self._customers.person(customer_id)
        refs = [ref for customer in person.customer_ids
                for ref in await self._handoff.tickets_of(customer)]
        return dataclasses.replace(person, ticket_refs=tuple(dict.fromkeys(refs)))

    # -- export ------------------------------------------------------------------------
    async def export(self, customer_id: str) -> dict:
        person = await self.person(customer_id)
        sections: dict[str, dict] = {c: {} for c in person.customer_ids}
        for part in self._parts:
            for customer, found in (await part.export(person)).items():
                sections.setdefault(customer, {}).update(found)
        return {"customer_id": person.customer_ids[0], "exported_at": time.time(),
                "customers": [_ordered(c, sections[c]) for c in person.customer_ids]}

    # -- erasure -----------------------------------------------------------------------
    async def erase(self, customer_id: str) -> Erasure:
        """Erase the person behind `customer_id`, then have Redis rewrite its
        append-only file; returns the customer ids erased and the AOF outcome."""
        person = await self.person(customer_id)
        for part in self._parts:
            await part.erase(person)
        outcome = await rewrite_after_erase(self._redis)
        if self._rasa_redis is not None:  # Rasa's own Redis keeps its own file
            rasa_outcome = await rewrite_after_erase(self._rasa_redis)
            if rasa_outcome.status == "operator":  # an operator must act: say so
                outcome = rasa_outcome
        return Erasure(list(person.customer_ids), outcome)


def _ordered(customer_id: str, sections: dict) -> dict:
    known = {name: sections[name] for name in SECTIONS if name in sections}
    return {"customer_id": customer_id, **known,
            **{k: v for k, v in sections.items() if k not in known}}
