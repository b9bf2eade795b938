"""Every seed answer reaches an SMS customer in at most two segments (issue 16,
item 6): long answers have a short SMS variant in each language."""

from pathlib import Path

import pytest

from bot.channels.sms.render import render, sms_info
from core.models import TranscriptEntry
from knowledge.answers.replies import article_reply
from knowledge.articles_io import load_folder

SEED = load_folder(Path(__file__).resolve().parents[2] / "knowledge" / "articles")


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_seed_answer_goes_out_as_one_sms_of_at_most_two_segments(language):
    too_long = {}
    for article in SEED:
        reply = article_reply(article, "sms", language)
        bodies = render(TranscriptEntry(channel="sms", author="bot", text=reply.text))
        info = sms_info(bodies[0])
        if len(bodies) > 1 or info.segments > 2 or info.encoding != "GSM-7":
            too_long[article.id] = (len(bodies), info.segments, info.encoding)
    assert too_long == {}


def test_every_seed_article_has_its_german_sms_variant_where_the_english_has_one():
    missing = [a.id for a in SEED
               if "sms" in a.channels and "sms" not in a.translations["de"].channels]
    assert missing == []
