"""The knowledge core with the real embedding model and a real Redis."""

import asyncio
from dataclasses import replace

import pytest

from core.redis import binary_of
from core.settings import KnowledgeSettings
from knowledge import VersionConflict
from knowledge.answers import service as service_module
from knowledge.answers.embedder import Embedder
from knowledge.answers.replies import decision_reply
from knowledge.answers.service import KnowledgeService
from knowledge.store import ArticleStore

pytestmark = pytest.mark.slow  # every test fits the learned head on the real model


@pytest.fixture(scope="session")
def embedder():
    return Embedder(KnowledgeSettings().model_path())


# The seed's fitted heads (Redis key -> value), fitted by the first test that
# needs them and put into every later test's empty database: most tests here
# need a learned head, not a fit of their own (~16 s each). The tests of fitting
# itself (refit after a publish, one fit for processes that start together)
# still fit.
_SEED_HEADS: dict[str, bytes] = {}


@pytest.fixture
async def service(redis, embedder):
    binary = binary_of(redis)
    for key, raw in _SEED_HEADS.items():
        await binary.set(key, raw)
    service = KnowledgeService(redis, embedder, KnowledgeSettings())
    assert await service.learned()  # answers below go through the learned head
    if not _SEED_HEADS:
        async for key in redis.scan_iter("fd:{kb}:head:*"):
            if not key.endswith(":fitting"):
                _SEED_HEADS[key] = await binary.get(key)
    return service


async def test_first_use_seeds_the_store_from_the_articles_folder(service):
    await service.ensure_fresh()
    articles = await service.store.all()
    assert len(articles) >= 40 and {a.version for a in articles} == {1}


@pytest.mark.parametrize("query, article", [
    ("can i pay with paypal", "payment-methods"),
    ("forgot my login", "reset-password"),
    ("do you ship to france", "international-shipping"),
    ("the box was crushed and the plate is broken", "damaged-item"),
    ("my discount code is invalid", "promo-code-not-working"),
])
async def test_customer_wording_finds_the_right_article(service, query, article):
    decision = await service.decide(query)
    assert decision.kind == "answer"
    assert decision.article.id == article


@pytest.mark.parametrize("query, article", [
    ("hw do i retrn somthing i dont lik", "how-to-return"),
    ("wher is my parsel", "track-order"),
])
async def test_a_typo_heavy_question_finds_its_article(service, query, article):
    decision = await service.decide(query, record=False)
    if decision.kind == "answer":
        assert decision.article.id == article
    else:  # at least among the buttons
        assert decision.kind == "clarify"
        assert article in [o.article_id for o in decision.options]


async def test_an_ambiguous_question_offers_buttons_for_the_candidates(service):
    decision = await service.decide("returns")
    reply = decision_reply(decision, "web")
    assert decision.kind == "clarify" and 2 <= len(reply.buttons) <= 3
    assert all(b["payload"].startswith('/choose_article{"article_id":') for b in reply.buttons)
    assert "return-policy" in [o.article_id for o in decision.options]


async def test_an_unrelated_question_gets_the_honest_fallback_and_is_kept_for_editors(
        service, redis):
    decision = await service.decide("who won the football last night")
    assert decision.kind == "fallback"
    assert "don't know" in decision_reply(decision, "web").text
    kept = await redis.xrange("fd:{kb}:unanswered")
    assert kept[-1][1]["query"] == "who won the football last night"


async def test_the_sms_variant_is_used_on_sms(service):
    decision = await service.decide("forgot my password")
    assert decision.article.id == "reset-password"
    sms = decision_reply(decision, "sms").text
    assert sms == decision.article.channels["sms"] and len(sms) <= 160
    assert decision_reply(decision, "web").text == decision.article.answer


async def test_a_publish_is_answered_at_once_without_restart(service):
    await service.ensure_fresh()
    article = await service.store.get("showroom-hours")
    await service.store.save(
        article.model_copy(update={"answer": "The showroom is now open **every day** 9-21."}),
        expected_version=article.version, author="editor@brightside")
    decision = await service.decide("when is the showroom open")
    assert decision.article.version == article.version + 1
    assert "every day" in decision.article.answer


async def test_two_editors_saving_the_same_version_do_not_overwrite_each_other(redis):
    store = ArticleStore(redis)
    await store.seed_from_folder(KnowledgeSettings().articles_dir)
    article = await store.get("contact-us")
    await store.save(article.model_copy(update={"title": "Contact"}),
                     expected_version=article.version, author="a")
    with pytest.raises(VersionConflict):
        await store.save(article.model_copy(update={"title": "Reach us"}),
                         expected_version=article.version, author="b")
    assert (await store.get("contact-us")).title == "Contact"


async def test_after_a_publish_cosine_answers_at_once_and_the_refitted_head_follows(service):
    article = await service.store.get("showroom-hours")
    await service.store.save(
        article.model_copy(update={"questions": (*article.questions, "is the showroom open late")}),
        expected_version=article.version, author="editor@brightside")
    await service.ensure_fresh()
    assert service.thresholds == service.cosine_thresholds  # head of the old content dropped
    assert (await service.decide("is the showroom open late")).article.id == "showroom-hours"
    assert await service.learned()
    assert service.thresholds != service.cosine_thresholds  # fitted for the new content


async def test_a_fitted_head_is_shared_through_redis_by_content(service, redis, embedder):
    assert len([k async for k in redis.scan_iter("fd:{kb}:head:*")]) == 1
    replica = KnowledgeService(redis, embedder, KnowledgeSettings())
    assert await replica.learned()
    assert replica.thresholds == service.thresholds
    assert replica.fitted_for(english=True)[1] == service.fitted_for(english=True)[1]
    assert len([k async for k in redis.scan_iter("fd:{kb}:head:*")]) == 1


async def test_english_questions_are_scored_by_a_head_of_their_own_without_e5(service):
    english_head, _ = service.fitted_for(english=True)
    head, _ = service.fitted_for(english=False)
    e5 = slice(896, None)  # MiniLM 384, USE 512, then e5
    assert head.weights[:, e5].any() and not english_head.weights[:, e5].any()
    english, german = "how do I send something back", "Wie schicke ich etwas zurück?"
    before = [(await service.decide(q, record=False)).matches[0] for q in (english, german)]
    service._scoring = replace(service._scoring, english=None)  # one head for every question
    after = [(await service.decide(q, record=False)).matches[0] for q in (english, german)]
    assert after[0].score != pytest.approx(before[0].score, abs=1e-6)
    assert after[1].score == pytest.approx(before[1].score, abs=1e-6)


async def test_processes_that_start_together_fit_the_head_once_and_all_use_it(
        redis, embedder, monkeypatch):
    fits = []
    fit = service_module._fit
    monkeypatch.setattr(service_module, "_fit", lambda *args: fits.append(1) or fit(*args))
    # gateway, action server and a replica against one fresh Redis
    replicas = [KnowledgeService(redis, embedder, KnowledgeSettings()) for _ in range(3)]
    assert await asyncio.gather(*(r.learned() for r in replicas)) == [True] * 3
    assert len(fits) == 1
    assert len({r.thresholds for r in replicas}) == 1
    assert not [k async for k in redis.scan_iter("fd:{kb}:head:*:fitting")]


async def test_a_small_knowledge_base_keeps_plain_cosine(redis, embedder):
    few = KnowledgeService(redis, embedder, KnowledgeSettings(kb_head_min_articles=1000))
    assert not await few.learned()
    assert few.thresholds == few.cosine_thresholds
