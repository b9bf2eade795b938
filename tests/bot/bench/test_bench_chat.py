"""The chat benchmark's report (a whole run needs minutes: the lead runs it),
and the history it writes: the JSON keys the closing note reads, the targets,
fairness, and a history of N messages built from a real conversation's events."""

import json

from bot.bench.chat import PATHS, fairness, parse_history, target_lines, targets
from bot.bench.chat_history import Template, build_history


def _m(p50: float, rps: float) -> dict:
    return {"p50_ms": p50, "p95_ms": p50 * 2, "rps": rps}


def test_the_report_keeps_todays_keys_and_has_shipped_and_history():
    report = {
        "shipped": {"c1": _m(60, 16), "c50": _m(2000, 20)},
        "direct": {"c1": _m(62, 16), "c50": _m(1500, 26)},
        "frontdoor": {"c1": _m(64, 15), "c50": _m(900, 34)},
        "history": {"0": _m(64, 15), "200": _m(65, 15), "1000": _m(66, 15),
                    "5000": _m(70, 14)},
        "fairness": fairness([[100, 110, 120], [100, 130, 125], [90, 95, 300]]),
        "burst": {"fairness": fairness([[100], [120]])},
    }
    found = targets(report)
    assert found == {"throughput_c50_vs_shipped": 1.7, "p50_c1_vs_shipped": 1.07,
                     "p50_history_5000_vs_0": 1.09, "fairness_worst_p95_vs_median": 2.31,
                     "burst_fairness_worst_p95_vs_median": 1.2}
    lines = target_lines(found)
    assert "throughput_c50_vs_shipped = 1.70 (>= 1.5: met)" in lines
    assert "fairness_worst_p95_vs_median = 2.31 (<= 2.0: NOT met)" in lines
    for key in (*PATHS, "history", "fairness", "burst"):
        assert key in json.loads(json.dumps(report))
    assert set(report["shipped"]) == {"c1", "c50"}
    assert set(report["history"]) == {"0", "200", "1000", "5000"}


def test_history_lengths_are_read_from_repeated_options_and_comma_lists():
    assert parse_history(["200,1000", "5000"]) == [0, 200, 1000, 5000]
    assert parse_history(["1000", "200"]) == [0, 200, 1000]


def test_a_history_repeats_a_real_conversation_one_session_per_script_in_the_past():
    events = [{"event": "action", "name": "action_session_start"},
              {"event": "session_started"}, {"event": "action", "name": "action_listen"}]
    for text in ("hello", "thanks"):
        events += [{"event": "user", "text": text}, {"event": "action", "name": "utter"},
                   {"event": "bot", "text": f"re: {text}"},
                   {"event": "action", "name": "action_listen"}]
    template = Template.from_events(events)
    history = build_history(template, 9, now=1_000_000.0)
    # whole turns, two messages each, until at least nine messages
    assert [e.text for e in history.entries] == [
        "hello", "re: hello", "thanks", "re: thanks", "hello", "re: hello",
        "thanks", "re: thanks", "hello", "re: hello"]
    assert sum(1 for e in history.events if e["event"] == "session_started") == 3
    stamps = [e["timestamp"] for e in history.events]
    assert stamps == sorted(stamps) and stamps[-1] < 1_000_000.0 - 86400


def test_the_counters_start_at_zero_and_say_where_a_reply_was_lost():
    from bot.bench.chat import Counters

    counters = Counters()
    assert (counters.lost, counters.duplicated, counters.rejected) == (0, 0, 0)
    counters.lose("c50/frontdoor")
    counters.lose("c50/frontdoor")
    assert (counters.lost, counters.lost_where, counters.duplicated) == (
        2, {"c50/frontdoor": 2}, 0)
