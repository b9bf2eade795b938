"""The widget asks who the customer is talking to with a `state` frame."""

import json

from bot.channels.web.parse import StateFrame, parse_client_frame


def test_a_state_frame_asks_for_the_conversation_state():
    assert isinstance(parse_client_frame(json.dumps({"type": "state"}), 16_384), StateFrame)
