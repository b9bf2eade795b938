import json

import pytest

from bot import BadInput, SessionInvalid
from bot.channels.web.parse import ButtonFrame, MessageFrame, parse_client_frame
from bot.channels.web.session import SessionSigner
from bot.gateway.inbound import clean_text


def test_message_and_button_frames_parse():
    frame = parse_client_frame(json.dumps({"type": "message", "text": "hi", "client_id": "a1"}),
                               16_384)
    assert isinstance(frame, MessageFrame) and frame.text == "hi"
    frame = parse_client_frame(json.dumps({"type": "button", "title": "Returns",
                                           "payload": "/choose_article", "client_id": "b"}), 16_384)
    assert isinstance(frame, ButtonFrame)


@pytest.mark.parametrize("raw, code", [
    ("not json", "bad_frame"),
    ("[1,2]", "bad_frame"),
    (json.dumps({"type": "message", "text": "hi"}), "bad_frame"),  # no client id
    (json.dumps({"type": "message", "text": "hi", "client_id": "<script>"}), "bad_frame"),
    (json.dumps({"type": "shout", "text": "hi", "client_id": "a"}), "bad_frame"),
    (json.dumps({"type": "message", "text": "x" * 20_000, "client_id": "a"}), "too_large"),
])
def test_bad_frames_get_a_clear_error_code(raw, code):
    with pytest.raises(BadInput) as err:
        parse_client_frame(raw, 16_384)
    assert err.value.code == code and err.value.message


def test_control_characters_are_removed_and_empty_text_refused():
    assert clean_text("  hello\x00\x07 world\u202e  ", 100) == "hello world"
    with pytest.raises(BadInput) as err:
        clean_text(" \x00\t \n", 100)
    assert err.value.code == "empty"


def test_ten_kilobytes_of_emoji_is_too_long():
    with pytest.raises(BadInput) as err:
        clean_text("😀" * 2500, 2000)
    assert err.value.code == "too_long"


def test_session_tokens_are_signed():
    signer = SessionSigner("secret-1", 3600)
    token = signer.new_token()
    assert signer.visitor(token).startswith("v_")
    with pytest.raises(SessionInvalid):
        SessionSigner("another-secret", 3600).visitor(token)
    with pytest.raises(SessionInvalid):
        signer.visitor(token[:-2] + "xx")
    with pytest.raises(SessionInvalid):
        signer.visitor("")
