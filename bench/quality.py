"""Impression quality of every local model on the shared Open-i data, beside reference figures.

Each local model is run through `radimpress evaluate` (the pipeline's reader, normalisation,
model and scorer): trained on ../shared/data/openi/train.jsonl, scored on dev.jsonl, ROUGE F1
means without stemming. Also: the constant "No acute cardiopulmonary abnormality." baseline, and
a placeholder-robustness check (train on Open-i as it is, test on dev with `XXXX` rewritten as
MIMIC's `___`, and the reverse), 5-fold cross-validation on train.jsonl alone (the figure models'
settings are chosen on) for every trained model, a learning curve (CV score when each fold trains
on a quarter, half, three quarters or all of its training part), and paired bootstrap intervals
(1,000 resamples of reports, seed 0) of each model's per-report ROUGE minus `restate`'s, on dev and
on the CV predictions. Beside ROUGE, clinical agreement (`radimpress.clinical`, docs/clinical.md):
per model on dev and in 5-fold CV, the mean positive-observation precision/recall/F1 of generated
against reference impressions (uncertain counted as positive; each reference labelled once), the
share of reports whose generation misses a positive finding of the reference, and the paired
bootstrap interval of clinical F1 minus `restate`'s (the same resamples as ROUGE's). Everything is
written to a temporary folder, never into the repository. Skips with a message when the shared
data is absent.

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

from radimpress.clinical.agreement import ClinicalAgreement, agreement_from_labels  # noqa: E402
from radimpress.clinical.labeler import label_text  # noqa: E402
from radimpress.scoring import ROUGE_TYPES, RougeScorer  # noqa: E402
from radimpress.scoring.aggregate import bootstrap_mean_ci  # noqa: E402
from radimpress_training.models import DEFAULT_MODEL, available_models  # noqa: E402
from radimpress_workstation.commands.evaluate import evaluate, read_file  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "openi"
CONSTANT = "No acute cardiopulmonary abnormality."
BASELINE = "restate"  # the model every other one is compared with, report by report
CV_MODELS = ("consensus", "restate", "retrieval", "select")  # also checked for placeholders
DIFFERENCE_METRICS = ("rouge1", "rouge2", "rougeL", "clinical_f1")
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
REFERENCE_CLINICAL = (
    "none: the blog publishes ROUGE only and its generations are not available, so no clinical "
    "agreement can be computed for the FLAN-T5 rows (FLAN-T5 is not run here)"
)
Labels = dict[str, str]
PerReport = dict[str, dict[str, float]]


def reference_labels(test: Path) -> dict[str, Labels]:
    """study_id -> labels of the reference impression, each labelled once, read as evaluate
    reads the file (so the references are the ones ROUGE scored)."""
    reports, _ = read_file(str(test))
    return {str(r.study_id): label_text(r.impression or "") for r in reports}


def clinical_per_report(
    generated: dict[str, str], references: dict[str, Labels]
) -> dict[str, ClinicalAgreement]:
    """study_id -> clinical agreement of each generated impression with its labelled reference."""
    return {
        study: agreement_from_labels(references[study], label_text(text))
        for study, text in generated.items()
    }


def clinical_means(agreements: list[ClinicalAgreement]) -> dict[str, Any]:
    """Mean clinical precision/recall/F1 over reports, and the share (and count) of reports
    whose generation misses at least one positive finding of the reference ("No Finding" is
    never missed, as the pipeline's ``missed_reports`` counts)."""
    missed = sum(1 for a in agreements if a.missed)
    return {
        "precision": statistics.fmean(a.precision for a in agreements),
        "recall": statistics.fmean(a.recall for a in agreements),
        "f1": statistics.fmean(a.f1 for a in agreements),
        "missed_positive_share": missed / len(agreements),
        "missed_positive_reports": missed,
        "reports": len(agreements),
    }


def _with_clinical(rouge: PerReport, clinical: dict[str, ClinicalAgreement]) -> PerReport:
    """Per-report ROUGE rows with the report's clinical F1 added (key ``clinical_f1``)."""
    return {study: {**rouge[study], "clinical_f1": clinical[study].f1} for study in rouge}


def _add_clinical(
    system: str,
    rouge: PerReport,
    generated: dict[str, str],
    references: dict[str, Labels],
    scores: dict[str, PerReport],
) -> dict[str, Any]:
    """Put ``system``'s per-report ROUGE and clinical F1 into ``scores`` (for the paired
    differences) and return its clinical means (for its row)."""
    agreements = clinical_per_report(generated, references)
    scores[system] = _with_clinical(rouge, agreements)
    return clinical_means(list(agreements.values()))


def _constant(test: Path) -> tuple[dict[str, float], PerReport, dict[str, str]]:
    """Mean ROUGE F1 of the constant impression, its per-report scores and generations."""
    scorer = RougeScorer()
    rows = [json.loads(line) for line in test.read_text(encoding="utf-8").splitlines()]
    scores = {str(r["study_id"]): scorer.score(r["impression"], CONSTANT) for r in rows}
    means = {m: statistics.fmean(s[m].fmeasure for s in scores.values()) for m in ROUGE_TYPES}
    per_report = {i: {m: s[m].fmeasure for m in ROUGE_TYPES} for i, s in scores.items()}
    return means, per_report, dict.fromkeys(scores, CONSTANT)


def _rewrite(source: Path, target: Path) -> Path:
    target.write_text(source.read_text(encoding="utf-8").replace("XXXX", "___"), encoding="utf-8")
    return target


def _per_report(folder: Path) -> PerReport:
    """study_id -> ROUGE F1 per type, from an evaluate output folder's scores.jsonl."""
    out = {}
    with (folder / "scores.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out[str(row["study_id"])] = {m: row[m]["fmeasure"] for m in ROUGE_TYPES}
    return out


def _generated(folder: Path) -> dict[str, str]:
    """study_id -> generated impression, from an evaluate output folder's predictions.jsonl."""
    with (folder / "predictions.jsonl").open(encoding="utf-8") as handle:
        return {str(row["study_id"]): row["generated"] for row in map(json.loads, handle)}


def _cross_validation(
    model: str, train: Path, tmp: Path, folds: int = 5, fraction: float = 1.0
) -> tuple[dict[str, float], PerReport, dict[str, str]]:
    """Mean ROUGE F1 over ``folds`` folds of the training file (fixed shuffle, seed 0), the
    per-report scores of the held-out predictions and their generated impressions. ``fraction``:
    share of each fold's training part used (its first reports in the shuffled order), for the
    learning curve."""
    lines = train.read_text(encoding="utf-8").splitlines()
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    sums: dict[str, float] = dict.fromkeys(ROUGE_TYPES, 0.0)
    per_report: PerReport = {}
    generated: dict[str, str] = {}
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
        generated.update(_generated(output))
        for name in ROUGE_TYPES:
            sums[name] += summary["rouge_f1_mean"][name] / folds
    return sums, per_report, generated


def _difference(ours: PerReport, baseline: PerReport) -> dict[str, dict[str, float]]:
    """Mean per-report difference to the baseline and its paired bootstrap 95% interval, per
    metric (ROUGE F1s and clinical F1); every metric uses the same resamples of reports."""
    ids = sorted(ours)
    out = {}
    for metric in DIFFERENCE_METRICS:
        deltas = [ours[i][metric] - baseline[i][metric] for i in ids]
        low, high = bootstrap_mean_ci(deltas, resamples=1000, seed=0)
        out[metric] = {"mean": statistics.fmean(deltas), "ci95_low": low, "ci95_high": high}
    return out


def clinical_table(
    dev_rouge1: dict[str, float],
    clinical: dict[tuple[str, str], dict[str, Any]],
    differences: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per system: dev ROUGE-1, clinical means on dev and in CV, clinical F1 minus the
    baseline's with its interval; the published FLAN-T5 rows with ROUGE only."""
    minus = {
        (d["system"], "dev" if d["setting"] == "openi dev" else "cv"): d["clinical_f1"]
        for d in differences
    }
    out: list[dict[str, Any]] = [
        {"system": name, "dev_rouge1": figures[0], "clinical": None, "note": REFERENCE_CLINICAL}
        for name, figures in REFERENCE.items()
    ]
    for system in sorted({system for system, _ in clinical}):
        out.append(
            {
                "system": system,
                "dev_rouge1": dev_rouge1[system],
                "clinical": {
                    split: {
                        **clinical[system, split],
                        f"f1_minus_{BASELINE}": minus.get((system, split)),
                    }
                    for split in ("dev", "cv")
                    if (system, split) in clinical
                },
            }
        )
    return out


def format_clinical_table(table: list[dict[str, Any]]) -> str:
    """The clinical table as text (dev R1 beside clinical P/R/F1, missed share, F1 - baseline)."""

    def interval(item: dict[str, float] | None) -> str:
        if item is None:
            return "baseline"
        return f"{item['mean']:+.3f} [{item['ci95_low']:+.3f}, {item['ci95_high']:+.3f}]"

    width = max(len(row["system"]) for row in table)
    head = (
        f"{'system':<{width}} {'dev R1':>7} {'dev P':>6} {'dev R':>6} {'dev F1':>6} {'missed':>6}"
        f" {'dev F1 - ' + BASELINE:>26} {'CV F1':>6} {'missed':>6} {'CV F1 - ' + BASELINE:>26}"
    )
    lines = ["clinical agreement (positive CheXpert observations, uncertain = positive)", head]
    for row in table:
        name = f"{row['system']:<{width}}"
        if row["clinical"] is None:
            lines.append(
                f"{name} {row['dev_rouge1']:7.4f}  published ROUGE only: no clinical figures"
            )
            continue
        cells = [f"{name} {row['dev_rouge1']:7.4f}"]
        dev, cv = row["clinical"].get("dev"), row["clinical"].get("cv")
        key = f"f1_minus_{BASELINE}"
        cells.append(
            f"{dev['precision']:6.3f} {dev['recall']:6.3f} {dev['f1']:6.3f}"
            f" {dev['missed_positive_share']:6.3f} {interval(dev[key]):>26}"
        )
        cells.append(
            f"{cv['f1']:6.3f} {cv['missed_positive_share']:6.3f} {interval(cv[key]):>26}"
            if cv
            else f"{'-':>6} {'-':>6} {'-':>26}"
        )
        lines.append(" ".join(cells))
    return "\n".join(lines)


Clinical = dict[tuple[str, str], dict[str, Any]]  # (system, "dev" | "cv") -> clinical means


def _dev_rows(
    train: Path,
    dev: Path,
    tmp_path: Path,
    dev_refs: dict[str, Labels],
    dev_scores: dict[str, PerReport],
    clinical: Clinical,
) -> list[dict[str, Any]]:
    """Every local model trained on train, scored on dev; then the constant on dev."""
    rows: list[dict[str, Any]] = []
    for model in available_models():
        summary = evaluate(str(train), str(dev), tmp_path / model, model)
        clinical[model, "dev"] = _add_clinical(
            model,
            _per_report(tmp_path / model),
            _generated(tmp_path / model),
            dev_refs,
            dev_scores,
        )
        rows.append(
            {
                "system": model,
                "setting": "openi train -> openi dev",
                **summary,
                "clinical": clinical[model, "dev"],
            }
        )
    means, per_report, generated = _constant(dev)
    clinical["constant", "dev"] = _add_clinical(
        "constant", per_report, generated, dev_refs, dev_scores
    )
    rows.append(
        {
            "system": "constant",
            "setting": f"always {CONSTANT!r}",
            "test_reports": len(per_report),
            "rouge_f1_mean": means,
            "clinical": clinical["constant", "dev"],
        }
    )
    return rows


def _placeholder_rows(train: Path, dev: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """Open-i's XXXX rewritten as MIMIC's ___ on the test side, then on the training side."""
    rows: list[dict[str, Any]] = []
    dev_mimic = _rewrite(dev, tmp_path / "dev_mimic.jsonl")
    train_mimic = _rewrite(train, tmp_path / "train_mimic.jsonl")
    for model in sorted({DEFAULT_MODEL, *CV_MODELS}):
        for setting, tr, te in (
            ("openi train -> dev with XXXX as ___", train, dev_mimic),
            ("train with XXXX as ___ -> openi dev", train_mimic, dev),
        ):
            summary = evaluate(str(tr), str(te), tmp_path / f"{model}-x", model)
            rows.append({"system": model, "setting": setting, **summary})
    return rows


def _cv_rows(
    train: Path,
    tmp_path: Path,
    train_refs: dict[str, Labels],
    cv_scores: dict[str, PerReport],
    clinical: Clinical,
) -> list[dict[str, Any]]:
    """5-fold cross-validation on train for every local model, and the constant's CV figures."""
    rows: list[dict[str, Any]] = []
    for model in available_models():
        means, per_report, generated = _cross_validation(model, train, tmp_path)
        clinical[model, "cv"] = _add_clinical(model, per_report, generated, train_refs, cv_scores)
        rows.append(
            {
                "system": model,
                "setting": "5-fold cross-validation on openi train (seed 0)",
                "rouge_f1_mean": means,
                "clinical": clinical[model, "cv"],
            }
        )
    # Nothing is trained for the constant, so its CV predictions are every train report's.
    means, per_report, generated = _constant(train)
    clinical["constant", "cv"] = _add_clinical(
        "constant", per_report, generated, train_refs, cv_scores
    )
    rows.append(
        {
            "system": "constant",
            "setting": f"always {CONSTANT!r} on every openi train report (its 5-fold CV)",
            "test_reports": len(per_report),
            "rouge_f1_mean": means,
            "clinical": clinical["constant", "cv"],
        }
    )
    return rows


def _learning_curve(train: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """CV score when each fold trains on a fraction of its training part."""
    curve = []
    for model in CURVE_MODELS:
        for fraction in CURVE_FRACTIONS:
            means, _, _ = _cross_validation(model, train, tmp_path, fraction=fraction)
            size = round(len(train.read_text(encoding="utf-8").splitlines()) * 0.8 * fraction)
            curve.append({"system": model, "train_reports": size, "rouge_f1_mean": means})
            print(f"learning curve {model:<8} {size:>5} reports: R1 {means['rouge1']:.4f}")
    return curve


def _differences(
    dev_scores: dict[str, PerReport], cv_scores: dict[str, PerReport]
) -> list[dict[str, Any]]:
    """Each model minus the baseline, report by report, on dev and in CV."""
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
    return differences


def _print_rows(rows: list[dict[str, Any]], differences: list[dict[str, Any]]) -> None:
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
        r1, cf1 = item["rouge1"], item["clinical_f1"]
        print(
            f"{item['system']} - {BASELINE} on {item['setting']}: R1 {r1['mean']:+.4f}"
            f" (95% CI {r1['ci95_low']:+.4f} .. {r1['ci95_high']:+.4f}),"
            f" clinical F1 {cf1['mean']:+.4f} (95% CI {cf1['ci95_low']:+.4f} .. "
            f"{cf1['ci95_high']:+.4f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "quality.json"))
    args = parser.parse_args()
    train, dev = SHARED / "train.jsonl", SHARED / "dev.jsonl"
    if not (train.exists() and dev.exists()):
        print(f"skipped: {SHARED} is not present (the quality benchmark needs the shared data)")
        return 0

    load_before = os.getloadavg()  # a shared machine: timings are read against its load
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        dev_refs, train_refs = reference_labels(dev), reference_labels(train)
        dev_scores: dict[str, PerReport] = {}
        cv_scores: dict[str, PerReport] = {}
        clinical: Clinical = {}
        rows = _dev_rows(train, dev, tmp_path, dev_refs, dev_scores, clinical)
        rows += _placeholder_rows(train, dev, tmp_path)
        rows += _cv_rows(train, tmp_path, train_refs, cv_scores, clinical)
        curve = _learning_curve(train, tmp_path)
        differences = _differences(dev_scores, cv_scores)
        elapsed = time.perf_counter() - started
    for row in rows:  # temporary paths mean nothing once the folder is gone
        row.pop("train", None)
        row.pop("test", None)

    _print_rows(rows, differences)
    dev_rouge1 = {
        system: statistics.fmean(r["rouge1"] for r in scores.values())
        for system, scores in dev_scores.items()
    }
    table = clinical_table(dev_rouge1, clinical, differences)
    print()
    print(format_clinical_table(table))
    result = {
        "benchmark": "quality",
        "data": "../shared/data/openi train.jsonl (1,084) -> dev.jsonl (300)",
        "metric": "ROUGE F1 mean, no stemming (radimpress.scoring == rouge-score 0.1.2)",
        "default_model": DEFAULT_MODEL,
        "reference": REFERENCE,
        "reference_clinical": REFERENCE_CLINICAL,
        "clinical_metric": "radimpress.clinical (docs/clinical.md): mean per-report precision, "
        "recall and F1 of the positive CheXpert observations (uncertain counted as positive, "
        "No Finding included) of the generated impression against the reference impression, "
        "each reference labelled once; missed_positive_share: reports whose generation lacks a "
        "positive finding of the reference (No Finding is never missed, as the pipeline's "
        "missed_reports counts). On dev and in 5-fold CV (held-out predictions) for every local "
        "model and the constant; not for the placeholder-robustness rows",
        "clinical_table": table,
        "rows": rows,
        "learning_curve": {
            "setting": "5-fold CV on openi train (seed 0); each fold trains on the first "
            "fraction of its training part in the shuffled order",
            "points": curve,
        },
        "difference_to_baseline": {
            "baseline": BASELINE,
            "method": "per-report F1 difference (ROUGE and clinical), paired percentile "
            "bootstrap (1,000, seed 0; every metric drawn on the same resamples of reports)",
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
