"""Only Rasa may run actions: the real action server answers 401 to a call
without FRONTDOOR_ACTIONS_TOKEN or with a wrong one, on every route but
/health, and refuses to start without a token. (Rasa sending it, through the
whole product: tests/bot/cli/test_run_stack.py and the stack tests.)"""

import subprocess

import httpx
import pytest

from bot.infra.processes import actions_argv
from bot.infra.supervisor import actions_env
from core.settings import PROJECT_ROOT, Settings
from tests.actions.server import action_server as running_action_server
from tests.conftest import free_port

pytestmark = pytest.mark.slow  # a real process: about 4 s to load the embedding model

TOKEN = "actions-token-for-this-test-0123456789"


@pytest.fixture(scope="module")
def action_server(redis_server):
    """The action server as `frontdoor up` starts it, with its environment only."""
    with running_action_server(f"{redis_server}/1", TOKEN) as base:
        yield base


ACTION_CALL = {"next_action": "action_remember_name", "sender_id": "c_token_test",
               "tracker": {"sender_id": "c_token_test", "slots": {}, "latest_message": {},
                           "events": [], "paused": False, "followup_action": None,
                           "active_loop": {}, "latest_action_name": None},
               "domain": {}, "version": "3.6.21"}


@pytest.mark.parametrize("params", [{}, {"token": ""}, {"token": "wrong"},
                                    {"token": TOKEN[:-1]}, {"token": TOKEN + "x"}])
def test_a_call_without_the_token_is_refused_before_any_action_runs(action_server, params):
    for method, path in [("POST", "/webhook"), ("GET", "/actions"), ("GET", "/knowledge/ready")]:
        response = httpx.request(method, f"{action_server}{path}", params=params,
                                 json=ACTION_CALL if method == "POST" else None)
        assert response.status_code == 401, (path, params)
        assert response.json()["error"] == "unauthorized"


def test_with_the_token_actions_run(action_server):
    listed = httpx.get(f"{action_server}/actions", params={"token": TOKEN})
    assert listed.status_code == 200
    assert {"name": "action_answer_from_knowledge"} in listed.json()
    ran = httpx.post(f"{action_server}/webhook", params={"token": TOKEN}, json=ACTION_CALL)
    assert ran.status_code == 200, ran.text
    assert "events" in ran.json()


def test_knowledge_ready_answers_once_the_head_is_fitted(action_server):
    ready = httpx.get(f"{action_server}/knowledge/ready", params={"token": TOKEN}, timeout=300)
    assert ready.status_code == 200
    assert ready.json() == {"head": True}  # the seed knowledge base is big enough for one


def test_health_needs_no_token(action_server):
    assert httpx.get(f"{action_server}/health").status_code == 200


def test_without_a_token_set_the_action_server_refuses_to_start(redis_server):
    env = actions_env(Settings(redis_url=f"{redis_server}/1"))
    del env["FRONTDOOR_ACTIONS_TOKEN"]
    done = subprocess.run(actions_argv("127.0.0.1", free_port()), env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "FRONTDOOR_ACTIONS_TOKEN is not set" in done.stderr
