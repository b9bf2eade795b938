"""Response models of the gateway's own routes (bot/app.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from bot.infra.children import ChildStatus


class Health(BaseModel):
    """200 while Redis answers ("ok", or "degraded" with Rasa or the action
    server down: messages wait for them); 503 "down" without Redis. Under
    `frontdoor up`, `children` lists the processes the supervisor runs, and one
    that is restarting or given up on ("failed") makes the status "degraded"
    too; a gateway run on its own has no `children`."""

    status: Literal["ok", "degraded", "down"]
    redis: bool
    rasa: bool
    actions: bool
    children: list[ChildStatus] | None = None
