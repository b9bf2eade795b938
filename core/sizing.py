"""How many processes `frontdoor up` starts on this machine when the settings do
not say (README, "Benchmark"; the figures behind these rules are in
docs/operations.md#sizing).

A Rasa process turns one message at a time on one event loop: its work (NLU,
policies, the tracker) is CPU-bound Python, so one process uses at most about
one core, and it needs about 600 MB+ of memory (the model, TensorFlow). The
action server and the gateway need CPU too, so Rasa gets the cores but one,
at least one process, and no more than the memory holds."""

from __future__ import annotations

import os
from dataclasses import dataclass

RASA_PROCESS_BYTES = 800 * 1024 * 1024  # measured ~600 MB resident, with headroom
RESERVED_BYTES = 1536 * 1024 * 1024  # Redis, the action server's model, the gateway


@dataclass(frozen=True)
class Machine:
    cores: int
    available_bytes: int

    @classmethod
    def this(cls) -> Machine:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        return cls(cores, _available_bytes())


def rasa_processes(machine: Machine) -> int:
    by_cores = max(1, machine.cores - 1)
    by_memory = max(1, (machine.available_bytes - RESERVED_BYTES) // RASA_PROCESS_BYTES)
    return int(min(by_cores, by_memory))


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 1024 ** 3
