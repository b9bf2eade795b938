"""Pure parts of one customer across channels: what the adapters accept as a verified attribute, and
the name the assistant remembers."""

import json
from pathlib import Path

import pytest

from actions.name_actions import parse_name
from bot.channels.slack.parse import verified_email_of
from bot.channels.telegram.parse import (
    NOT_YOUR_CONTACT_TEXT,
    SHARE_PHONE_BUTTON,
    DirectReply,
    parse_update,
    to_inbound,
)
from bot.gateway.router import ticket_refs
from core.models import VerifiedAttribute

PAYLOADS = Path(__file__).parents[1] / "channels" / "telegram" / "payloads"


def update(name: str):
    return parse_update((PAYLOADS / f"{name}.json").read_bytes())


def test_a_contact_of_ones_own_is_a_verified_phone_for_the_gateway():
    message = to_inbound(update("contact_own"))
    assert message.shared_contact is True
    assert message.verified == (VerifiedAttribute(kind="phone", value="351912345678"),)
    assert message.channel_user_id == "5120344871"


@pytest.mark.parametrize("name", ["contact_other", "contact_typed"])
def test_someone_elses_contact_or_a_typed_card_proves_nothing(name):
    assert to_inbound(update(name)) == DirectReply(5120344871, NOT_YOUR_CONTACT_TEXT)


def test_share_phone_answers_with_a_request_contact_keyboard():
    data = json.loads((PAYLOADS / "text.json").read_text())
    data["message"]["text"] = "/share_phone"
    reply = to_inbound(parse_update(json.dumps(data).encode()))
    assert isinstance(reply, DirectReply)
    [[button]] = reply.reply_markup.keyboard
    assert button.text == SHARE_PHONE_BUTTON and button.request_contact is True
    assert reply.reply_markup.one_time_keyboard is True


def test_typed_text_never_carries_a_verified_attribute():
    data = json.loads((PAYLOADS / "text.json").read_text())
    data["message"]["text"] = "my number is +351912345678"
    assert to_inbound(parse_update(json.dumps(data).encode())).verified == ()


def test_only_a_real_members_slack_profile_email_counts():
    user = {"id": "U1", "profile": {"email": " Ada@Example.com "}}
    assert verified_email_of(user) == "ada@example.com"
    assert verified_email_of({**user, "is_bot": True}) is None
    assert verified_email_of({**user, "is_stranger": True}) is None  # another organisation
    assert verified_email_of({"id": "U1", "profile": {}}) is None


def test_ticket_references_are_found_in_any_case_and_only_in_the_alphabet():
    assert ticket_refs("about fd-7k2q and FD-7K2Q, also FD-AB2C.") == ["FD-7K2Q", "FD-AB2C"]
    assert ticket_refs("FD-10O1 FD-7K2QX xFD-7K2Q") == []  # 0/O/1 are not used; whole words


@pytest.mark.parametrize("text,name", [
    ("my name is Ada", "Ada"), ("I'm Ada Lovelace", "Ada Lovelace"), ("call me ken", "Ken"),
    ("Ada here", "Ada"), ("I'm Ada and I need help", "Ada"), ("my name is Mary-Jane", "Mary-Jane"),
    ("I am looking for a sofa", None), ("my name is <b>x</b>", None)])
def test_the_name_the_assistant_remembers(text, name):
    assert parse_name(text) == name
