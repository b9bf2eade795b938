"""CustomerLanguages: explicit choices win, detection follows, merges carry it."""

import pytest

from bot.customers.identity import IdentityStore
from bot.customers.language import CustomerLanguages
from bot.customers.merge import Customers


@pytest.fixture
async def two(redis):
    identities = IdentityStore(redis)
    a = await identities.resolve("telegram", "111", "Ana")
    b = await identities.resolve("web", "v_9", None)
    return a, b


async def test_a_new_customer_is_english_until_anything_is_known(redis, two):
    languages = CustomerLanguages(redis)
    assert await languages.get(two[0]) == "en" and await languages.source(two[0]) is None


async def test_the_first_sure_detection_sets_the_language_even_from_one_word(redis, two):
    languages = CustomerLanguages(redis)
    assert await languages.detected(two[0], "de", words=1) == "de"
    assert await languages.source(two[0]) == "detected"


async def test_an_unsure_message_changes_nothing(redis, two):
    languages = CustomerLanguages(redis)
    await languages.detected(two[0], "de", words=4)
    assert await languages.detected(two[0], None, words=1) == "de"


async def test_a_detection_never_overrides_an_explicit_choice(redis, two):
    languages = CustomerLanguages(redis)
    for source in ("customer", "widget", "agent"):
        await languages.choose(two[0], "de", source)
        assert await languages.detected(two[0], "en", words=9) == "de"
        assert await languages.choose(two[0], "en", "detected") == "de"
    assert await languages.choose(two[0], "en", "agent") == "en"  # a new choice does


async def test_merging_keeps_the_targets_explicit_choice(redis, two):
    a, b = two
    languages = CustomerLanguages(redis)
    await languages.choose(a, "en", "widget")
    await languages.detected(b, "de", words=5)
    await Customers(redis).merge(b, a, how="code")
    assert await languages.get(a) == "en" and await languages.source(a) == "widget"


async def test_merging_gives_the_target_the_sources_language_otherwise(redis, two):
    a, b = two
    languages = CustomerLanguages(redis)
    await languages.detected(a, "en", words=5)
    await languages.choose(b, "de", "customer")
    await Customers(redis).merge(b, a, how="code")
    assert await languages.get(a) == "de" and await languages.source(a) == "customer"


async def test_merging_a_customer_of_unknown_language_changes_nothing(redis, two):
    a, b = two
    languages = CustomerLanguages(redis)
    await languages.detected(a, "de", words=5)
    await Customers(redis).merge(b, a, how="code")
    assert await languages.get(a) == "de"
