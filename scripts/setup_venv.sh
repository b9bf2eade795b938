#!/usr/bin/env bash
# Create or refresh the main virtual environment (.venv).
# torch is installed first and pinned: an unpinned torch pulls GBs of CUDA wheels
# (docs/architecture.md#environments). Idempotent: skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP="$VENV/.pyproject-sha256"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ -x "$VENV/bin/frontdoor" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi
rm -f "$STAMP"
[[ -x "$VENV/bin/python" ]] || "${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip uv
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "$want" > "$STAMP"
echo "setup_venv: $VENV ready"
