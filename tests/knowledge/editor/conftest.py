"""The editor API tests' gateway (in process, no Rasa) and a signed-in editor."""

import httpx
import pytest

from tests.conftest import gateway_without_rasa
from tests.staff import make_staff, signed_in_client


@pytest.fixture
async def gateway(redis_server, kb_embedder):
    async with gateway_without_rasa(redis_server, 5) as (settings, redis, _):
        yield settings.base_url, redis


@pytest.fixture
async def editor(gateway):
    base, redis = gateway
    await make_staff(redis, "edna", "editor")
    client = await signed_in_client(base, "edna")
    # the first index build of a test encodes every variant, and the unanswered view waits
    # for the head's fit (three pooled hold-outs: ~50 s on a loaded 2-core machine)
    client.timeout = httpx.Timeout(120)
    yield client
    await client.aclose()
