"""The one bootstrap of the project: percentile intervals of means and of paired mean differences.

One implementation and one seed rule, so ``radimpress score --bootstrap``, the run summaries, the
runs table and report.html give identical intervals for identical data:

- a column of ``n`` values resampled ``resamples`` times with seed ``s`` always gets the same row
  draws: ``numpy.random.default_rng(s)`` draws the ``resamples x n`` row indices, a block of
  resamples at a time (the block size depends on ``n`` only), whatever the column is called and
  whatever other columns are resampled with it;
- columns of equal length resampled together therefore share their draws (a paired bootstrap):
  two identical columns (ROUGE-L and ROUGE-Lsum on single-sentence impressions) get identical
  intervals;
- the interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` linear-interpolation
  percentiles of the resampled means (numpy's default method, which is also
  ``radimpress.scoring.aggregate.percentile``).

numpy is imported when an interval is asked for: the Publish Lambda has it from the AWS SDK for
pandas layer and the workstation from the ``local`` extra; the Score Lambda, which has no numpy,
never bootstraps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Row indices drawn at once: at most this many (resamples x rows) cells, about 8 MiB of int64
# (a block's draws, counts and weights are what a large run's Publish holds at its peak).
# numpy's Generator gives the same stream however the draws are split into calls, so the
# block size changes memory and speed, never the resamples (tests/unit/test_bootstrap.py).
_BLOCK_CELLS = 1 << 20


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("resamples must be >= 1 and confidence within (0, 1)")


def resampled_means(
    columns: Mapping[str, Sequence[float]], *, resamples: int, seed: int
) -> dict[str, Any]:
    """Each column's ``resamples`` resampled means (numpy arrays), under the seed rule above.

    Columns of one length share one set of draws; every length starts its own generator from
    ``seed``, so a column's means never depend on the columns beside it.
    """
    import numpy as np

    by_length: dict[int, list[str]] = {}
    for name, values in columns.items():
        if not len(values):
            raise ValueError("a confidence interval needs at least one value")
        by_length.setdefault(len(values), []).append(name)
    out: dict[str, Any] = {}
    for count, names in by_length.items():
        arrays = [np.asarray(columns[name], dtype=np.float64) for name in names]
        rng = np.random.default_rng(seed)
        block = max(1, _BLOCK_CELLS // count)
        sums = np.empty((len(names), resamples), dtype=np.float64)
        for start in range(0, resamples, block):
            size = min(block, resamples - start)
            rows = rng.integers(0, count, size=(size, count))
            # How often each row was drawn in each resample, then one product per column: a
            # column's sums never depend on how many columns share the draws (bit for bit).
            rows += np.arange(size)[:, None] * count  # each resample's own range of counts
            times = np.bincount(rows.ravel(), minlength=size * count).reshape(size, count)
            del rows
            weights = times.astype(np.float64)
            for position, column in enumerate(arrays):
                sums[position, start : start + size] = weights @ column
        for position, name in enumerate(names):
            out[name] = sums[position] / count
    return out


def _interval(means: Any, confidence: float) -> tuple[float, float]:
    import numpy as np

    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], method="linear")
    return float(low), float(high)


def mean_intervals(
    columns: Mapping[str, Sequence[float]],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap interval of each column's mean (see the module's seed rule)."""
    _check(resamples, confidence)
    means = resampled_means(columns, resamples=resamples, seed=seed)
    return {name: _interval(drawn, confidence) for name, drawn in means.items()}


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean of a - b, interval low, interval high): a paired bootstrap over the same studies.

    ``a[i]`` and ``b[i]`` are two models' scores of study ``i``; each resample draws studies, so
    what the two models share (a hard study is hard for both) cancels out.
    """
    import numpy as np

    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same studies on both sides")
    _check(resamples, confidence)
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    means = resampled_means({"d": differences.tolist()}, resamples=resamples, seed=seed)["d"]
    low, high = _interval(means, confidence)
    return float(np.mean(differences)), low, high


def verdict(first: str, second: str, difference: tuple[float, float, float], metric: str) -> str:
    """A plain sentence: "select vs restate: ROUGE-L within noise (+0.003, -0.002 to +0.008)"."""
    mean, low, high = difference
    if low > 0:
        said = f"{first} better"
    elif high < 0:
        said = f"{second} better"
    else:
        said = "within noise"
    return f"{first} vs {second}: {metric} {said} ({mean:+.4f}, 95% CI {low:+.4f} to {high:+.4f})"


# The metrics a paired comparison reports: (key in a model's per-study scores, title).
PAIRED_METRICS: tuple[tuple[str, str], ...] = (("rougeL", "ROUGE-L"), ("clinical", "clinical F1"))


def paired_comparisons(
    models: Sequence[tuple[str, Mapping[str, Mapping[str, float]]]],
    *,
    metrics: Sequence[tuple[str, str]] = PAIRED_METRICS,
    resamples: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every pair of ``models`` (label, {metric key: {study_id: score}}), A before B in the order
    given, per metric over the studies both scored (in study_id order, so the report and the
    console draw the same resamples): the mean difference A - B, its paired-bootstrap interval
    and a verdict sentence. Pairs with no study in common are left out.

    Every comparison's differences are resampled in one :func:`resampled_means` call: by the seed
    rule each gets the intervals :func:`paired_difference` gives it alone, and comparisons over
    the same number of studies (most of them) share one set of draws instead of drawing again.
    """
    import numpy as np

    _check(resamples, 0.95)
    compared: list[tuple[str, str, str, int]] = []
    differences: dict[str, Any] = {}
    for i, (label_a, scores_a) in enumerate(models):
        for label_b, scores_b in models[i + 1 :]:
            for key, title in metrics:
                a, b = scores_a.get(key, {}), scores_b.get(key, {})
                studies = sorted(set(a) & set(b))
                if not studies:
                    continue
                differences[str(len(compared))] = np.fromiter(
                    (a[s] - b[s] for s in studies), dtype=np.float64, count=len(studies)
                )
                compared.append((label_a, label_b, title, len(studies)))
    if not compared:
        return []
    means = resampled_means(differences, resamples=resamples, seed=seed)
    out = []
    for name, (label_a, label_b, title, count) in zip(differences, compared, strict=True):
        low, high = _interval(means[name], 0.95)
        difference = (float(np.mean(differences[name])), low, high)
        out.append(
            {
                "model_a": label_a,
                "model_b": label_b,
                "metric": title,
                "studies": count,
                "mean_difference": difference[0],
                "ci_low": difference[1],
                "ci_high": difference[2],
                "verdict": verdict(label_a, label_b, difference, title),
            }
        )
    return out
