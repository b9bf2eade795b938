"""Our repairs of Rasa's per-turn cost (bot/rasa_store/in_rasa/frontdoor_rasa_patches.py),
run in Rasa's own environment: the same answers as Rasa's, the costly part done once."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from bot.infra.processes import RASA_PYTHON
from bot.rasa_store.endpoints import IN_RASA

pytestmark = pytest.mark.stack  # runs Rasa's code in .venv-rasa

SCRIPT = textwrap.dedent("""
    import json
    import jsonschema
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core import events
    from rasa.shared.core.events import Event

    original_resolve = Event.resolve_by_type
    import frontdoor_rasa_patches
    frontdoor_rasa_patches.apply()

    checks = 0
    plain_check = validators.Draft202012Validator.check_schema.__func__
    def counting_check(cls, schema, *a, **k):
        global checks
        checks += 1
        return plain_check(cls, schema, *a, **k)
    for name in dir(validators):
        klass = getattr(validators, name)
        if isinstance(klass, type) and hasattr(klass, "check_schema") and name.startswith("Draft"):
            klass.check_schema = classmethod(counting_check)

    action = RemoteAction("action_answer_from_knowledge", None)
    good = {"events": [{"event": "slot", "name": "language", "value": "de"}],
            "responses": [{"text": "Hallo"}]}
    bad = {"events": [{"event": "slot", "name": 3}], "responses": "Hallo"}
    results = {"good": [], "bad": []}
    for _ in range(50):
        results["good"].append(action._validate_action_result(good))
        try:
            action._validate_action_result(bad)
            results["bad"].append("accepted")
        except jsonschema.ValidationError as error:
            results["bad"].append("rejected" if "Failed to validate Action server" in error.message
                                  else "other")
    from rasa.shared.utils.common import all_subclasses
    names = sorted({cls.type_name for cls in all_subclasses(Event)})
    same = all(Event.resolve_by_type(n) is original_resolve(n) for n in names * 2)
    try:
        Event.resolve_by_type("no_such_event")
        unknown = "accepted"
    except ValueError:
        unknown = "raised"
    default = Event.resolve_by_type("no_such_event", events.SlotSet) is events.SlotSet

    import asyncio
    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    async def endpoint_calls():
        peers = []
        async def webhook(request):
            peers.append(request.transport.get_extra_info("peername")[1])
            body = await request.json()
            if body.get("fail"):
                return web.json_response({"error": "no"}, status=400)
            return web.json_response({"echo": body, "token": request.query.get("token")})
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="t0k")
        answers = [await endpoint.request(json={"n": n}) for n in range(3)]
        try:
            await endpoint.request(json={"fail": True})
            failed = "accepted"
        except ClientResponseError as error:
            failed = error.status
        await runner.cleanup()
        return {"answers": answers, "connections": len(set(peers)), "failed": failed}

    calls = asyncio.run(endpoint_calls())
    print(json.dumps({"results": results, "checks": checks, "same": same, "types": len(names),
                      "unknown": unknown, "default": default, "calls": calls}))
""")


@pytest.fixture(scope="module")
def outcome() -> dict:
    out = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT], env={"PYTHONPATH": str(IN_RASA)},
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_valid_action_response_is_still_accepted_and_a_broken_one_rejected(outcome):
    assert outcome["results"]["good"] == [True] * 50
    assert outcome["results"]["bad"] == ["rejected"] * 50


def test_the_action_schema_is_checked_once_not_on_every_response(outcome):
    assert outcome["checks"] <= 1


def test_every_event_type_resolves_to_the_same_class_as_in_rasa(outcome):
    assert outcome["types"] > 20 and outcome["same"]
    assert outcome["unknown"] == "raised" and outcome["default"]


def test_an_endpoint_answers_as_rasa_s_on_one_kept_connection(outcome):
    calls = outcome["calls"]
    assert calls["answers"] == [{"echo": {"n": n}, "token": "t0k"} for n in range(3)]
    assert calls["failed"] == 400  # an error status still raises Rasa's ClientResponseError
    assert calls["connections"] == 1  # not one connection per request
