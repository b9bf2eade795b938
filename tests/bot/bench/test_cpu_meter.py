"""The benchmark's CPU per message by process (bot/bench/cpu.py), on real processes."""

from __future__ import annotations

import subprocess
import sys

from bot.bench.cpu import CpuMeter, group

SPIN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n" \
       "import sys; sys.stdin.read()"
SLEEP = "import sys; sys.stdin.read()"


def test_a_busy_process_is_charged_its_cpu_and_an_idle_one_nothing():
    busy = subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.PIPE)
    idle = subprocess.Popen([sys.executable, "-c", SLEEP], stdin=subprocess.PIPE)
    try:
        meter = CpuMeter({"rasa-1": busy.pid, "gateway": idle.pid})
        before = meter.start()
        while meter.start()["rasa-1"] - before["rasa-1"] < 350:  # spins 400 ms of CPU
            pass
        meter.stop("frontdoor", before, messages=10)
        row = meter.per_message()["frontdoor"]
        assert row["rasa"] >= 35  # ms per message: at least 350 ms over 10 messages
        assert row.get("gateway", 0.0) < 5
        assert row["total"] >= row["rasa"]
    finally:
        for proc in (busy, idle):
            proc.kill()
            proc.wait()


def test_rasa_processes_count_together_and_the_shipped_one_apart():
    assert group("rasa-2") == "rasa" and group("rasa") == "rasa"
    assert group("rasa-shipped") == "rasa-shipped" and group("actions") == "actions"
