"""Descriptive statistics for the report and the local tables, pure Python (no numpy).

Percentiles interpolate linearly between closest ranks, the default of numpy and pandas
``describe()`` (what the blog's distribution table shows) and what the distribution named query
computes in SQL, so the report, the terminal tables and Athena print the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STAT_ROWS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def quantile(ordered: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (pandas/numpy default, and the named query)."""
    h = (len(ordered) - 1) * p
    lo = int(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def describe(values: Sequence[float]) -> dict[str, float | int | None]:
    """The blog's distribution row: count, mean, sample std, min, 25/50/75 percentiles, max."""
    n = len(values)
    if n == 0:
        return {"count": 0, **{k: None for k in STAT_ROWS[1:]}}
    ordered = sorted(values)
    mean = sum(ordered) / n
    std = (sum((v - mean) ** 2 for v in ordered) / (n - 1)) ** 0.5 if n > 1 else None
    return {
        "count": n,
        "mean": mean,
        "std": std,
        "min": ordered[0],
        "25%": quantile(ordered, 0.25),
        "50%": quantile(ordered, 0.5),
        "75%": quantile(ordered, 0.75),
        "max": ordered[-1],
    }


def box_stats(values: Sequence[float]) -> dict[str, Any]:
    """Tukey box: quartiles, whiskers at the furthest points within 1.5 IQR, outliers beyond."""
    ordered = sorted(values)
    q1, med, q3 = (quantile(ordered, p) for p in (0.25, 0.5, 0.75))
    iqr = q3 - q1
    inside = [v for v in ordered if q1 - 1.5 * iqr <= v <= q3 + 1.5 * iqr]
    outliers = [v for v in ordered if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr]
    return {
        "q1": q1,
        "median": med,
        "q3": q3,
        "lo": inside[0],
        "hi": inside[-1],
        "mean": sum(ordered) / len(ordered),
        "outliers": outliers,
    }
