"""The supervisor's state file: what `frontdoor up` reports about each process it
runs (bot/infra/supervisor.py writes it, the gateway's /healthz and /metrics
read it). A small JSON file, replaced whole on every change, so a reader never
sees half of it."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from core.settings import Settings

ChildState = Literal["starting", "running", "restarting", "failed", "stopped"]
# States in which a process does not do its work (/healthz: "degraded").
DOWN_STATES = frozenset({"restarting", "failed"})


class ChildStatus(BaseModel):
    """One process the supervisor runs."""

    name: str
    state: ChildState
    pid: int | None  # of the process now running (or last run)
    restarts: int  # since `frontdoor up` started
    last_exit_code: int | None  # negative: killed by that signal
    since: float  # Unix time the process entered its state


def state_file(settings: Settings) -> Path:
    return settings.var_dir / "run" / "children.json"


def write_status(path: Path, children: Iterable[ChildStatus]) -> None:
    """Write a temporary file next to the state file and rename it over it
    (os.replace is atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"children": [c.model_dump() for c in children]}, indent=1))
    os.replace(temporary, path)


def read_status(path: Path | None) -> list[ChildStatus] | None:
    """The children in the state file; None when there is no (readable) file,
    e.g. a gateway run without the supervisor."""
    if path is None:
        return None
    with contextlib.suppress(OSError, ValueError, ValidationError, KeyError, TypeError):
        return [ChildStatus.model_validate(c) for c in json.loads(path.read_text())["children"]]
    return None
