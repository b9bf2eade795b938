#!/usr/bin/env bash
# Create/refresh the separate Rasa virtualenv (.venv-rasa) from the committed
# lock requirements-rasa.lock (why: docs/architecture.md#environments). Run from the repo root.
#
# Idempotent: if .venv-rasa/.lock-sha256 equals the sha256 of the lock, nothing
# is done. The stamp is written only after a successful install + check.
#
# Rasa must run with RASA_TELEMETRY_ENABLED=false (no outside network here);
# this script exports it for its own `rasa --version` check.
#
# Regenerate the lock (only when requirements-rasa.in / rasa-overrides.txt change):
#   uv pip compile --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
#     --override rasa-overrides.txt requirements-rasa.in -o requirements-rasa.lock
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-rasa
LOCK=requirements-rasa.lock
STAMP="$VENV/.lock-sha256"
PYTHON_BIN="${PYTHON:-python3}"

export RASA_TELEMETRY_ENABLED=false

want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/rasa" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "setup_rasa_env: $VENV is up to date with $LOCK"
    exit 0
fi

if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "setup_rasa_env: $PYTHON_BIN must be Python 3.11" >&2
    exit 1
fi

rm -f "$STAMP"
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON_BIN" -m venv "$VENV"
fi

# Find a uv: on PATH, in the main venv, or install one into .venv-rasa.
UV=""
for cand in "$(command -v uv || true)" .venv/bin/uv "$VENV/bin/uv"; do
    if [[ -n "$cand" && -x "$cand" ]]; then UV="$cand"; break; fi
done
if [[ -z "$UV" ]]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
    UV="$VENV/bin/uv"
fi

"$UV" pip install --python "$VENV/bin/python" --no-deps -r "$LOCK"

"$VENV/bin/rasa" --version

echo "$want" > "$STAMP"
echo "setup_rasa_env: $VENV ready"
