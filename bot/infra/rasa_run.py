"""Run `rasa run` with its HTTP API token taken from the environment, so the
token is never on the command line (anyone on the host can read a process's
argv with `ps`; its environment only the same user and root can read).

Rasa 3.6 takes the API token only as `--auth-token` (there is no environment
variable for it, and endpoints.yml's `${VAR}` interpolation does not cover the
server's own token), so this script, run by the Rasa environment's Python,
appends `--auth-token` to `sys.argv` inside the process and then calls Rasa's
own entry point, after applying our repairs of Rasa's per-turn cost
(bot/rasa_store/in_rasa/frontdoor_rasa_patches.py). It imports nothing from this
project but that folder (it runs in .venv-rasa): `python bot/infra/rasa_run.py
run --model ... --enable-api`."""

from __future__ import annotations

import os
import sys

TOKEN_VARIABLE = "FRONTDOOR_RASA_TOKEN"


def argv_with_token(argv: list[str], environ: dict[str, str]) -> list[str]:
    """`rasa` followed by the given arguments and the token from the environment."""
    token = environ.get(TOKEN_VARIABLE, "")
    if not token:
        raise SystemExit(f"{TOKEN_VARIABLE} is not set: Rasa's HTTP API needs a token")
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv):
        raise SystemExit("pass the token in the environment, not on the command line")
    # One argument, "--auth-token=TOKEN": a token starting with "-" (one random
    # token in 64) would otherwise be read by Rasa's parser as another option.
    return ["rasa", *argv, f"--auth-token={token}"]


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    # Run as a script, its folder (bot/infra) heads sys.path: keep its modules
    # (metrics.py, streams.py, ...) from shadowing anything Rasa imports.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.argv = argv_with_token(sys.argv[1:], dict(os.environ))
    os.environ.pop(TOKEN_VARIABLE, None)  # nothing Rasa starts inherits it
    # Our repairs of Rasa's per-turn cost (bot/rasa_store/in_rasa, on Rasa's
    # PYTHONPATH as the launcher sets it: bot/rasa_store/endpoints.py).
    from frontdoor_rasa_patches import apply

    apply()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
