"""The statistics and plot helpers every benchmark shares (`frontdoor bench
chat|kb|handoff`), so their figures mean the same thing.

Percentiles are **nearest-rank**: the p-th percentile of n measurements is the
value of 1-based rank ceil(p/100 · n) in ascending order (rank 1 for p = 0).
It is always a value that was actually measured, never an interpolation
between two. So of twenty values the p95 is the 19th smallest and the p50 the
10th (the lower median); of ten values the p95 is the largest. An empty list
has no percentile: NaN.

Latency plots are empirical CDFs: each measurement sorted, against the share
of measurements at or below it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

PLOT_DPI = 120


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile (0 ≤ p ≤ 100) of `values`; NaN when empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not between 0 and 100")
    if not values:
        return math.nan
    ordered = sorted(values)
    # round() first: p/100 * n is not exact in binary (7/100 * 100 = 7.000000000000001)
    rank = max(1, math.ceil(round(p / 100 * len(ordered), 9)))
    return ordered[rank - 1]


def p50(values: Sequence[float]) -> float:
    return percentile(values, 50)


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


def latency_summary(values_ms: Sequence[float], digits: int) -> dict[str, float]:
    """{"p50_ms", "p95_ms"} of latencies in milliseconds, rounded to `digits`
    (NaN for no measurements)."""
    return {"p50_ms": round(p50(values_ms), digits), "p95_ms": round(p95(values_ms), digits)}


def ecdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The empirical CDF of `values`: (sorted values, share of values ≤ each)."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [i / n for i in range(1, n + 1)]


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed);
    imported on demand, so a `--json` run never loads matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ecdf(ax, values: Sequence[float], label: str, style: str = "-") -> None:
    """One latency curve on `ax`; nothing for an empty list."""
    if values:
        xs, ys = ecdf(values)
        ax.plot(xs, ys, style, label=label)


def finish_axes(ax, xlabel: str, ylabel: str, title: str | None = None,
                legend_loc: str | None = None) -> None:
    """The labels, light grid and legend every benchmark plot has."""
    if title is not None:
        ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if legend_loc is None:
        ax.legend()
    else:
        ax.legend(loc=legend_loc)


def save_figure(fig, path: Path) -> None:
    """Lay out, write the PNG (making its folder) and free the figure."""
    plt = pyplot()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
