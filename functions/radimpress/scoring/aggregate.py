"""Per (dataset, model) aggregates of per-report ROUGE: the blog's two tables, pure Python.

Table 1 is the mean F1 of each metric per model; table 2 the distribution of each metric's F1
(count, mean, std, min, 25%, 50%, 75%, max) with pandas ``describe()`` conventions: sample standard
deviation (ddof=1, None for fewer than two values) and numpy's linear-interpolation percentiles.
An optional bootstrap confidence interval of the mean is seeded, so a run is reproducible
(radimpress.scoring.bootstrap, the one bootstrap: it imports numpy when asked for an interval).
The rest is pure Python: the Score Lambda, which has no numpy, uses this module too.

Input rows are the per-report score rows of docs/contracts.md: mappings with ``dataset``,
``model`` and, per metric, ``{"precision", "recall", "fmeasure"}`` or None when the report has no
reference. Rows without scores are counted as unscored, never averaged as zeros.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, repeat
from typing import Any

from radimpress.scoring.rouge import ROUGE_TYPES

METRIC_LABELS = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "rougeLsum": "ROUGE-Lsum",
    "clinical": "Clinical F1",
    "clinical_precision": "Clinical P",
    "clinical_recall": "Clinical R",
}
# The score rows' clinical agreement object; summarize(rows, metrics=(*ROUGE_TYPES, CLINICAL)).
CLINICAL = "clinical"
STAT_NAMES = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def percentile(ordered: Sequence[float], q: float) -> float:
    """numpy.percentile(..., method="linear") of sorted values, ``q`` in [0, 1].

    The interpolation is numpy's ``_lerp`` operation for operation (it interpolates from the
    upper neighbour when the weight is >= 0.5), so results match numpy and pandas exactly.
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    weight = position - below
    above = min(below + 1, len(ordered) - 1)
    low, high = ordered[below], ordered[above]
    difference = high - low
    if weight >= 0.5:
        return high - difference * (1 - weight)
    return low + difference * weight


class _Expanded(Sequence[float]):
    """Sorted distinct values, each repeated its count, read by position without repeating."""

    def __init__(self, ordered: Sequence[float], times: Sequence[int]) -> None:
        self._ordered = ordered
        self._ends = list(accumulate(times))  # values before ordered[i]'s end

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, position: int) -> float:  # type: ignore[override]
        if not 0 <= position < len(self):
            raise IndexError(position)
        return self._ordered[bisect_right(self._ends, position)]


@dataclass(frozen=True)
class Distribution:
    """describe() of one metric's values; ``std`` is None below two values (pandas gives NaN)."""

    count: int
    mean: float
    std: float | None
    min: float
    p25: float
    p50: float
    p75: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            raise ValueError("a distribution needs at least one value")
        ordered = sorted(values)
        count = len(ordered)
        mean = math.fsum(ordered) / count
        std = (
            # (v - mean) ** 2 for each v, through map (no Python frame per value): same floats.
            math.sqrt(
                math.fsum(map(pow, map(operator.sub, ordered, repeat(mean)), repeat(2)))
                / (count - 1)
            )
            if count > 1
            else None
        )
        return cls._described(ordered, mean, std)

    @classmethod
    def of_counts(cls, counts: Mapping[float, int]) -> Distribution:
        """:meth:`of` for values given as {value: how many times}: the same numbers, bit for
        bit, in time of the distinct values (score rows repeat a few hundred values).

        Sums are exact sums rounded once (:func:`repeated_fsum`), which is what ``math.fsum``
        gives over the repeated values; percentiles read the sorted values by position.
        """
        if not counts or min(counts.values()) < 1:
            raise ValueError("a distribution needs at least one value, each counted at least once")
        ordered = sorted(counts)
        times = [counts[value] for value in ordered]
        count = sum(times)
        mean = repeated_fsum(ordered, times) / count
        std = (
            math.sqrt(repeated_fsum([(v - mean) ** 2 for v in ordered], times) / (count - 1))
            if count > 1
            else None
        )
        return cls._described(_Expanded(ordered, times), mean, std)

    @classmethod
    def _described(cls, ordered: Sequence[float], mean: float, std: float | None) -> Distribution:
        """The distribution of the sorted values ``ordered`` with their mean and std."""
        count = len(ordered)
        return cls(
            count=count,
            mean=mean,
            std=std,
            min=ordered[0],
            p25=percentile(ordered, 0.25),
            p50=percentile(ordered, 0.5),
            p75=percentile(ordered, 0.75),
            max=ordered[count - 1],
        )

    def to_dict(self) -> dict[str, float | int | None]:
        """Keys as pandas describe() names them: count, mean, std, min, 25%, 50%, 75%, max."""
        values = (self.count, self.mean, self.std, self.min, self.p25, self.p50, self.p75, self.max)
        return dict(zip(STAT_NAMES, values, strict=True))


