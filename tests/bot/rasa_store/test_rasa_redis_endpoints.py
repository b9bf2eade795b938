"""Rasa's tracker and lock store in endpoints.yml: every URL form Rasa 3.6 can
use, no password written into the file, and Rasa itself (its own environment)
storing a tracker and a lock through a real Sentinel."""

from __future__ import annotations

import subprocess
import textwrap

import pytest
import yaml
from pydantic import SecretStr

from bot.infra import processes, supervisor
from bot.infra.redis_procs import free_port, sentinel_url, start_redis, start_sentinels, stop_all
from bot.rasa_store.endpoints import RasaRedisError, rasa_redis_secrets, rasa_redis_stores
from core.settings import Settings


def test_a_plain_redis_is_rasas_own_store_with_the_password_left_to_its_environment():
    stores = rasa_redis_stores("rediss://frontdoor:s%40cret@redis.internal:6380/2")
    expected = {"type": "redis", "url": "redis.internal", "port": 6380, "db": 2,
                "key_prefix": "rasa", "username": "frontdoor",
                "password": "${FRONTDOOR_RASA_REDIS_PASSWORD}", "use_ssl": True}
    assert stores == {"tracker_store": {**expected,
                                        "type": "frontdoor_rasa_redis.FrontDoorTrackerStore"},
                      "lock_store": expected}
    assert rasa_redis_secrets("rediss://frontdoor:s%40cret@redis.internal:6380/2") == {
        "FRONTDOOR_RASA_REDIS_PASSWORD": "s@cret"}
    assert rasa_redis_secrets("redis://127.0.0.1:6379/0") == {}


def test_a_sentinel_url_gives_rasa_our_sentinel_stores():
    url = "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/frontdoor/1?sentinel_password=sp"
    stores = rasa_redis_stores(url)
    assert stores["tracker_store"] == {
        "type": "frontdoor_rasa_redis.SentinelTrackerStore",
        "sentinels": [["10.0.0.1", 26379], ["10.0.0.2", 26380]], "service": "frontdoor",
        "db": 1, "key_prefix": "rasa", "password": "${FRONTDOOR_RASA_REDIS_PASSWORD}",
        "sentinel_password": "${FRONTDOOR_RASA_SENTINEL_PASSWORD}"}
    assert stores["lock_store"]["type"] == "frontdoor_rasa_redis.SentinelLockStore"
    assert rasa_redis_secrets(url) == {"FRONTDOOR_RASA_REDIS_PASSWORD": "pw",
                                       "FRONTDOOR_RASA_SENTINEL_PASSWORD": "sp"}


@pytest.mark.parametrize("url", ["redis+cluster://n1:7000", "unix:///run/redis.sock"])
def test_what_rasa_cannot_use_is_refused(url):
    with pytest.raises(RasaRedisError):
        rasa_redis_stores(url)


def test_endpoints_yml_never_holds_the_redis_password(tmp_path):
    settings = Settings(var_dir=tmp_path, redis_url="redis+cluster://n1:7000",
                        rasa_redis_url="redis://:rasa-only-password@10.0.0.5:6379/0",
                        rasa_token=SecretStr("rasa-token-0123456789abcdef"))
    written = supervisor.write_rasa_endpoints(settings).read_text()
    assert "rasa-only-password" not in written
    assert yaml.safe_load(written)["tracker_store"]["url"] == "10.0.0.5"
    assert supervisor.rasa_env(settings)["FRONTDOOR_RASA_REDIS_PASSWORD"] == "rasa-only-password"


RASA_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    async def main(path):
        store = TrackerStore.create(read_endpoint_config(path, "tracker_store"))
        tracker = DialogueStateTracker.from_events("c_0123456789abcdef", [UserUttered("hi")])
        await store.save(tracker)
        locks = LockStore.create(read_endpoint_config(path, "lock_store"))
        async with locks.lock("c_0123456789abcdef"):
            print("locked", type(store).__name__, type(locks).__name__)

    asyncio.run(main(sys.argv[1]))
""")


@pytest.mark.stack  # runs Rasa's own Python (.venv-rasa); Rasa takes seconds to import
def test_rasa_keeps_its_tracker_and_lock_on_the_master_sentinel_names(tmp_path):
    master = start_redis(free_port(), tmp_path / "master", password="master-password")
    sentinels = start_sentinels([free_port()], tmp_path / "sentinels", master_port=master.port,
                                service="frontdoor", quorum=1, master_password="master-password")
    try:
        url = sentinel_url(sentinels, "frontdoor", db=0, password="master-password")
        settings = Settings(var_dir=tmp_path, redis_url=url,
                            rasa_token=SecretStr("rasa-token-0123456789abcdef"))
        endpoints = supervisor.write_rasa_endpoints(settings)
        assert "master-password" not in endpoints.read_text()
        script = tmp_path / "use_stores.py"
        script.write_text(RASA_SCRIPT)
        done = subprocess.run([str(processes.RASA_PYTHON), str(script), str(endpoints)],
                              env=supervisor.rasa_env(settings), capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "locked SentinelTrackerStore SentinelLockStore" in done.stdout
        with master.client() as direct:
            assert direct.exists("rasa:tracker:c_0123456789abcdef") == 1
    finally:
        stop_all([*sentinels, master])
