"""`frontdoor bench handoff --json` on its own private stack: it measures real
escalations and replies and says so in the documented shape."""

import json

import pytest
from rich.console import Console

from bot.bench.handoff import run

pytestmark = pytest.mark.stack


def test_the_benchmark_measures_escalation_and_reply_and_loses_nothing(capsys):
    code = run(json_output=True, samples=3, transcript=200, console=Console(quiet=True))
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and report["lost"] == 0 and report["samples"] == 3
    for span in ("escalation_to_console", "reply_to_customer"):
        assert set(report[span]) == {"p50_ms", "p95_ms"}
        assert 0 < report[span]["p50_ms"] <= report[span]["p95_ms"] < 10_000
