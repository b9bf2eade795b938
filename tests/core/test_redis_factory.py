"""The Redis client factory: every URL form, refusal of the others, and clients
that come back by themselves after Redis restarts (real redis-server processes)."""

from __future__ import annotations

import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.infra.redis_procs import free_port, start_redis, start_sentinels, stop_all
from core.redis import (
    ClusterUrl,
    RedisUrlError,
    SentinelUrl,
    ServerUrl,
    binary_client,
    binary_of,
    parse_redis_url,
    sync_text_client,
    text_client,
)
from core.settings import get_settings


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0", "redis://:secret@redis.internal:6380/2",
    "rediss://user:secret@redis.example.com:6380/0", "unix:///run/redis/redis.sock?db=3",
])
def test_single_server_urls_are_left_to_redis_py(url):
    assert parse_redis_url(url) == ServerUrl(url)


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    assert parse_redis_url(
        "redis+sentinel://:p%40ss@10.0.0.1:26380,10.0.0.2,[::1]:26381/mymaster/2"
        "?sentinel_password=s3cret"
    ) == SentinelUrl(sentinels=(("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 26381)),
                     service="mymaster", db=2, password="p@ss", sentinel_password="s3cret")
    assert parse_redis_url("redis+sentinel://s1/frontdoor") == SentinelUrl(
        sentinels=(("s1", 26379),), service="frontdoor")


def test_a_cluster_url_names_its_seed_nodes():
    assert parse_redis_url("redis+cluster://user:pw@n1:7000,n2:7001,n3") == ClusterUrl(
        nodes=(("n1", 7000), ("n2", 7001), ("n3", 6379)), username="user", password="pw")


@pytest.mark.parametrize(("url", "reason"), [
    ("http://redis:6379", "scheme 'http' is not one of redis, rediss, unix, redis+sentinel, "
                          "redis+cluster"),
    ("127.0.0.1:6379", "no scheme is not one of"),
    ("redis+sentinel://:secret@s1:26379", "names the service after the hosts"),
    ("redis+sentinel://s1/mymaster/zero", "database 'zero'"),
    ("redis+sentinel://s1/mymaster?socket_timeout=1", "takes only ?sentinel_password="),
    ("redis+sentinel://s1:port/mymaster", "host[:port] pairs"),
    ("redis+cluster://n1:7000/0", "a Cluster has no databases"),
    ("redis://:secret@host:port/0", "not a valid redis:// URL"),
])
def test_other_urls_are_refused_with_a_reason_that_does_not_show_the_password(url, reason):
    with pytest.raises(RedisUrlError) as refused:
        parse_redis_url(url)
    assert reason in str(refused.value)
    assert "secret" not in str(refused.value)


@pytest.fixture
def environment(monkeypatch):
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_process_refuses_to_start_on_a_redis_url_it_cannot_use(environment):
    environment.setenv("FRONTDOOR_REDIS_URL", "http://redis:6379")
    with pytest.raises(SystemExit) as refused:
        get_settings()
    assert str(refused.value) == (
        "front door refuses to start: FRONTDOOR_REDIS_URL: scheme 'http' is not one of "
        "redis, rediss, unix, redis+sentinel, redis+cluster")


def test_a_cluster_needs_a_separate_redis_for_rasa(environment):
    environment.setenv("FRONTDOOR_REDIS_URL", "redis+cluster://n1:7000,n2:7001")
    with pytest.raises(SystemExit) as refused:
        get_settings()
    assert "FRONTDOOR_RASA_REDIS_URL is required" in str(refused.value)
    assert "\n" not in str(refused.value)

    environment.setenv("FRONTDOOR_RASA_REDIS_URL", "redis+cluster://n1:7000")
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as refused:
        get_settings()
    assert "Rasa 3.6 can use redis://, rediss:// or redis+sentinel://" in str(refused.value)

    environment.setenv("FRONTDOOR_RASA_REDIS_URL", "redis+sentinel://s1,s2,s3/rasa/0")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.effective_rasa_redis_url == "redis+sentinel://s1,s2,s3/rasa/0"


def test_rasa_shares_our_redis_unless_told_otherwise(environment):
    environment.setenv("FRONTDOOR_REDIS_URL", "redis+sentinel://s1/mymaster/0")
    assert get_settings().effective_rasa_redis_url == "redis+sentinel://s1/mymaster/0"


@pytest.fixture
def lone_redis(tmp_path):
    server = start_redis(free_port(), tmp_path / "redis")
    yield server
    server.stop()


async def test_a_client_works_again_after_redis_is_killed_and_restarted(lone_redis):
    text = text_client(f"{lone_redis.url}/0")
    binary = binary_of(text)
    try:
        await text.set("fd:test:before", "1")
        await binary.set("fd:test:bytes", b"\x00\x01")
        lone_redis.restart()  # kill -9, then the same port again (no persistence: empty)
        started = time.monotonic()
        # The very next command succeeds: the client notices the dead connection,
        # reconnects and sends it again, without the caller seeing any error.
        assert await text.set("fd:test:after", "2")
        assert await binary.get("fd:test:bytes") is None
        assert await text.get("fd:test:after") == "2"
        assert time.monotonic() - started < 5
    finally:
        await text.aclose()


@pytest.mark.slow  # the client's retries take about 4 s before it reports
async def test_a_client_made_while_redis_is_away_works_once_it_is_back(tmp_path):
    port = free_port()
    client = text_client(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(RedisConnectionError):
            await client.ping()  # refused, retried with backoff, then reported
        server = start_redis(port, tmp_path / "late")
        try:
            assert await client.ping()
        finally:
            server.stop()
    finally:
        await client.aclose()


def test_a_blocking_client_works_again_after_a_restart(lone_redis):
    client = sync_text_client(f"{lone_redis.url}/0")
    try:
        client.set("fd:test:sync", "1")
        lone_redis.restart()
        assert client.set("fd:test:sync", "2")
        assert client.get("fd:test:sync") == "2"
    finally:
        client.close()


async def test_a_binary_client_is_its_own_binary_client_after_a_restart(lone_redis):
    client = binary_client(lone_redis.url)
    try:
        assert binary_of(client) is client
        lone_redis.restart()
        assert await client.set("fd:test:v", b"\xff") and await client.get("fd:test:v") == b"\xff"
    finally:
        await client.aclose()


@pytest.fixture
def one_sentinel(tmp_path):
    master = start_redis(free_port(), tmp_path / "master")
    sentinels = start_sentinels([free_port()], tmp_path / "sentinels", master_port=master.port,
                                service="frontdoor", quorum=1)
    yield master, sentinels[0]
    stop_all([*sentinels, master])


async def test_a_sentinel_client_reaches_the_master_and_its_binary_twin_too(one_sentinel):
    master, sentinel = one_sentinel
    client = text_client(f"redis+sentinel://127.0.0.1:{sentinel.port}/frontdoor/3")
    try:
        await client.set("fd:test:where", "master")
        await binary_of(client).set("fd:test:raw", b"\x00")
        with master.client(db=3) as direct:
            assert direct.get("fd:test:where") == "master"
            assert direct.exists("fd:test:raw") == 1
        assert await binary_of(client).get("fd:test:raw") == b"\x00"
    finally:
        await client.aclose()


@pytest.mark.slow  # the client's retries take about 4 s before it reports
async def test_a_sentinel_that_knows_no_such_service_is_an_error_not_a_hang(one_sentinel):
    _, sentinel = one_sentinel
    client = text_client(f"redis+sentinel://127.0.0.1:{sentinel.port}/nosuchservice/0")
    started = time.monotonic()
    try:
        with pytest.raises(RedisConnectionError, match="No master found for 'nosuchservice'"):
            await client.ping()
    finally:
        await client.aclose()
    assert time.monotonic() - started < 10


@pytest.mark.slow  # the client's retries take about 4 s before it reports
async def test_sentinels_that_cannot_be_reached_are_an_error_not_a_hang():
    client = text_client(f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
                         "/frontdoor/0")
    started = time.monotonic()
    try:
        with pytest.raises(RedisConnectionError, match="No master found for 'frontdoor'"):
            await client.ping()
    finally:
        await client.aclose()
    assert time.monotonic() - started < 10


def test_a_blocking_sentinel_client_reaches_the_master(one_sentinel):
    master, sentinel = one_sentinel
    client = sync_text_client(f"redis+sentinel://127.0.0.1:{sentinel.port}/frontdoor/0")
    try:
        client.set("fd:test:sync", "yes")
        with master.client() as direct:
            assert direct.get("fd:test:sync") == "yes"
    finally:
        client.close()