def repeated_fsum(values: Sequence[float], times: Sequence[int]) -> float:
    """``math.fsum`` of each value repeated its number of times, without repeating them.

    fsum returns the exact sum rounded once; so does this: finite floats are binary fractions,
    summed exactly as integers over their common power-of-two denominator, and the integer
    quotient is correctly rounded. Non-finite values go to fsum itself.
    """
    if not all(map(math.isfinite, values)):
        return math.fsum(chain.from_iterable(map(repeat, values, times)))
    ratios = [value.as_integer_ratio() for value in values]
    denominator = max((d for _, d in ratios), default=1)
    total = sum(k * n * (denominator // d) for (n, d), k in zip(ratios, times, strict=True))
    return total / denominator


def bootstrap_mean_ci(
    values: Sequence[float], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (radimpress.scoring.bootstrap's one rule)."""
    return bootstrap_mean_cis(
        {"values": values}, resamples=resamples, confidence=confidence, seed=seed
    )["values"]


def bootstrap_mean_cis(
    columns: Mapping[str, Sequence[float]],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of several columns' means (radimpress.scoring.bootstrap).

    Columns of one length share their draws (paired), so identical columns get identical
    intervals, and a column's interval depends only on its values, ``resamples`` and ``seed``.
    """
    from radimpress.scoring.bootstrap import mean_intervals

    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError("bootstrap columns must be non-empty and equally long")
    return mean_intervals(columns, resamples=resamples, confidence=confidence, seed=seed)


@dataclass
class GroupSummary:
    """Aggregates of one (dataset, model): mean F1, distributions and optional intervals."""

    dataset: str
    model: str
    scored: int = 0
    unscored: int = 0
    distributions: dict[str, Distribution] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def mean_f1(self) -> dict[str, float]:
        return {metric: d.mean for metric, d in self.distributions.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the results layer and run summaries (numbers only, never report text)."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "model": self.model,
            "scored": self.scored,
            "unscored": self.unscored,
            "mean_f1": self.mean_f1,
            "distribution": {m: d.to_dict() for m, d in self.distributions.items()},
        }
        if self.intervals:
            out["mean_f1_ci"] = {m: list(ci) for m, ci in self.intervals.items()}
        return out


def _f1(row: Mapping[str, Any], metric: str, where: str) -> float | None:
    score = row.get(metric)
    if score is None:
        return None
    try:
        # ROUGE rows carry "fmeasure"; the clinical agreement object carries "f1".
        value = score["fmeasure"] if "fmeasure" in score else score["f1"]
    except (TypeError, KeyError):
        raise ValueError(f"{where}: field '{metric}' has no 'fmeasure'") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{where}: field '{metric}.fmeasure' is not a number")
    return float(value)


def summarize(
    rows: Iterable[Mapping[str, Any]],
    *,
    metrics: Sequence[str] = ROUGE_TYPES,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[GroupSummary]:
    """Group score rows by (dataset, model) and aggregate the F1 of each metric.

    A row counts as scored when every metric is present, unscored when every metric is None
    (no reference impression); a mix is an error naming the row. With ``bootstrap`` > 0 each mean
    gets a percentile-bootstrap interval from that many resamples, seeded by ``seed``.
    Groups come out sorted by dataset, then model.
    """
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    unscored: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows, start=1):
        ident = row.get("study_id")
        where = f"score row {index}" + (f" (study_id={ident})" if ident is not None else "")
        key = (str(row.get("dataset", "")), str(row.get("model", "")))
        f1s = [_f1(row, metric, where) for metric in metrics]
        group = values.setdefault(key, {metric: [] for metric in metrics})
        unscored.setdefault(key, 0)
        if all(v is None for v in f1s):
            unscored[key] += 1
            continue
        if any(v is None for v in f1s):
            missing = [m for m, v in zip(metrics, f1s, strict=True) if v is None]
            raise ValueError(f"{where}: some metrics are scored and {missing} are not")
        for metric, value in zip(metrics, f1s, strict=True):
            group[metric].append(value)  # type: ignore[arg-type]
    return [
        summarize_group(
            dataset,
            model,
            per_metric,
            unscored=unscored[(dataset, model)],
            bootstrap=bootstrap,
            confidence=confidence,
            seed=seed,
        )
        for (dataset, model), per_metric in sorted(values.items())
    ]


def summarize_group(
    dataset: str,
    model: str,
    columns: Mapping[str, Sequence[float] | Mapping[float, int]],
    *,
    unscored: int = 0,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> GroupSummary:
    """The aggregates of one (dataset, model) from its F1 columns, equally long, in row order.

    What :func:`summarize` computes per group, without reading rows: a caller that already holds
    the columns (the CLI's scorer) skips the per-row work and gets the same numbers. A column
    may also be given as {value: how many rows} (:meth:`Distribution.of_counts`), without
    bootstrap, which resamples rows. Every column is bootstrapped with ``seed`` and the same row
    draws (radimpress.scoring.bootstrap), as the runs table and report.html do.
    """
    sizes = {
        sum(values.values()) if isinstance(values, Mapping) else len(values)
        for values in columns.values()
    }
    if len(sizes) > 1:
        raise ValueError("the columns of one group must be equally long")
    summary = GroupSummary(dataset, model, unscored=unscored)
    summary.scored = sizes.pop() if sizes else 0
    if summary.scored:
        for metric, values in columns.items():
            if isinstance(values, Mapping):
                if bootstrap:
                    raise ValueError("bootstrap resamples rows: give the column, not its counts")
                summary.distributions[metric] = Distribution.of_counts(values)
                continue
            summary.distributions[metric] = Distribution.of(values)
        if bootstrap:
            rows = {m: v for m, v in columns.items() if not isinstance(v, Mapping)}
            summary.intervals.update(
                bootstrap_mean_cis(rows, resamples=bootstrap, confidence=confidence, seed=seed)
            )
    return summary


# --------------------------------------------------------------------------------------------
# Plain-text tables (CLI, local runtime)
# --------------------------------------------------------------------------------------------


def _table(header: Sequence[str], body: Sequence[Sequence[str]], numeric_from: int) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if position >= numeric_from else cell.ljust(width)
            for position, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in body)])


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_mean_table(
    summaries: Sequence[GroupSummary], metrics: Sequence[str] = ROUGE_TYPES, digits: int = 4
) -> str:
    """Table 1: mean F1 per (dataset, model), with the bootstrap interval when computed."""
    header = ["dataset", "model", "n", *(METRIC_LABELS.get(m, m) for m in metrics)]
    body = []
    for s in summaries:
        cells = [s.dataset, s.model, str(s.scored)]
        for metric in metrics:
            distribution = s.distributions.get(metric)
            text = _number(distribution.mean if distribution else None, digits)
            if metric in s.intervals:
                low, high = s.intervals[metric]
                text += f" [{low:.{digits}f}, {high:.{digits}f}]"
            cells.append(text)
        body.append(cells)
    return _table(header, body, numeric_from=2)


def format_distribution_table(
    summaries: Sequence[GroupSummary], metrics: Sequence[str] = ROUGE_TYPES, digits: int = 4
) -> str:
    """Table 2: describe() of each metric's F1 per (dataset, model), one line per metric."""
    header = ["dataset", "model", "metric", *STAT_NAMES]
    body = []
    for s in summaries:
        for metric in metrics:
            distribution = s.distributions.get(metric)
            if distribution is None:
                continue
            stats = distribution.to_dict()
            body.append(
                [
                    s.dataset,
                    s.model,
                    METRIC_LABELS.get(metric, metric),
                    str(stats["count"]),
                    *(_number(stats[name], digits) for name in STAT_NAMES[1:]),
                ]
            )
    return _table(header, body, numeric_from=3)


def summaries_to_dict(summaries: Sequence[GroupSummary]) -> list[dict[str, Any]]:
    """The JSON form of every group, for run summaries and the results layer."""
    return [s.to_dict() for s in summaries]
