"""The web chat greeting's suggested topics (knowledge/topics.py): the most
asked articles by default, the seed list before anything was asked, the
editors' choice once they make one, published articles only, titles and
questions in the customer's language."""

import pytest

from core.settings import PROJECT_ROOT
from knowledge import ArticleInvalid
from knowledge.store import ArticleStore
from knowledge.topics import SEED_TOPICS, SuggestedTopics, count_answer

SEED = PROJECT_ROOT / "knowledge" / "articles"


@pytest.fixture
async def topics(redis):
    return SuggestedTopics(redis, ArticleStore(redis, seed_folder=SEED))


async def test_before_anything_was_asked_the_seed_topics_are_offered(topics):
    articles, source = await topics.current()
    assert [a.id for a in articles] == list(SEED_TOPICS) and source == "most asked"


async def test_the_most_asked_articles_come_first_topped_up_from_the_seed_list(redis, topics):
    for _ in range(3):
        await count_answer(redis, "gift-card-balance")
    await count_answer(redis, "warranty-claim")
    await count_answer(redis, "no-such-article")  # deleted since: never offered
    assert await topics.most_asked() == ["gift-card-balance", "warranty-claim",
                                         *SEED_TOPICS[:2]]


async def test_editors_choose_the_topics_and_can_go_back_to_the_most_asked(topics):
    await topics.choose(["warranty-claim", "track-order", "price-match"])
    articles, source = await topics.current()
    assert [a.id for a in articles] == ["warranty-claim", "track-order", "price-match"]
    assert source == "editors"
    await topics.choose([])
    assert (await topics.current())[1] == "most asked"


@pytest.mark.parametrize("ids", [["no-such-article"], ["track-order"] * 2,
                                 ["track-order", "how-to-return", "price-match",
                                  "warranty-claim", "exchanges"]])
async def test_unknown_repeated_or_too_many_topics_are_refused(topics, ids):
    with pytest.raises(ArticleInvalid):
        await topics.choose(ids)


async def test_the_widget_gets_each_topic_in_english_and_german(topics):
    first = (await topics.for_widget())[0]
    assert first == {"id": "track-order",
                     "title": {"en": "Track your order", "de": "Bestellung verfolgen"},
                     "question": {"en": "How do I track my order?",
                                  "de": "Wie kann ich meine Bestellung verfolgen?"}}
