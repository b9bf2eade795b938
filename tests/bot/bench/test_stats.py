"""The one percentile definition every benchmark uses (nearest rank), and the
shared plot helpers."""

import math

import pytest

from bot.bench.stats import ecdf, latency_summary, percentile, plot_ecdf, pyplot, save_figure

TWENTY = [float(v) for v in range(20, 0, -1)]  # 20.0 … 1.0, unsorted on purpose


def test_p95_of_twenty_values_is_the_nineteenth():
    assert percentile(TWENTY, 95) == 19.0


def test_p50_of_twenty_values_is_the_tenth_the_lower_median():
    assert percentile(TWENTY, 50) == 10.0


def test_p95_of_ten_values_is_the_largest():
    assert percentile([float(v) for v in range(1, 11)], 95) == 10.0


def test_a_percentile_is_always_a_measured_value():
    values = [3.0, 1.0, 7.5, 2.25, 9.0, 4.0, 6.0]
    for p in range(101):
        assert percentile(values, p) in values


def test_p0_is_the_smallest_and_p100_the_largest():
    assert percentile(TWENTY, 0) == 1.0 and percentile(TWENTY, 100) == 20.0


def test_an_exact_rank_is_not_pushed_up_by_floating_point():
    # 7/100 * 100 is 7.000000000000001 in binary floating point
    assert percentile([float(v) for v in range(1, 101)], 7) == 7.0


def test_no_values_have_no_percentile():
    assert math.isnan(percentile([], 95))


def test_a_percentile_outside_0_to_100_is_refused():
    with pytest.raises(ValueError):
        percentile(TWENTY, 101)


def test_the_latency_summary_has_the_benchmarks_keys_rounded():
    assert latency_summary([1.234, 5.678, 2.0], 1) == {"p50_ms": 2.0, "p95_ms": 5.7}


def test_the_ecdf_ends_at_one():
    xs, ys = ecdf([3.0, 1.0, 2.0])
    assert xs == [1.0, 2.0, 3.0] and ys == [1 / 3, 2 / 3, 1.0]


@pytest.mark.slow  # matplotlib's first import: in make test, not test-fast
def test_a_plot_is_written_to_a_new_folder(tmp_path):
    fig, ax = pyplot().subplots()
    plot_ecdf(ax, TWENTY, "twenty")
    plot_ecdf(ax, [], "nothing")
    path = tmp_path / "out" / "cdf.png"
    save_figure(fig, path)
    assert path.stat().st_size > 1_000
