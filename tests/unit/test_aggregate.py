"""Aggregates follow pandas describe() conventions; checked against numpy and pandas here only."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from radimpress.scoring import ROUGE_TYPES, summarize
from radimpress.scoring.aggregate import (
    Distribution,
    bootstrap_mean_ci,
    format_distribution_table,
    format_mean_table,
    percentile,
    summaries_to_dict,
)


def _row(dataset: str, model: str, study_id: str, f1s: dict[str, float] | None) -> dict:
    row = {"dataset": dataset, "model": model, "study_id": study_id}
    for metric in ROUGE_TYPES:
        row[metric] = (
            None if f1s is None else {"precision": 0.5, "recall": 0.5, "fmeasure": f1s[metric]}
        )
    return row


def test_distribution_matches_pandas_describe() -> None:
    rng = random.Random(4)
    for _ in range(500):
        count = rng.randint(1, 80)
        values = [rng.choice((0.0, 1.0, 1 / 3, 2 / 7, rng.random())) for _ in range(count)]
        ours = Distribution.of(values).to_dict()
        expected = pd.Series(values).describe()
        assert ours["count"] == expected["count"]
        for name in ("min", "25%", "50%", "75%", "max"):
            assert ours[name] == expected[name], name  # same interpolation, same float
        assert ours["mean"] == pytest.approx(expected["mean"], rel=1e-13, abs=0)
        if count > 1:
            assert ours["std"] == pytest.approx(expected["std"], rel=1e-12, abs=1e-15)
        else:
            assert ours["std"] is None and np.isnan(expected["std"])


def test_percentile_matches_numpy_linear() -> None:
    rng = random.Random(9)
    for _ in range(300):
        values = sorted(rng.random() for _ in range(rng.randint(1, 30)))
        for q in (0.0, 0.025, 0.1, 0.25, 0.5, 0.75, 0.975, 1.0):
            assert percentile(values, q) == np.percentile(values, q * 100)
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_summarize_groups_counts_unscored_and_means() -> None:
    rows = [
        _row("openi", "lead", "1", dict.fromkeys(ROUGE_TYPES, 0.2)),
        _row("openi", "lead", "2", dict.fromkeys(ROUGE_TYPES, 0.4)),
        _row("openi", "lead", "3", None),
        _row(
            "openi",
            "retrieval",
            "1",
            {"rouge1": 1.0, "rouge2": 0.0, "rougeL": 0.5, "rougeLsum": 0.25},
        ),
        _row("mimic", "lead", "9", dict.fromkeys(ROUGE_TYPES, 0.0)),
    ]
    summaries = summarize(rows)
    assert [(s.dataset, s.model) for s in summaries] == [
        ("mimic", "lead"),
        ("openi", "lead"),
        ("openi", "retrieval"),
    ]
    lead = summaries[1]
    assert (lead.scored, lead.unscored) == (2, 1)
    assert lead.mean_f1 == pytest.approx(dict.fromkeys(ROUGE_TYPES, 0.3))
    assert summaries[2].mean_f1 == {"rouge1": 1.0, "rouge2": 0.0, "rougeL": 0.5, "rougeLsum": 0.25}
    assert summaries[2].distributions["rouge1"].std is None
    json.dumps(summaries_to_dict(summaries))  # the results layer stores this form


def test_group_with_only_unscored_rows_has_no_means() -> None:
    (summary,) = summarize([_row("d", "m", "1", None)])
    assert (summary.scored, summary.unscored, summary.mean_f1) == (0, 1, {})
    assert "n/a" in format_mean_table([summary])


def test_bad_rows_name_the_row_and_field() -> None:
    partly = _row("d", "m", "S1", dict.fromkeys(ROUGE_TYPES, 0.1))
    partly["rouge2"] = None
    with pytest.raises(ValueError, match=r"score row 1 \(study_id=S1\).*rouge2"):
        summarize([partly])
    broken = _row("d", "m", "S2", dict.fromkeys(ROUGE_TYPES, 0.1))
    broken["rougeL"] = {"precision": 1.0}
    with pytest.raises(ValueError, match=r"study_id=S2.*'rougeL' has no 'fmeasure'"):
        summarize([broken])
    text = _row("d", "m", "S3", dict.fromkeys(ROUGE_TYPES, 0.1))
    text["rouge1"]["fmeasure"] = "0.5"
    with pytest.raises(ValueError, match=r"'rouge1.fmeasure' is not a number"):
        summarize([text])


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    rng = random.Random(1)
    values = [rng.random() for _ in range(200)]
    first = bootstrap_mean_ci(values, resamples=500, seed=3)
    assert first == bootstrap_mean_ci(values, resamples=500, seed=3)
    assert first != bootstrap_mean_ci(values, resamples=500, seed=4)
    mean = sum(values) / len(values)
    low, high = first
    assert low < mean < high
    # The standard error of a mean of U(0,1) is about 0.289 / sqrt(200) = 0.0204: a 95% interval
    # is about 0.08 wide; a broken resampler (no replacement, wrong k) gives zero width.
    assert 0.05 < high - low < 0.11
    constant = bootstrap_mean_ci([0.5] * 10, resamples=50)
    assert constant == (0.5, 0.5)
    rows = [_row("d", "m", str(i), dict.fromkeys(ROUGE_TYPES, v)) for i, v in enumerate(values)]
    (summary,) = summarize(rows, bootstrap=100, seed=1)
    assert set(summary.intervals) == set(ROUGE_TYPES)
    assert "mean_f1_ci" in summary.to_dict()


def test_tables_show_every_group_and_metric() -> None:
    rows = [
        _row("openi", "lead", "1", dict.fromkeys(ROUGE_TYPES, 0.25)),
        _row("openi", "lead", "2", dict.fromkeys(ROUGE_TYPES, 0.75)),
        _row("openi", "retrieval", "1", dict.fromkeys(ROUGE_TYPES, 0.5)),
    ]
    summaries = summarize(rows)
    means = format_mean_table(summaries).splitlines()
    assert means[0].split() == [
        "dataset",
        "model",
        "n",
        "ROUGE-1",
        "ROUGE-2",
        "ROUGE-L",
        "ROUGE-Lsum",
    ]
    assert means[2].split() == ["openi", "lead", "2", "0.5000", "0.5000", "0.5000", "0.5000"]
    distribution = format_distribution_table(summaries).splitlines()
    assert distribution[0].split() == [
        "dataset",
        "model",
        "metric",
        "count",
        "mean",
        "std",
        "min",
        "25%",
        "50%",
        "75%",
        "max",
    ]
    assert len(distribution) == 2 + 2 * len(ROUGE_TYPES)
    assert distribution[2].split() == [
        "openi",
        "lead",
        "ROUGE-1",
        "2",
        "0.5000",
        "0.3536",
        "0.2500",
        "0.3750",
        "0.5000",
        "0.6250",
        "0.7500",
    ]
    assert distribution[-1].split()[5] == "n/a"  # one value: no sample std


def test_paired_bootstrap_intervals_are_seeded_and_cover_the_mean() -> None:
    from radimpress.scoring.aggregate import bootstrap_mean_cis

    rng = random.Random(9)
    columns = {name: [rng.random() for _ in range(300)] for name in ("a", "b")}
    first = bootstrap_mean_cis(columns, resamples=400, seed=3)
    assert first == bootstrap_mean_cis(columns, resamples=400, seed=3)
    for name, (low, high) in first.items():
        mean = float(np.mean(columns[name]))
        assert low < mean < high and high - low < 0.1
    # Paired: a column and its copy get the same interval from the same resamples.
    same = bootstrap_mean_cis({"x": columns["a"], "y": list(columns["a"])}, resamples=50)
    assert same["x"] == same["y"]
    with pytest.raises(ValueError, match="equally long"):
        bootstrap_mean_cis({"a": [0.1], "b": [0.1, 0.2]})
    assert bootstrap_mean_cis({"a": [0.5]}, resamples=5) == {"a": (0.5, 0.5)}


def test_summarize_reads_clinical_agreement_beside_rouge() -> None:
    from radimpress.scoring.aggregate import CLINICAL

    rows = [_row("d", "m", str(i), dict.fromkeys(ROUGE_TYPES, i / 10)) for i in range(5)]
    for i, row in enumerate(rows):
        row[CLINICAL] = {"precision": 1.0, "recall": 1.0, "f1": i / 4, "missed": [], "invented": []}
    (summary,) = summarize(rows, metrics=(*ROUGE_TYPES, CLINICAL))
    assert summary.mean_f1[CLINICAL] == pytest.approx(0.5)
    assert "Clinical F1" in format_mean_table([summary], metrics=(*ROUGE_TYPES, CLINICAL))


def test_distribution_of_counts_equals_of_the_repeated_values() -> None:
    """Bit for bit: exact sums rounded once are fsum's numbers, positions read as if expanded."""
    from collections import Counter

    rng = random.Random(12)
    stock = [0.0, 1.0, 1 / 3, 2 / 7, 0.1, 5e-324, 1e-300, 0.6666666666666666]
    for _ in range(400):
        pool = [*stock, *(rng.random() for _ in range(rng.randint(0, 5)))]
        values = [rng.choice(pool) for _ in range(rng.randint(1, 300))]
        counts = Counter(values)
        assert Distribution.of_counts(counts) == Distribution.of(values)
    huge = Counter({1 / 3: 10**6 + 7, 0.1: 3, 2 / 3: 999_999})
    expanded = [v for v, k in huge.items() for _ in range(k)]
    assert Distribution.of_counts(huge) == Distribution.of(expanded)
    with pytest.raises(ValueError):
        Distribution.of_counts({})
    with pytest.raises(ValueError):
        Distribution.of_counts({0.5: 0})


