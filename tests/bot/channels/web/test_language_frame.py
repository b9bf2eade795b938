"""The widget's language setting as a frame of the web chat protocol."""

import json

import pytest

from bot import BadInput
from bot.channels.web.parse import LanguageFrame, parse_client_frame


def test_a_language_frame_names_english_or_german():
    for language in ("en", "de"):
        frame = parse_client_frame(json.dumps({"type": "language", "language": language}),
                                   16_384)
        assert isinstance(frame, LanguageFrame) and frame.language == language


@pytest.mark.parametrize("language", ["fr", "DE", "", None, 1, "de-AT"])
def test_any_other_language_is_refused_with_a_clear_error(language):
    with pytest.raises(BadInput) as err:
        parse_client_frame(json.dumps({"type": "language", "language": language}), 16_384)
    assert err.value.code == "bad_frame"
