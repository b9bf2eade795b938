"""The web chat WebSocket protocol: what the widget may send."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot import BadInput
from core.i18n import N_


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MessageFrame(_Frame):
    type: Literal["message"]
    text: str = Field(max_length=100_000)
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class ButtonFrame(_Frame):
    type: Literal["button"]
    title: str = Field(max_length=200)
    payload: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class PingFrame(_Frame):
    type: Literal["ping"]


class LanguageFrame(_Frame):
    """The widget's language setting: the customer's language from now on."""

    type: Literal["language"]
    language: Literal["en", "de"]


class StateFrame(_Frame):
    """The widget asks who the customer is talking to now (after a reconnect);
    answered with a `state` frame."""

    type: Literal["state"]


AnyFrame = MessageFrame | ButtonFrame | PingFrame | LanguageFrame | StateFrame
ClientFrame = Annotated[AnyFrame, Field(discriminator="type")]
_client_frame: TypeAdapter[AnyFrame] = TypeAdapter(ClientFrame)


def parse_client_frame(raw: str, max_bytes: int) -> AnyFrame:
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise BadInput("too_large", N_("That message is too large to send."))
    try:
        return _client_frame.validate_python(json.loads(raw))
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise BadInput("bad_frame", N_("The chat sent something it should not have; "
                                       "please reload the page.")) from exc
