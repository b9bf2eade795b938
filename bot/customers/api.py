"""The customer API for agents and admins: a customer's profile,
linked channels and unified transcript; merge, unmerge, the reply channel and
the customer's language;
export and erasure for admins. JSON only: customer text stays data.

Every change is audited (who, when, which customers)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from bot.customers.merge import (
    CUSTOMER_ID_RE,
    BadReplyChannel,
    Customers,
    MergeRefused,
    NoReplyTarget,
)
from bot.customers.privacy import Privacy
from bot.customers.responses import (
    CustomerExport,
    CustomerFound,
    CustomerLanguage,
    CustomerTranscript,
    Merged,
    ReplyChannel,
    Unmerged,
)
from bot.gateway.services import Services, services
from core.responses import CustomerProfile
from core.staff import StaffUser
from core.webauth import require_staff

router = APIRouter(tags=["customers"])
ChannelName = Literal["web", "telegram", "slack", "sms"]


class MergeBody(BaseModel):
    customer_id: str = Field(description="The customer merged into this one (it goes away).")


class UnmergeBody(BaseModel):
    customer_id: str = Field(description="A customer merged into this one, to restore.")


class LanguageBody(BaseModel):
    language: Literal["en", "de"] = Field(
        description="The customer's language from now on, on every channel.")


class ReplyChannelBody(BaseModel):
    channel: ChannelName | None = Field(
        description="Where replies go; null: the channel the customer used last.")
    channel_user_id: str | None = Field(None, max_length=200)


def _customers(svc: Services) -> Customers:
    return Customers(svc.redis)


async def _existing(svc: Services, customer_id: str) -> Customers:
    customers = _customers(svc)
    if not CUSTOMER_ID_RE.fullmatch(customer_id) or not await customers.exists(customer_id):
        raise HTTPException(404, f"no customer {customer_id!r}")
    return customers


async def _audit(request: Request, actor: StaffUser, action: str, **details: str) -> None:
    await services(request).staff.audit(actor.username, action, **details)


@router.get("/api/customers", response_model=CustomerFound)
async def find_customer(channel: ChannelName, channel_user_id: str = Query(max_length=200),
                        _: StaffUser = Depends(require_staff("agent")),
                        svc: Services = Depends(services)) -> dict:
    """Search by identity: the customer behind a channel user (e.g. a phone number)."""
    customers = _customers(svc)
    found = await customers.find(channel, channel_user_id)
    if found is None:
        raise HTTPException(404, "nobody has written from that identity")
    return {"customer_id": await customers.live(found)}


@router.get("/api/customers/{customer_id}", response_model=CustomerProfile)
async def customer_profile(customer_id: str, _: StaffUser = Depends(require_staff("agent")),
                           svc: Services = Depends(services)) -> dict:
    """Profile, verified attributes, identities (how and when linked), merges."""
    return await (await _existing(svc, customer_id)).profile(customer_id)


@router.get("/api/customers/{customer_id}/transcript", response_model=CustomerTranscript)
async def customer_transcript(customer_id: str, limit: int = Query(500, ge=1, le=5000),
                              _: StaffUser = Depends(require_staff("agent")),
                              svc: Services = Depends(services)) -> dict:
    """The unified timeline across channels, oldest first: every entry with its
    channel, author and time (and, for an entry merged in, the customer it came from)."""
    await _existing(svc, customer_id)
    entries = await svc.transcripts.timeline(customer_id, limit)
    return {"customer_id": customer_id,
            "entries": [e.model_dump(mode="json") for e in entries]}


@router.post("/api/customers/{customer_id}/merge", response_model=Merged)
async def merge_customers(customer_id: str, body: MergeBody, request: Request,
                          staff: StaffUser = Depends(require_staff("agent")),
                          svc: Services = Depends(services)) -> dict:
    """Merge another customer into this one: all its identities and its transcript."""
    customers = await _existing(svc, customer_id)
    await _existing(svc, body.customer_id)
    try:
        result = await customers.merge(body.customer_id, customer_id, how="agent",
                                       by=staff.username)
    except MergeRefused as exc:
        raise HTTPException(409, str(exc)) from None
    # Ids only: channel user ids (phone numbers...) would outlive an erasure in the audit.
    await _audit(request, staff, "customer.merge", target=customer_id, source=body.customer_id)
    return {"customer_id": customer_id, "merged": body.customer_id,
            "identities": result.identities, "entries_copied": result.entries}


@router.post("/api/customers/{customer_id}/unmerge", response_model=Unmerged)
async def unmerge_customers(customer_id: str, body: UnmergeBody, request: Request,
                            staff: StaffUser = Depends(require_staff("agent")),
                            svc: Services = Depends(services)) -> dict:
    """Undo a merge: the other customer gets its identities and transcript back."""
    customers = await _existing(svc, customer_id)
    await _existing(svc, body.customer_id)
    try:
        result = await customers.unmerge(customer_id, body.customer_id)
    except MergeRefused as exc:
        raise HTTPException(409, str(exc)) from None
    await _audit(request, staff, "customer.unmerge", target=customer_id,
                 source=body.customer_id)
    return {"customer_id": customer_id, "restored": body.customer_id,
            "identities": result.identities, "entries_removed": result.entries}


@router.put("/api/customers/{customer_id}/reply-channel", response_model=ReplyChannel)
async def set_reply_channel(customer_id: str, body: ReplyChannelBody, request: Request,
                            staff: StaffUser = Depends(require_staff("agent")),
                            svc: Services = Depends(services)) -> dict:
    """Pin replies to one of the customer's channels (null: their latest channel)."""
    customers = await _existing(svc, customer_id)
    try:
        await customers.set_reply_channel(customer_id, body.channel, body.channel_user_id)
        channel, user = await customers.reply_target(customer_id)
    except BadReplyChannel as exc:
        raise HTTPException(422, str(exc)) from None
    except NoReplyTarget:
        raise HTTPException(409, "this customer has no channel to reply on") from None
    await _audit(request, staff, "customer.reply_channel", customer=customer_id,
                 channel=body.channel or "latest")
    return {"customer_id": customer_id, "pinned": body.channel is not None,
            "reply_target": {"channel": channel, "channel_user_id": user}}


