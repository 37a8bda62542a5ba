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
from collections.abc import Iterable
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
        help="train a local model on one file, generate for another and score with ROUGE",
        description="Writes OUTPUT/predictions.jsonl (study_id, model, generated: the format "
        "`radimpress score --predictions` reads, as a run's impressions.jsonl), "
        "OUTPUT/scores.jsonl and OUTPUT/summary.json (mean F1 per ROUGE type, counts, seconds). "
        "Exit 2 for unusable input; nothing is written then.",
    )
    parser.add_argument("--train", required=True, help="training reports (JSON/JSONL)")
    parser.add_argument("--test", required=True, help="reports with reference impressions")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=available_models(),
        help=f"local model (default: {DEFAULT_MODEL})",
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
    """Train, generate, score; write the three output files and return the summary."""
    from radimpress_training.models import base

    model_name = model_name or base.DEFAULT_MODEL
    model_class = base.get_model_class(model_name)
    train, train_rejected = read_file(train_path)
    test, test_rejected = read_file(test_path)

    started = time.perf_counter()
    pairs = [base.TrainingPair(deid.normalize(r.findings), r.impression or "") for r in train]
    model = model_class().fit(pairs)
    trained = time.perf_counter()
    # Findings reach the model normalised to "___": it is told the file's own convention.
    convention = input_convention(r.findings for r in test)
    generated = model.predict([deid.normalize(r.findings) for r in test], convention=convention)
    finished = time.perf_counter()

    scorer = RougeScorer(use_stemmer=False)
    output = Path(output)
    means: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
    with (
        atomic_output(output / "predictions.jsonl") as predictions,
        atomic_output(output / "scores.jsonl") as scores,
    ):
        for report, text in zip(test, generated, strict=True):
            row = score_rows(scorer.score(report.impression or "", text))
            for name in ROUGE_TYPES:
                means[name].append(row[name]["fmeasure"])
            prediction = {"study_id": report.study_id, "model": model_name, "generated": text}
            predictions.write(json.dumps(prediction) + "\n")
            scores.write(json.dumps({"study_id": report.study_id, "model": model_name, **row}))
            scores.write("\n")
    summary = {
        "model": model_name,
        "train": str(train_path),
        "test": str(test_path),
        "train_reports": len(train),
        "test_reports": len(test),
        "rejected": {"train": train_rejected, "test": test_rejected},
        "rouge_f1_mean": {name: statistics.fmean(values) for name, values in means.items()},
        "use_stemmer": False,
        "training_seconds": round(trained - started, 3),
        "generation_seconds": round(finished - trained, 3),
    }
    with atomic_output(output / "summary.json") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    return summary


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        return error("evaluate", "--output must name a folder, not a file", args.output)
    try:
        summary = evaluate(args.train, args.test, args.output, args.model)
    except (OSError, ValueError) as err:  # UnreadableFile is a ValueError
        return error("evaluate", *explain(err))
    means = summary["rouge_f1_mean"]
    print(
        f"{summary['model']}: {summary['test_reports']} reports, "
        + ", ".join(f"{name} {value:.4f}" for name, value in means.items())
        + f" (train {summary['training_seconds']:.2f} s,"
        f" generate {summary['generation_seconds']:.2f} s) -> {args.output}"
    )
    return 0
