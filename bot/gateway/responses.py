"""Response models of the gateway's own routes (bot/app.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    """200 while Redis answers ("ok", or "degraded" with Rasa or the action
    server down: messages wait for them); 503 "down" without Redis."""

    status: Literal["ok", "degraded", "down"]
    redis: bool
    rasa: bool
    actions: bool
