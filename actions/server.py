"""The action server: rasa-sdk's own app, served from one process.

`python -m rasa_sdk` forks Sanic workers with the 'spawn' start method, which
clashes with torch (already initialised by the embedding model) and would load
the model once per process. One process per server instance is the unit we
scale (run N behind a load balancer: docs/architecture.md#processes)."""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from redis.exceptions import RedisError
from sanic import Sanic, response

from actions.handoff_service import handoff_service
from core.settings import get_settings

log = logging.getLogger(__name__)


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


def main() -> None:
    parser = argparse.ArgumentParser(description="Front Door action server (rasa-sdk).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    get_settings()  # refuse to start on settings the gateway would refuse (a weak secret)

    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor, cors_origins=None)
    add_redis_health(app)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