def test_repeated_fsum_is_fsum_of_the_repetition() -> None:
    import math

    from radimpress.scoring.aggregate import repeated_fsum

    rng = random.Random(13)
    for _ in range(300):
        values = [rng.choice((rng.random(), -rng.random() * 1e10, 1e308, 1 / 3)) for _ in range(9)]
        times = [rng.randint(1, 50) for _ in values]
        repeated = [v for v, k in zip(values, times, strict=True) for _ in range(k)]
        try:
            expected = math.fsum(repeated)
        except OverflowError:  # fsum refuses a sum beyond the float range; so does this
            with pytest.raises(OverflowError):
                repeated_fsum(values, times)
            continue
        assert repeated_fsum(values, times) == expected
    assert math.isinf(repeated_fsum([math.inf, 1.0], [2, 3]))


def test_a_group_from_value_counts_equals_one_from_columns() -> None:
    from collections import Counter

    from radimpress.scoring import summarize_group

    rng = random.Random(14)
    columns = {m: [rng.choice((0.0, 0.5, 1 / 3, rng.random())) for _ in range(77)] for m in "ab"}
    counted = {m: Counter(values) for m, values in columns.items()}
    assert summarize_group("d", "m", counted).to_dict() == (
        summarize_group("d", "m", columns).to_dict()
    )
    with pytest.raises(ValueError, match="bootstrap resamples rows"):
        summarize_group("d", "m", counted, bootstrap=10)
