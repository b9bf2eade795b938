"""A cheap child process for the supervisor tests, instead of Rasa: an HTTP
server on 127.0.0.1:PORT that answers 200 to every GET.

With --only-once MARKER it serves its first run only; every later run exits
with code 3 (a process that cannot stay up), or, with --then hang, runs without
ever answering (a process that never becomes healthy)."""

from __future__ import annotations

import argparse
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:  # quiet
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--only-once", type=Path)
    parser.add_argument("--then", choices=("exit", "hang"), default="exit")
    args = parser.parse_args()
    if args.only_once is not None:
        if args.only_once.exists():
            print("cheap child: refusing to start again", flush=True)
            if args.then == "hang":
                time.sleep(3600)
            sys.exit(3)
        args.only_once.touch()
    HTTPServer(("127.0.0.1", args.port), Ok).serve_forever()


if __name__ == "__main__":
    main()
