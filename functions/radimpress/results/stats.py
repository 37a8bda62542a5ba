"""The report's statistics, taken from radimpress.scoring.aggregate (pure Python, no numpy).

The distribution row is aggregate's ``Distribution`` (pandas ``describe()`` conventions: sample
std, numpy's linear-interpolation percentiles, fsum means) and the quartiles are its
``percentile``, so report.html, the CLI tables and the distribution named query (the same
interpolation in SQL) print the same numbers. Only what a box plot adds (Tukey whiskers,
outliers) is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from radimpress.scoring.aggregate import STAT_NAMES, Distribution, percentile


def describe(values: Sequence[float]) -> dict[str, float | int | None]:
    """The blog's distribution row; all None (count 0) for a model with no scored report."""
    if not values:
        return {"count": 0, **dict.fromkeys(STAT_NAMES[1:])}
    return Distribution.of(values).to_dict()


def box_stats(values: Sequence[float]) -> dict[str, Any]:
    """Tukey box: quartiles, whiskers at the furthest points within 1.5 IQR, outliers beyond."""
    ordered = sorted(values)
    q1, med, q3 = (percentile(ordered, p) for p in (0.25, 0.5, 0.75))
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = [v for v in ordered if low <= v <= high]
    return {
        "q1": q1,
        "median": med,
        "q3": q3,
        "lo": inside[0],
        "hi": inside[-1],
        "mean": math.fsum(ordered) / len(ordered),
        "outliers": [v for v in ordered if v < low or v > high],
    }
