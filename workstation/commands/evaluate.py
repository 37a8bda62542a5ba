"""`radimpress evaluate`: train a local model, generate for a test file, and score it.

It uses what the pipeline uses: records are read with the input contract (`radimpress.records`),
findings are de-identification-normalised as the ingest and transform steps do before a model
sees them, the model comes from the local registry (`radimpress_training.models`) and the scores
from `radimpress.scoring.RougeScorer`, so its figures are the pipeline's figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from radimpress import deid
from radimpress.records import Purpose, Report, UnreadableFile, read_reports
from radimpress.scoring import ROUGE_TYPES, RougeScorer, score_rows
from radimpress_workstation.console import error, explain
from radimpress_workstation.output_files import atomic_output


def register(subparsers: argparse._SubParsersAction) -> None:
    from radimpress_training.models import DEFAULT_MODEL, available_models

    parser = subparsers.add_parser(
        "evaluate",
        help="train local models on one file, generate for another, score ROUGE and clinical F1",
        description="Trains each --model on --train, generates for --test and scores like `run`: "
        "ROUGE and clinical agreement, the same two tables. Writes OUTPUT/predictions.jsonl "
        "(study_id, model, generated: the format `radimpress score --predictions` reads, as a "
        "run's impressions.jsonl), OUTPUT/scores.jsonl (ROUGE and clinical per study and model) "
        "and OUTPUT/summary.json (per model: mean F1, clinical agreement, seconds; counts). "
        "Exit 2 for unusable input; nothing is written then.",
    )
    parser.add_argument("--train", required=True, help="training reports (JSON/JSONL)")
    parser.add_argument("--test", required=True, help="reports with reference impressions")
    parser.add_argument(
        "--model",
        action="append",
        choices=available_models(),
        help=f"local model to train and score (repeatable; default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--output", required=True, help="output folder (created if absent)")
    parser.set_defaults(handler=run)


def read_file(path: str) -> tuple[list[Report], int]:
    """Valid reports of a file that must carry impressions, and how many were rejected."""
    reports: list[Report] = []
    rejected = 0
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as err:
        raise UnreadableFile(path, f"cannot open ({(err.strerror or '').lower()})") from None
    with handle:
        for outcome in read_reports(handle, Purpose.TRAIN, path):
            if isinstance(outcome, Report):
                reports.append(outcome)
            else:
                rejected += 1
                print(f"  skipped {outcome.describe(path)}", file=sys.stderr)
    if not reports:
        raise UnreadableFile(path, "no valid report with findings and impression")
    return reports, rejected


def input_convention(findings: Iterable[str]) -> str | None:
    """The placeholder convention most findings of a file use (None when none has one)."""
    found = Counter(deid.detect(text) for text in findings)
    found.pop(None, None)
    return found.most_common(1)[0][0].value if found else None


def evaluate(
    train_path: str, test_path: str, output: str | Path, model_name: str | None = None
) -> dict[str, Any]:
    """One model: train, generate, score; write the three output files and return that model's
    summary (its ``rouge_f1_mean``, ``clinical``, seconds and the counts)."""
    from radimpress_training.models import base

    name = model_name or base.DEFAULT_MODEL
    summary = evaluate_models(train_path, test_path, output, [name])
    return {**summary["per_model"][name], **_common(summary)}


def _common(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("train", "test", "train_reports", "test_reports", "rejected", "use_stemmer")
    return {key: summary[key] for key in keys}


class _Clinical:
    """Clinical agreement per (reference, generated), each text labelled once."""

    def __init__(self) -> None:
        from radimpress.clinical import agreement, labeler

        self._agree = agreement.agreement_from_labels
        self._label = labeler.label_text
        self._labels: dict[str, dict[str, str]] = {}

    def _of(self, text: str) -> dict[str, str]:
        labels = self._labels.get(text)
        if labels is None:
            labels = self._labels[text] = self._label(text)
        return labels

    def __call__(self, reference: str, generated: str) -> dict[str, Any]:
        found = self._agree(self._of(reference), self._of(generated)).to_dict()
        return {k: found[k] for k in ("precision", "recall", "f1", "missed", "invented")}


def evaluate_models(
    train_path: str, test_path: str, output: str | Path, models: Sequence[str]
) -> dict[str, Any]:
    """Train, generate and score each model (ROUGE and clinical agreement, as `run` scores);
    write predictions.jsonl, scores.jsonl (every model's rows) and summary.json; return it."""
    from radimpress.scoring import summaries_to_dict, summarize
    from radimpress.scoring.aggregate import CLINICAL
    from radimpress_training.models import base

    train, train_rejected = read_file(train_path)
    test, test_rejected = read_file(test_path)
    pairs = [base.TrainingPair(deid.normalize(r.findings), r.impression or "") for r in train]
    # Findings reach the model normalised to "___": it is told the file's own convention.
    convention = input_convention(r.findings for r in test)
    normalized = [deid.normalize(r.findings) for r in test]
    dataset = Path(test_path).stem
    scorer = RougeScorer(use_stemmer=False)
    clinical = _Clinical()
    output = Path(output)
    per_model: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    with (
        atomic_output(output / "predictions.jsonl") as predictions,
        atomic_output(output / "scores.jsonl") as scores,
    ):
        for model_name in dict.fromkeys(models):
            started = time.perf_counter()
            model = base.get_model_class(model_name)().fit(pairs)
            trained = time.perf_counter()
            generated = model.predict(normalized, convention=convention)
            finished = time.perf_counter()
            means: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
            for report, text in zip(test, generated, strict=True):
                reference = report.impression or ""
                row = score_rows(scorer.score(reference, text))
                for name in ROUGE_TYPES:
                    means[name].append(row[name]["fmeasure"])
                agreement = clinical(reference, text)
                ident = {"study_id": report.study_id, "model": model_name}
                predictions.write(json.dumps({**ident, "generated": text}) + "\n")
                scored = {**ident, **row, CLINICAL: agreement}
                scores.write(json.dumps(scored) + "\n")
                rows.append({**scored, "dataset": dataset})
            per_model[model_name] = {
                "model": model_name,
                "rouge_f1_mean": {name: statistics.fmean(v) for name, v in means.items()},
                "training_seconds": round(trained - started, 3),
                "generation_seconds": round(finished - trained, 3),
            }
    groups = summarize(rows, metrics=(*ROUGE_TYPES, CLINICAL))
    for group in groups:
        per_model[group.model]["clinical_f1_mean"] = group.mean_f1[CLINICAL]
    summary = {
        "models": list(per_model),
        "train": str(train_path),
        "test": str(test_path),
        "dataset": dataset,
        "train_reports": len(train),
        "test_reports": len(test),
        "rejected": {"train": train_rejected, "test": test_rejected},
        "use_stemmer": False,
        "per_model": per_model,
        "aggregates": summaries_to_dict(groups),
    }
    with atomic_output(output / "summary.json") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    return summary


def run(args: argparse.Namespace) -> int:
    from radimpress.scoring import format_distribution_table, format_mean_table, summarize
    from radimpress.scoring.aggregate import CLINICAL
    from radimpress_training.models import DEFAULT_MODEL

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        return error("evaluate", "--output must name a folder, not a file", args.output)
    models = args.model or [DEFAULT_MODEL]
    try:
        summary = evaluate_models(args.train, args.test, args.output, models)
    except (OSError, ValueError) as err:  # UnreadableFile is a ValueError
        return error("evaluate", *explain(err))
    for name, result in summary["per_model"].items():
        means = result["rouge_f1_mean"]
        print(
            f"{name}: {summary['test_reports']} reports, "
            + ", ".join(f"{metric} {value:.4f}" for metric, value in means.items())
            + f", clinical {result['clinical_f1_mean']:.4f}"
            + f" (train {result['training_seconds']:.2f} s,"
            f" generate {result['generation_seconds']:.2f} s)"
        )
    rows = [json.loads(line) for line in (output / "scores.jsonl").open(encoding="utf-8")]
    for row in rows:
        row["dataset"] = summary["dataset"]
    metrics = (*ROUGE_TYPES, CLINICAL)
    groups = summarize(rows, metrics=metrics)
    print()
    print("Mean ROUGE F1 per model and dataset, with clinical F1 (CheXpert positives)")
    print(format_mean_table(groups, metrics))
    print()
    print("Distribution of per-report ROUGE F1 and clinical F1")
    print(format_distribution_table(groups, metrics))
    _print_paired(rows)
    print(f"\noutputs: {args.output}")
    return 0


def _print_paired(rows: list[dict[str, Any]]) -> None:
    """`run`'s paired comparison, models in the order given."""
    from radimpress.results.schema import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
    from radimpress.scoring.bootstrap import paired_comparisons

    models: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        scores = models.setdefault(row["model"], {"rougeL": {}, "clinical": {}})
        scores["rougeL"][row["study_id"]] = row["rougeL"]["fmeasure"]
        scores["clinical"][row["study_id"]] = row["clinical"]["f1"]
    pairs = paired_comparisons(
        list(models.items()), resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED
    )
    if pairs:
        print()
        print("Paired comparison: mean A - B, 95% paired bootstrap interval (1,000 resamples)")
        for pair in pairs:
            print(f"  {pair['verdict']}")