@router.put("/api/customers/{customer_id}/language", response_model=CustomerLanguage)
async def set_language(customer_id: str, body: LanguageBody, request: Request,
                       staff: StaffUser = Depends(require_staff("agent")),
                       svc: Services = Depends(services)) -> dict:
    """Set the customer's language (an agent's explicit choice: detection no longer
    changes it; the customer can still choose another)."""
    await _existing(svc, customer_id)
    language = await svc.languages.choose(customer_id, body.language, "agent")
    await _audit(request, staff, "customer.language", customer=customer_id, language=language)
    return {"customer_id": customer_id, "language": language,
            "source": await svc.languages.source(customer_id)}


@router.get("/api/admin/customers/{customer_id}/export", response_model=CustomerExport)
async def export_customer(customer_id: str, request: Request,
                          admin: StaffUser = Depends(require_staff("admin")),
                          svc: Services = Depends(services)) -> dict:
    """Everything stored about the customer (and customers merged into them)."""
    await _existing(svc, customer_id)
    data = await Privacy(svc.redis, rasa_redis=svc.rasa_redis).export(customer_id)
    await _audit(request, admin, "customer.export", customer=customer_id)
    return data


@router.delete("/api/admin/customers/{customer_id}", status_code=204)
async def erase_customer(customer_id: str, request: Request,
                         admin: StaffUser = Depends(require_staff("admin")),
                         svc: Services = Depends(services)) -> Response:
    """Erase the customer (and customers merged into them) everywhere. The header
    `Frontdoor-AOF-Rewrite` says what became of Redis's append-only file: `off`
    (not enabled), `rewriting` (BGREWRITEAOF started) or `operator` (refused by
    the Redis service: an operator must rewrite it)."""
    await _existing(svc, customer_id)
    erased = await Privacy(svc.redis, rasa_redis=svc.rasa_redis).erase(customer_id)
    await _audit(request, admin, "customer.erase", customers=",".join(erased.customer_ids),
                 aof=erased.aof.status)
    return Response(status_code=204, headers={"Frontdoor-AOF-Rewrite": erased.aof.status})
