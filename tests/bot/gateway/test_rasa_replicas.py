"""The gateway over several Rasa replicas: each customer keeps to one replica,
customers spread over all of them, and a replica that is down or failing is
passed over at once. Rasa is an httpx.MockTransport peer here, one host per
replica (the real processes: tests/bot/cli/test_run_stack.py)."""

import json

import httpx
import pytest

from bot import AssistantUnavailable
from bot.gateway.rasa_client import RasaClient, replica_order

REPLICAS = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]


class Replicas:
    """Rasa replicas by host name; a host in `down` refuses connections, one in
    `failing` answers 503."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.failing: set[str] = set()
        self.served: list[tuple[str, str]] = []  # (host, path)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("connection refused")
        if host in self.failing:
            return httpx.Response(503)
        self.served.append((host, request.url.path))
        if request.url.path == "/":
            return httpx.Response(200, text="Hello from Rasa")
        if request.url.path.endswith("/tracker/events"):
            return httpx.Response(200, json={})
        body = json.loads(request.content)
        return httpx.Response(200, json=[{"recipient_id": body["sender"],
                                          "text": f"{host} heard {body['message']}"}])


@pytest.fixture
async def replicas():
    fake = Replicas()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        yield fake, RasaClient(http, REPLICAS, "http://actions", token="t" * 16)


def host_of(url: str) -> str:
    return httpx.URL(url).host


async def test_a_customer_keeps_to_one_replica_and_customers_spread_over_all(replicas):
    fake, rasa = replicas
    customers = [f"c_{n}" for n in range(60)]
    for customer in customers:
        for _ in range(2):
            await rasa.turn(customer, "hi", {})
    hosts = [host for host, _ in fake.served]
    for n, customer in enumerate(customers):  # both turns on the customer's own replica
        assert hosts[2 * n] == hosts[2 * n + 1] == host_of(replica_order(customer, REPLICAS)[0])
    counts = {h: hosts.count(h) for h in map(host_of, REPLICAS)}
    assert all(count >= 20 for count in counts.values()), counts  # 40 each, give or take


def test_every_gateway_orders_the_replicas_alike_whatever_its_list_order():
    for n in range(20):
        assert replica_order(f"c_{n}", REPLICAS) == replica_order(f"c_{n}", REPLICAS[::-1])


def test_removing_a_replica_moves_only_its_own_customers():
    customers = [f"c_{n}" for n in range(200)]
    before = {c: replica_order(c, REPLICAS)[0] for c in customers}
    after = {c: replica_order(c, REPLICAS[:2])[0] for c in customers}
    moved = {c for c in customers if before[c] != after[c]}
    assert moved == {c for c in customers if before[c] == REPLICAS[2]}


@pytest.mark.parametrize("fault", ["down", "failing"])
async def test_a_replica_down_or_failing_is_passed_over_at_once(replicas, fault):
    fake, rasa = replicas
    customer = "c_failover"
    first, second, _ = replica_order(customer, REPLICAS)
    getattr(fake, fault).add(host_of(first))
    [reply] = await rasa.turn(customer, "hello", {})
    assert reply.text == f"{host_of(second)} heard hello"
    await rasa.reset_dialogue(customer)
    assert fake.served[-1] == (host_of(second), f"/conversations/{customer}/tracker/events")


async def test_with_every_replica_down_the_assistant_is_unavailable_and_healthy_says_so(
        replicas):
    fake, rasa = replicas
    fake.down.update(map(host_of, REPLICAS[:2]))
    assert await rasa.healthy()  # one replica is enough to serve every customer
    fake.failing.add(host_of(REPLICAS[2]))
    assert not await rasa.healthy()
    with pytest.raises(AssistantUnavailable) as raised:
        await rasa.turn("c_1", "hello", {})
    assert all(host_of(url) in str(raised.value) for url in REPLICAS)


async def test_one_url_still_works_as_before(replicas):
    fake, _ = replicas
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        rasa = RasaClient(http, "http://rasa-1:5005/", "http://actions")
        [reply] = await rasa.turn("c_1", "hi", {})
    assert reply.text == "rasa-1 heard hi"
