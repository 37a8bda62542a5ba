"""Impression quality of every local model on the shared Open-i data, beside reference figures.

Each local model is run through `radimpress evaluate` (the pipeline's reader, normalisation,
model and scorer): trained on ../shared/data/openi/train.jsonl, scored on dev.jsonl, ROUGE F1
means without stemming. Also: the constant "No acute cardiopulmonary abnormality." baseline, and
a placeholder-robustness check (train on Open-i as it is, test on dev with `XXXX` rewritten as
MIMIC's `___`, and the reverse), 5-fold cross-validation on train.jsonl alone (the figure models'
settings are chosen on) for every trained model, a learning curve (CV score when each fold trains
on a quarter, half, three quarters or all of its training part), and paired bootstrap intervals
(1,000 resamples of reports, seed 0) of each model's per-report ROUGE minus `restate`'s, on dev and
on the CV predictions. Everything is written to a temporary folder, never into the repository.
Skips with a message when the shared data is absent.

    .venv/bin/python bench/quality.py [--output bench/results/quality.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from radimpress.scoring import ROUGE_TYPES, RougeScorer  # noqa: E402
from radimpress.scoring.aggregate import bootstrap_mean_ci  # noqa: E402
from radimpress_training.models import DEFAULT_MODEL, available_models  # noqa: E402
from radimpress_workstation.commands.evaluate import evaluate  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "openi"
CONSTANT = "No acute cardiopulmonary abnormality."
BASELINE = "restate"  # the model every other one is compared with, report by report
CV_MODELS = ("consensus", "restate", "retrieval", "select")
CURVE_MODELS = ("restate", "select")
CURVE_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
# Published figures (ROUGE F1 means, R1/R2/RL/RLsum), quoted for comparison, not measured here.
REFERENCE = {
    "FLAN-T5 XL fine-tuned on MIMIC (AWS blog, 2,000 Indiana dev2)": [
        0.4660,
        0.3125,
        0.4525,
        0.4525,
    ],
    "FLAN-T5 XL pre-trained (AWS blog, Indiana dev2)": [0.1583, 0.0599, 0.1391, 0.1393],
}


def _constant(test: Path) -> dict[str, float]:
    scorer = RougeScorer()
    rows = [json.loads(line) for line in test.read_text(encoding="utf-8").splitlines()]
    scores = [scorer.score(r["impression"], CONSTANT) for r in rows]
    return {m: statistics.fmean(s[m].fmeasure for s in scores) for m in ROUGE_TYPES}


def _rewrite(source: Path, target: Path) -> Path:
    target.write_text(source.read_text(encoding="utf-8").replace("XXXX", "___"), encoding="utf-8")
    return target


def _per_report(folder: Path) -> dict[str, dict[str, float]]:
    """study_id -> ROUGE F1 per type, from an evaluate output folder's scores.jsonl."""
    out = {}
    with (folder / "scores.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out[str(row["study_id"])] = {m: row[m]["fmeasure"] for m in ROUGE_TYPES}
    return out


def _cross_validation(
    model: str, train: Path, tmp: Path, folds: int = 5, fraction: float = 1.0
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean ROUGE F1 over ``folds`` folds of the training file (fixed shuffle, seed 0), and the
    per-report scores of the held-out predictions. ``fraction``: share of each fold's training
    part used (its first reports in the shuffled order), for the learning curve."""
    lines = train.read_text(encoding="utf-8").splitlines()
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    sums: dict[str, float] = dict.fromkeys(ROUGE_TYPES, 0.0)
    per_report: dict[str, dict[str, float]] = {}
    for fold in range(folds):
        held = set(order[fold::folds])
        kept = [i for i in order if i not in held]
        kept = sorted(kept[: max(1, round(len(kept) * fraction))])
        fold_train, fold_test = tmp / f"cv{fold}-train.jsonl", tmp / f"cv{fold}-test.jsonl"
        fold_train.write_text("".join(lines[i] + "\n" for i in kept), encoding="utf-8")
        fold_test.write_text("".join(lines[i] + "\n" for i in sorted(held)), encoding="utf-8")
        output = tmp / f"cv-{model}-{fold}"
        summary = evaluate(str(fold_train), str(fold_test), output, model)
        per_report.update(_per_report(output))
        for name in ROUGE_TYPES:
            sums[name] += summary["rouge_f1_mean"][name] / folds
    return sums, per_report


def _difference(
    ours: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Mean per-report difference to the baseline and its paired bootstrap 95% interval."""
    ids = sorted(ours)
    out = {}
    for metric in ("rouge1", "rouge2", "rougeL"):
        deltas = [ours[i][metric] - baseline[i][metric] for i in ids]
        low, high = bootstrap_mean_ci(deltas, resamples=1000, seed=0)
        out[metric] = {"mean": statistics.fmean(deltas), "ci95_low": low, "ci95_high": high}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "quality.json"))
    args = parser.parse_args()
    train, dev = SHARED / "train.jsonl", SHARED / "dev.jsonl"
    if not (train.exists() and dev.exists()):
        print(f"skipped: {SHARED} is not present (the quality benchmark needs the shared data)")
        return 0

    load_before = os.getloadavg()  # a shared machine: timings are read against its load
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        dev_scores: dict[str, dict[str, dict[str, float]]] = {}
        for model in available_models():
            summary = evaluate(str(train), str(dev), tmp_path / model, model)
            dev_scores[model] = _per_report(tmp_path / model)
            rows.append({"system": model, "setting": "openi train -> openi dev", **summary})
        rows.append(
            {
                "system": "constant",
                "setting": f"always {CONSTANT!r}",
                "test_reports": sum(1 for _ in dev.open(encoding="utf-8")),
                "rouge_f1_mean": _constant(dev),
            }
        )
        dev_mimic = _rewrite(dev, tmp_path / "dev_mimic.jsonl")
        train_mimic = _rewrite(train, tmp_path / "train_mimic.jsonl")
        for model in sorted({DEFAULT_MODEL, *CV_MODELS}):
            for setting, tr, te in (
                ("openi train -> dev with XXXX as ___", train, dev_mimic),
                ("train with XXXX as ___ -> openi dev", train_mimic, dev),
            ):
                summary = evaluate(str(tr), str(te), tmp_path / f"{model}-x", model)
                rows.append({"system": model, "setting": setting, **summary})
        cv_scores: dict[str, dict[str, dict[str, float]]] = {}
        for model in sorted({DEFAULT_MODEL, *CV_MODELS}):
            means, cv_scores[model] = _cross_validation(model, train, tmp_path)
            rows.append(
                {
                    "system": model,
                    "setting": "5-fold cross-validation on openi train (seed 0)",
                    "rouge_f1_mean": means,
                }
            )
        curve = []
        for model in CURVE_MODELS:
            for fraction in CURVE_FRACTIONS:
                means, _ = _cross_validation(model, train, tmp_path, fraction=fraction)
                size = round(len(train.read_text(encoding="utf-8").splitlines()) * 0.8 * fraction)
                curve.append({"system": model, "train_reports": size, "rouge_f1_mean": means})
                print(f"learning curve {model:<8} {size:>5} reports: R1 {means['rouge1']:.4f}")
        differences: list[dict[str, Any]] = []
        for model in sorted(set(dev_scores) - {BASELINE}):
            for setting, scores in (("openi dev", dev_scores), ("5-fold CV on train", cv_scores)):
                if model in scores:
                    differences.append(
                        {
                            "system": model,
                            "minus": BASELINE,
                            "setting": setting,
                            **_difference(scores[model], scores[BASELINE]),
                        }
                    )
        elapsed = time.perf_counter() - started
    for row in rows:  # temporary paths mean nothing once the folder is gone
        row.pop("train", None)
        row.pop("test", None)

    print(f"{'system':<62} {'R1':>7} {'R2':>7} {'RL':>7} {'RLsum':>7}  setting / seconds")
    for name, figures in REFERENCE.items():
        print(f"{name:<62} " + " ".join(f"{v:7.4f}" for v in figures) + "  published")
    for row in rows:
        means = row["rouge_f1_mean"]
        seconds = (
            f" (train {row['training_seconds']:.2f} s, generate {row['generation_seconds']:.2f} s)"
            if "training_seconds" in row
            else ""
        )
        label = row["system"] + (" (default)" if row["system"] == DEFAULT_MODEL else "")
        print(
            f"{label:<62} "
            + " ".join(f"{means[m]:7.4f}" for m in ROUGE_TYPES)
            + f"  {row['setting']}{seconds}"
        )
    for item in differences:
        r1 = item["rouge1"]
        print(
            f"{item['system']} - {BASELINE} on {item['setting']}: R1 {r1['mean']:+.4f}"
            f" (95% CI {r1['ci95_low']:+.4f} .. {r1['ci95_high']:+.4f})"
        )
    result = {
        "benchmark": "quality",
        "data": "../shared/data/openi train.jsonl (1,084) -> dev.jsonl (300)",
        "metric": "ROUGE F1 mean, no stemming (radimpress.scoring == rouge-score 0.1.2)",
        "default_model": DEFAULT_MODEL,
        "reference": REFERENCE,
        "rows": rows,
        "learning_curve": {
            "setting": "5-fold CV on openi train (seed 0); each fold trains on the first "
            "fraction of its training part in the shuffled order",
            "points": curve,
        },
        "difference_to_baseline": {
            "baseline": BASELINE,
            "method": "per-report F1 difference, paired percentile bootstrap (1,000, seed 0)",
            "rows": differences,
        },
        "elapsed_seconds": round(elapsed, 2),
        "load_average_1_5_15min": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
