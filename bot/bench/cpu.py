"""CPU time per process, for `frontdoor bench chat`: how many milliseconds of
CPU each process of the stack spends per message at 50 customers, per path.

On a machine whose cores are all busy, throughput is the cores divided by the
CPU a message costs in all processes together; this says which process that
CPU goes to (read from /proc/<pid>/stat: user + system time, Linux only)."""

from __future__ import annotations

import os
from collections.abc import Mapping

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ms(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS_PER_S


def snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: cpu_ms(pid) for name, pid in pids.items()}


def group(name: str) -> str:
    """rasa-1, rasa-2 … count as "rasa"; the other children by their name."""
    return "rasa" if name.startswith("rasa") and name != "rasa-shipped" else name


class CpuMeter:
    """Adds up each process group's CPU over the runs of a path."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self.spent: dict[str, dict[str, float]] = {}  # path -> group -> ms
        self.messages: dict[str, int] = {}

    def start(self) -> dict[str, float]:
        return snapshot(self._pids)

    def stop(self, path: str, before: dict[str, float], messages: int) -> None:
        after = snapshot(self._pids)
        spent = self.spent.setdefault(path, {})
        for name in self._pids:
            spent[group(name)] = spent.get(group(name), 0.0) + after[name] - before[name]
        self.messages[path] = self.messages.get(path, 0) + messages

    def per_message(self) -> dict[str, dict[str, float]]:
        """path -> group -> CPU ms per message (groups that spent nothing left out)."""
        report = {}
        for path, spent in self.spent.items():
            count = max(1, self.messages[path])
            row = {name: round(ms / count, 2) for name, ms in spent.items() if ms > 0}
            row["total"] = round(sum(spent.values()) / count, 2)
            report[path] = row
        return report
