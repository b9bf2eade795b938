"""When Rasa keeps its trackers in a Redis of its own (FRONTDOOR_RASA_REDIS_URL,
required when ours is a Cluster), export and erasure still reach them."""

import json

from bot.customers.identity import IdentityStore
from bot.customers.privacy import Privacy
from bot.rasa_store.keys import RASA_KEYS
from core.redis import text_client


async def test_export_and_erasure_reach_rasas_trackers_in_their_own_redis(redis_server, redis):
    rasa_redis = text_client(f"{redis_server}/6")
    await rasa_redis.flushdb()
    try:
        customer = await IdentityStore(redis).resolve("telegram", "77001", "Ada")
        tracker = {"sender_id": customer, "events": [{"event": "user", "text": "my sofa"}]}
        await rasa_redis.set(RASA_KEYS.rasa_tracker(customer), json.dumps(tracker))
        privacy = Privacy(redis, rasa_redis=rasa_redis)

        exported = await privacy.export(customer)
        memory = exported["customers"][0]["assistant_memory"]
        assert memory["events"][0]["text"] == "my sofa"

        await privacy.erase(customer)
        assert await rasa_redis.exists(RASA_KEYS.rasa_tracker(customer)) == 0
    finally:
        await rasa_redis.flushdb()
        await rasa_redis.aclose()
