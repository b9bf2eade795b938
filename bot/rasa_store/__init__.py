"""Rasa's own data in Redis (endpoints.yml: RedisTrackerStore / RedisLockStore,
key prefix "rasa"): its keys, and the personal data it keeps (the tracker)."""
