"""Seeding the knowledge base (knowledge/store.py): whichever process reads
first, every reader sees the whole seed or, before it, nothing at all."""

import asyncio

from core.settings import PROJECT_ROOT
from knowledge.articles_io import load_folder
from knowledge.store import ArticleStore

SEED = PROJECT_ROOT / "knowledge" / "articles"


async def test_processes_that_read_while_one_seeds_all_see_every_seed_article(redis):
    # gateway, action server and editor start together against an empty Redis
    stores = [ArticleStore(redis, seed_folder=SEED) for _ in range(3)]
    lists = await asyncio.gather(*(store.all() for store in stores))
    expected = sorted(a.id for a in load_folder(SEED))
    assert [sorted(a.id for a in articles) for articles in lists] == [expected] * 3
    assert {a.version for a in lists[0]} == {1}
    histories = [await redis.llen(stores[0]._keys.article_versions(i)) for i in expected]
    assert set(histories) == {1}  # seeded once, not once per process


async def test_a_store_that_was_seeded_and_emptied_is_not_seeded_again(redis):
    store = ArticleStore(redis, seed_folder=SEED)
    assert await store.seed_from_folder(SEED) == len(load_folder(SEED))
    assert await store.seed_from_folder(SEED) == 0
    assert await store.revision() == 1  # the whole seed is one publish
