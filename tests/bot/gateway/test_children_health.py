"""Under `frontdoor up` the gateway reports the processes the supervisor runs:
/healthz lists them (a process restarting or given up on makes the status
"degraded", still 200: the gateway itself answers) and /metrics counts their
restarts. A gateway run on its own has no supervisor and reports none."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from bot.infra.children import ChildStatus, write_status
from tests.conftest import gateway_without_rasa

METRICS_TOKEN = "scraper-token-0123456789"


def status(name: str, state: str, restarts: int = 0, exit_code: int | None = None
           ) -> ChildStatus:
    return ChildStatus(name=name, state=state, pid=4242, restarts=restarts,  # type: ignore[arg-type]
                       last_exit_code=exit_code, since=time.time())


@pytest.fixture
async def gateway(redis_server, tmp_path):
    state = tmp_path / "run" / "children.json"
    async with gateway_without_rasa(redis_server, 9, supervisor_state=state,
                                    metrics_token=SecretStr(METRICS_TOKEN)) as (s, _redis, _app):
        yield s.base_url, state


async def test_health_lists_the_children_and_a_failed_one_degrades_it(gateway):
    base, state = gateway
    write_status(state, [status("redis", "running"), status("actions", "failed", 5, 1),
                         status("gateway", "running")])
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "degraded"
    actions = next(c for c in health["children"] if c["name"] == "actions")
    assert (actions["state"], actions["restarts"], actions["last_exit_code"]) == ("failed", 5, 1)


async def test_metrics_count_the_restarts_read_at_each_scrape(gateway):
    base, state = gateway
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=bearer) as scraper:
        write_status(state, [status("actions", "restarting", 2, -9), status("gateway", "running")])
        first = (await scraper.get("/metrics")).text
        write_status(state, [status("actions", "running", 3, -9), status("gateway", "running")])
        second = (await scraper.get("/metrics")).text
    assert 'frontdoor_child_restarts_total{child="actions"} 2.0' in first
    assert 'frontdoor_child_up{child="actions"} 0.0' in first
    assert 'frontdoor_child_restarts_total{child="actions"} 3.0' in second
    assert 'frontdoor_child_up{child="actions"} 1.0' in second
    assert 'frontdoor_child_up{child="gateway"} 1.0' in second


async def test_a_gateway_without_a_supervisor_reports_no_children(redis_server):
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with (gateway_without_rasa(redis_server, 9, metrics_token=SecretStr(METRICS_TOKEN)
                                     ) as (s, _redis, _app),
                httpx.AsyncClient(base_url=s.base_url) as http):
        health = (await http.get("/healthz")).json()
        metrics = (await http.get("/metrics", headers=bearer)).text
    assert "children" not in health
    assert "frontdoor_child_" not in metrics
