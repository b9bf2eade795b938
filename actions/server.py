"""The action server: rasa-sdk's own app, served from one process.

`python -m rasa_sdk` forks Sanic workers with the 'spawn' start method, which
clashes with torch (already initialised by the embedding model) and would load
the model once per process. One process per server instance is the unit we
scale (run N behind a load balancer: docs/architecture.md#processes).

Only Rasa may run actions: every route but `/health` answers 401 unless the
request carries FRONTDOOR_ACTIONS_TOKEN as the `token` query parameter, which
is how Rasa sends its action endpoint's `token` (rasa/utils/endpoints.py)."""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from redis.exceptions import RedisError
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse, json

from actions.handoff_service import handoff_service
from actions.knowledge_service import knowledge_service
from core.settings import get_settings

OPEN_PATHS = frozenset({"/health", "/healthz"})  # load balancers and the supervisor probe them


def require_token(app: Sanic, token: str) -> None:
    """Answer 401 before any handler runs unless the request has the token."""
    expected = token.encode()

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.args.get("token") or "").encode()
        if hmac.compare_digest(given, expected):  # constant time: no guessing by timing
            return None
        return json({"error": "unauthorized", "reason": "a valid token is required"}, status=401)

    app.register_middleware(check, "request")


log = logging.getLogger(__name__)


class WithoutDomain(ActionExecutor):
    """Rasa is configured not to send its domain with every action call
    (`enable_selective_domain`, bot/infra/supervisor.py): it is tens of kB of
    JSON to write and parse per call, and our actions never read it. rasa-sdk
    3.21 would then answer 449 ("send the domain"), which Rasa 3.6 does not
    retry; here a call without a domain runs with the last one seen, or none."""

    def update_and_return_domain(self, payload: dict[str, Any], action_name: str
                                 ) -> dict[str, Any] | None:
        if payload.get("domain"):
            self.domain = payload["domain"]
        return self.domain or {}


def add_redis_health(app: Sanic) -> None:
    """GET /healthz: 200 when Redis answers, 503 (and one log line when it goes
    away) when it does not; rasa-sdk's own /health only says the server runs.
    The actions' client retries and reconnects by itself (core/redis.py)."""
    last_ok = [True]

    @app.get("/healthz")
    async def healthz(request):
        try:
            ok = bool(await handoff_service().redis.ping())
        except (RedisError, OSError) as error:  # e.g. MasterNotFoundError from Sentinel
            ok = False
            if last_ok[0]:
                log.warning("health check: Redis unreachable: %s", error)
        last_ok[0] = ok
        return response.json({"status": "ok" if ok else "down", "redis": ok},
                             status=200 if ok else 503)


def add_knowledge_ready(app: Sanic) -> None:
    """GET /knowledge/ready (with the token): waits until the knowledge index is
    built and its head fitted (started when the server starts, `warm_knowledge`;
    until then the cosine index answers), then says whether answers use the head. For
    benchmarks and warm-ups that must not measure a fit in the background."""

    @app.get("/knowledge/ready")
    async def knowledge_ready(request):
        service = await knowledge_service()
        return response.json({"head": await service.learned()})


def warm_knowledge(app: Sanic) -> None:
    """Build the knowledge index (and start fitting its head) as soon as the
    server runs, while Rasa is still loading: the first customer, even one who
    only says hello (action_reply_social asks the knowledge base too), does
    not wait for every question variant to be encoded."""

    @app.after_server_start
    async def warm(app, _loop) -> None:
        async def build() -> None:
            try:
                await (await knowledge_service()).ensure_fresh()
            except Exception:  # the first question builds it instead
                log.exception("warming the knowledge index failed")
        app.add_task(build(), name="warm-knowledge")


def main() -> None:
    parser = argparse.ArgumentParser(description="Front Door action server (rasa-sdk).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()  # refuses settings the gateway would refuse (a weak secret)
    if "actions_token" not in settings.model_fields_set:
        # a random default would match no Rasa: every action call would be refused
        raise SystemExit("front door refuses to start: FRONTDOOR_ACTIONS_TOKEN is not set "
                         "(give the action server and every Rasa server the same one)")

    executor = WithoutDomain()
    executor.register_package("actions")
    app = create_app(executor, cors_origins=None)
    require_token(app, settings.actions_token.get_secret_value())
    add_redis_health(app)
    add_knowledge_ready(app)
    warm_knowledge(app)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    # Stopped serving (SIGTERM, Ctrl-C). A knowledge head still being fitted in a
    # worker thread (knowledge/answers/service.py) would hold the exit until its
    # fit ends, since Python joins those threads; nothing of it is kept half-done.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
