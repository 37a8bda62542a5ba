"""Issue 18 item 8: one bootstrap, one seed rule, identical intervals in `score` and the report."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from radimpress.results.publish import ModelResults, run_intervals
from radimpress.results.schema import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from radimpress.scoring.bootstrap import mean_intervals, paired_difference, verdict
from radimpress_workstation.commands import score as score_command

# Single-sentence impressions: ROUGE-L and ROUGE-Lsum are equal on every study.
REFERENCES = [
    {"study_id": f"S{i}", "findings": "f", "impression": text}
    for i, text in enumerate(
        [
            "Small left pleural effusion.",
            "No acute cardiopulmonary process.",
            "Cardiomegaly without edema.",
            "Right lower lobe pneumonia.",
            "No acute disease.",
            "Mild pulmonary edema.",
            "Stable cardiomegaly.",
            "Left basilar atelectasis.",
        ]
    )
]
GENERATED = [
    "Small pleural effusion.",
    "No acute disease.",
    "Cardiomegaly.",
    "Right lower lobe opacity, pneumonia.",
    "No acute cardiopulmonary disease.",
    "Pulmonary edema.",
    "Cardiomegaly, stable.",
    "No acute disease.",
]


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _score(tmp_path: Path) -> tuple[dict, list[dict]]:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    preds = _write(
        tmp_path / "preds.jsonl",
        [
            {"study_id": r["study_id"], "generated": g}
            for r, g in zip(REFERENCES, GENERATED, strict=True)
        ],
    )
    out, summary = tmp_path / "scores.jsonl", tmp_path / "summary.json"
    parser = argparse.ArgumentParser(prog="radimpress")
    score_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["score", "--references", refs, "--predictions", preds, "--output", str(out),
         "--summary", str(summary), "--bootstrap", "1000", "--seed", "0"]
    )  # fmt: skip
    assert args.handler(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return json.loads(summary.read_text()), rows


def _published_intervals(rows: list[dict]) -> dict:
    """What Publish puts in the runs table and report.html for the same score rows."""
    model = ModelResults(label="m", key="m")
    for row in rows:
        flat = {"study_id": row["study_id"], "model": "m"}
        for metric, col in (("rouge1", "rouge1"), ("rouge2", "rouge2"), ("rougeL", "rougel"),
                            ("rougeLsum", "rougelsum")):  # fmt: skip
            flat[f"{col}_f1"] = row[metric]["fmeasure"]
        clinical = row["clinical"]
        flat.update(
            clinical_f1=clinical["f1"],
            clinical_precision=clinical["precision"],
            clinical_recall=clinical["recall"],
            clinical_missed_count=len(clinical["missed"]),
            clinical_invented_count=len(clinical["invented"]),
        )
        model.add(flat)
    return run_intervals([model])["m"]


def test_score_and_report_give_identical_intervals(tmp_path: Path) -> None:
    assert (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED) == (1000, 0)  # what `score` is run with here
    summary, rows = _score(tmp_path)
    (aggregate,) = summary["aggregates"]
    cli = {k: tuple(v) for k, v in aggregate["mean_f1_ci"].items()}
    report = _published_intervals(rows)
    assert cli["rouge1"] == report["rouge1_f1"]
    assert cli["rouge2"] == report["rouge2_f1"]
    assert cli["rougeL"] == report["rougel_f1"]
    assert cli["rougeLsum"] == report["rougelsum_f1"]
    assert cli["clinical"] == report["clinical_f1"]
    assert tuple(summary["clinical_agreement"]["f1_ci"]) == report["clinical_f1"]


def test_identical_columns_get_identical_intervals(tmp_path: Path) -> None:
    summary, rows = _score(tmp_path)
    assert all(r["rougeL"]["fmeasure"] == r["rougeLsum"]["fmeasure"] for r in rows)
    (aggregate,) = summary["aggregates"]
    assert aggregate["mean_f1_ci"]["rougeL"] == aggregate["mean_f1_ci"]["rougeLsum"]


def test_a_column_interval_does_not_depend_on_its_neighbours() -> None:
    values = [0.1, 0.4, 0.35, 0.9, 0.0, 0.6]
    alone = mean_intervals({"x": values}, resamples=300, seed=5)["x"]
    beside = mean_intervals({"a": [0.5] * 6, "x": values, "b": [1.0] * 3}, resamples=300, seed=5)
    assert beside["x"] == alone


def test_hand_worked_intervals() -> None:
    # A constant column: every resampled mean is the constant.
    assert mean_intervals({"c": [0.25] * 7}, resamples=50) == {"c": (0.25, 0.25)}
    # Two values 0 and 1: resampled means are 0, 0.5 or 1 with chance 1/4, 1/2, 1/4, so with
    # 4,000 resamples the 2.5% and 97.5% percentiles are 0 and 1.
    assert mean_intervals({"x": [0.0, 1.0]}, resamples=4000) == {"x": (0.0, 1.0)}


def test_paired_difference_and_its_verdict() -> None:
    a = [0.5, 0.7, 0.2, 0.9]
    assert paired_difference(a, a) == (0.0, 0.0, 0.0)
    better = paired_difference([v + 0.125 for v in a], a)
    assert better == pytest.approx((0.125, 0.125, 0.125))
    assert verdict("select", "restate", better, "ROUGE-L") == (
        "select vs restate: ROUGE-L select better (+0.1250, 95% CI +0.1250 to +0.1250)"
    )
    assert verdict("select", "restate", (0.01, -0.02, 0.04), "clinical F1") == (
        "select vs restate: clinical F1 within noise (+0.0100, 95% CI -0.0200 to +0.0400)"
    )
    assert verdict("a", "b", (-0.1, -0.2, -0.05), "ROUGE-L").startswith("a vs b: ROUGE-L b better")
    with pytest.raises(ValueError, match="same studies"):
        paired_difference([0.1], [0.1, 0.2])


def test_paired_comparisons_cover_every_pair_over_shared_studies() -> None:
    from radimpress.scoring.bootstrap import paired_comparisons

    same = {"rougeL": {"s1": 0.5, "s2": 0.7, "s3": 0.1}, "clinical": {"s1": 1.0, "s2": 0.0}}
    better = {
        "rougeL": {"s1": 0.75, "s2": 0.95, "s3": 0.35, "only-here": 0.0},
        "clinical": {"s1": 1.0, "s2": 0.5},
    }
    rows = paired_comparisons([("select", better), ("restate", same), ("lead", same)])
    assert [(r["model_a"], r["model_b"], r["metric"], r["studies"]) for r in rows] == [
        ("select", "restate", "ROUGE-L", 3),
        ("select", "restate", "clinical F1", 2),
        ("select", "lead", "ROUGE-L", 3),
        ("select", "lead", "clinical F1", 2),
        ("restate", "lead", "ROUGE-L", 3),
        ("restate", "lead", "clinical F1", 2),
    ]
    # +0.25 on every shared study: every resample's mean difference is +0.25.
    assert rows[0]["verdict"] == (
        "select vs restate: ROUGE-L select better (+0.2500, 95% CI +0.2500 to +0.2500)"
    )
    # Identical scores: a difference of exactly 0 is within noise.
    assert rows[4]["verdict"] == (
        "restate vs lead: ROUGE-L within noise (+0.0000, 95% CI +0.0000 to +0.0000)"
    )
    # Clinical: differences 0 and +0.5 -> mean +0.25, resampled means 0, 0.25 or 0.5.
    assert rows[1]["mean_difference"] == 0.25
    assert (rows[1]["ci_low"], rows[1]["ci_high"]) == (0.0, 0.5)
    assert "within noise" in rows[1]["verdict"]


def test_block_size_changes_memory_never_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish draws a few resamples at a time to bound its memory: the resamples must be the
    ones a single draw of all of them gives (numpy's Generator stream does not depend on how the
    draws are split), for a length that needs many blocks and one that fits in one. The sums may
    differ in the last bit (BLAS sums a differently shaped block in another order), which is why
    the block size depends on the length only."""
    from radimpress.scoring import bootstrap

    rng = random.Random(7)
    columns = {"a": [rng.random() for _ in range(3001)], "b": [rng.random() for _ in range(40)]}
    whole = bootstrap.resampled_means(columns, resamples=200, seed=3)
    monkeypatch.setattr(bootstrap, "_BLOCK_CELLS", 3001 * 7 + 5)  # 7 resamples a block
    split = bootstrap.resampled_means(columns, resamples=200, seed=3)
    for name in columns:
        assert split[name] == pytest.approx(whole[name], rel=1e-12, abs=0)


