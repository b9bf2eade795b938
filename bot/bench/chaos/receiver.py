"""The ticket-webhook receiver of the chaos bench: a helpdesk stand-in that
verifies each delivery's signature and appends one JSON line per accepted
delivery (its X-FrontDoor-Delivery id). Run as its own process so the bench can
kill it; every line is flushed before the 200 goes out, so an accepted delivery
is on disk even if the process is SIGKILLed right after."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response

from handoff.webhooks import verify_signature

SECRET_ENV = "CHAOS_WEBHOOK_SECRET"


def create_app(out: Path, secret: str) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(secret, body, request.headers.get("X-FrontDoor-Signature", "")):
            return Response(status_code=401)
        line = {"delivery": request.headers.get("X-FrontDoor-Delivery"),
                "event": request.headers.get("X-FrontDoor-Event"), "ts": time.time()}
        with out.open("a") as f:
            f.write(json.dumps(line) + "\n")
        return Response(status_code=204)

    return app


def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.out, os.environ[SECRET_ENV]), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
