"""Where one turn's time goes, for `frontdoor bench chat` (README, "Benchmark").

Measured from outside, each part called alone on the running stack, the median
of a few calls per utterance of the script:

- gateway + its Redis: the front door's p50 at one customer minus Rasa's own
  (the same turn through the web chat, against straight to Rasa), and the Redis
  commands the gateway sends per turn (Redis' own counter, over turns through the
  front door, minus those of the same turns straight to Rasa) times one
  command's round trip;
- Rasa NLU: `POST /model/parse`;
- Rasa policies: `POST /conversations/<id>/predict` (it loads the tracker too:
  the tracker's own load is subtracted);
- tracker store: `GET /conversations/<id>/tracker` of a conversation of the
  script's length (Rasa reads, parses and serialises it; a turn also saves it);
- action server: `POST /webhook` with `action_answer_from_knowledge` and that
  tracker, against `action_remember_name` (rasa-sdk's own cost): the difference
  is the knowledge search and its answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from bot.bench.stats import p50

REPEATS = 3


async def _median_ms(call: Callable[[], Awaitable[Any]], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return p50(times)


async def redis_commands(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


async def redis_round_trip_ms(redis: Redis) -> float:
    return await _median_ms(redis.ping, repeats=50)


async def profile_turn(http: httpx.AsyncClient, rasa_url: str, actions_url: str,
                       rasa_token: str, actions_token: str, utterances: list[str],
                       sender: str) -> dict[str, float]:
    """Milliseconds per part of a turn (medians over the utterances); `sender`: a
    conversation of the script's length, already talked through."""
    params = {"token": rasa_token}
    nlu, predict, tracker_load = [], [], []
    for text in utterances:
        async def parse(text: str = text) -> None:
            (await http.post(f"{rasa_url}/model/parse", params=params,
                             json={"text": text})).raise_for_status()
        nlu.append(await _median_ms(parse))

    async def load() -> None:
        (await http.get(f"{rasa_url}/conversations/{sender}/tracker",
                        params=params)).raise_for_status()

    async def predict_next() -> None:
        (await http.post(f"{rasa_url}/conversations/{sender}/predict",
                         params=params)).raise_for_status()
    for _ in utterances:
        tracker_load.append(await _median_ms(load))
        predict.append(await _median_ms(predict_next))
    tracker = (await http.get(f"{rasa_url}/conversations/{sender}/tracker",
                              params=params)).json()

    async def action(name: str) -> None:
        (await http.post(f"{actions_url}/webhook", params={"token": actions_token}, json={
            "next_action": name, "sender_id": sender, "tracker": tracker,
            "version": "3.6.21"})).raise_for_status()
    knowledge = await _median_ms(lambda: action("action_answer_from_knowledge"), 10)
    trivial = await _median_ms(lambda: action("action_remember_name"), 10)
    return {
        "rasa_nlu_ms": round(p50(nlu), 1),
        "rasa_policies_ms": round(max(0.0, p50(predict) - p50(tracker_load)), 1),
        "tracker_store_load_ms": round(p50(tracker_load), 1),
        "action_server_ms": round(trivial, 1),
        "knowledge_search_ms": round(max(0.0, knowledge - trivial), 1),
    }