def test_a_column_gets_the_same_means_alone_or_beside_others() -> None:
    """Publish resamples every model's columns in one call; each must get exactly what it gets
    alone (the seed rule), not merely close: the runs table and `score --bootstrap` agree."""
    from radimpress.scoring.bootstrap import resampled_means

    rng = random.Random(11)
    target = [rng.random() for _ in range(500)]
    others = {f"o{i}": [rng.random() for _ in range(500)] for i in range(4)}
    alone = resampled_means({"t": target}, resamples=300, seed=0)["t"]
    together = resampled_means({**others, "t": target}, resamples=300, seed=0)["t"]
    assert together.tolist() == alone.tolist()


def test_paired_comparisons_in_one_call_match_each_comparison_alone() -> None:
    """Every pair and metric is resampled in one call; each must keep paired_difference's own
    answer (studies matched by id, A - B), including pairs over fewer shared studies."""
    from radimpress.scoring.bootstrap import paired_comparisons

    rng = random.Random(5)
    ids = [f"S{i}" for i in range(120)]
    models = [
        (
            label,
            {
                "rougeL": {s: rng.random() for s in ids[: 120 - 20 * k]},
                "clinical": {s: rng.random() for s in ids},
            },
        )
        for k, label in enumerate(("A", "B", "C"))
    ]
    found = paired_comparisons(models, resamples=200, seed=4)
    expected = []
    for i, (_, a) in enumerate(models):
        for _, b in models[i + 1 :]:
            for key in ("rougeL", "clinical"):
                studies = sorted(set(a[key]) & set(b[key]))
                expected.append(
                    paired_difference(
                        [a[key][s] for s in studies],
                        [b[key][s] for s in studies],
                        resamples=200,
                        seed=4,
                    )
                )
    assert [(c["mean_difference"], c["ci_low"], c["ci_high"]) for c in found] == expected
    assert [c["studies"] for c in found] == [100, 120, 80, 120, 80, 120]
