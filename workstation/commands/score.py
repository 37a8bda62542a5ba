"""`radimpress score`: ROUGE of predicted impressions against reference impressions, per study_id.

Both files are read by ``prediction_files`` like the pipeline's input. Predictions may be the
pipeline's own impressions.jsonl / scores.jsonl or evaluate's predictions.jsonl (text in
``generated``, rows naming their model): ``--model NAME`` picks one model of a mixed file and a
mixed file without it is refused. Every record is accounted for: rejected records and ids present
in only one file are reported, never dropped. Outputs are checked before any work and written
whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from radimpress.records import UnreadableFile
from radimpress.scoring import (
    ROUGE_TYPES,
    RougeScorer,
    format_distribution_table,
    format_mean_table,
    score_rows,
    summarize,
)
from radimpress_workstation.console import error, explain
from radimpress_workstation.outputs import OutputError, atomic_output, check_output_file
from radimpress_workstation.prediction_files import read_impressions, read_predictions

EXIT_OK, EXIT_INCOMPLETE = 0, 1
COMMAND = "score"
LISTED_IDS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="ROUGE-1/2/L/Lsum of predicted impressions against references, per study_id",
        description=(
            "Scores equal Google's rouge-score package. Writes one JSON line per matched "
            "study_id and prints the mean-F1 and distribution tables. Exit 0 when every record "
            "was valid and matched, 1 when some were rejected or unmatched (the rest is scored), "
            "2 when a file is unreadable or nothing could be scored."
        ),
    )
    parser.add_argument(
        "--references", required=True, help="report file with the reference impressions"
    )
    parser.add_argument(
        "--predictions",
        required=True,
        help="file of study_id + generated (or impression), e.g. a run's impressions.jsonl",
    )
    parser.add_argument("--output", help="JSON Lines of scores (default: standard output)")
    parser.add_argument("--stemmer", action="store_true", help="Porter-stem tokens (needs nltk)")
    parser.add_argument(
        "--dataset", help="dataset label in the rows (default: references file name)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="the model to score in a file of several (its label, e.g. 'fine-tuned (restate)', "
        "its name, e.g. restate, or its role); also the rows' model label (default: the "
        "file's model, else the predictions file name)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="add a 95%% bootstrap interval of each mean from N resamples (default: none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument(
        "--summary", help="write a JSON summary: counts, rejections, every unmatched id, aggregates"
    )
    parser.set_defaults(handler=run)


def _label(path: str) -> str:
    name = Path(path).name
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _report(title: str, ids: list[str], out: IO[str]) -> None:
    if not ids:
        return
    shown = ", ".join(ids[:LISTED_IDS])
    more = f" and {len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
    print(f"  {title} ({len(ids)}): {shown}{more}", file=out)


def _write_rows(rows: list[dict[str, Any]], output: str | None) -> None:
    if output is None:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
        return
    with atomic_output(output) as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        return error(COMMAND, "--bootstrap must be 0 or more", str(args.bootstrap))
    try:
        for path, option in ((args.output, "--output"), (args.summary, "--summary")):
            if path is not None:
                check_output_file(path, option)
        references = read_impressions(args.references)
        predictions = read_predictions(args.predictions, args.model)
    except (UnreadableFile, OutputError) as err:
        return error(COMMAND, *explain(err))
    dataset = args.dataset or _label(args.references)
    model = predictions.model or args.model or _label(args.predictions)

    scorer = RougeScorer(use_stemmer=args.stemmer)
    rows: list[dict[str, Any]] = []
    missing_prediction: list[str] = []
    for study_id, reference in references.impressions.items():
        prediction = predictions.impressions.get(study_id)
        if prediction is None:
            missing_prediction.append(study_id)
            continue
        row: dict[str, Any] = {"study_id": study_id, "dataset": dataset, "model": model}
        row.update(score_rows(scorer.score(reference, prediction)))
        rows.append(row)
    missing_reference = [s for s in predictions.impressions if s not in references.impressions]

    if not rows:  # nothing to write: no output file at all rather than an empty one
        _log_counts(args, references, predictions, rows, missing_prediction, missing_reference)
        return error(
            COMMAND, "no study_id is in both files with a valid impression", args.predictions
        )
    _write_rows(rows, args.output)
    summaries = summarize(rows, bootstrap=args.bootstrap, seed=args.seed)

    # The tables go to stdout unless stdout carries the JSON Lines.
    tables = sys.stdout if args.output else sys.stderr
    if rows:
        print("Mean F1", file=tables)
        print(format_mean_table(summaries), file=tables)
        print("\nF1 distribution", file=tables)
        print(format_distribution_table(summaries), file=tables)

    _log_counts(args, references, predictions, rows, missing_prediction, missing_reference)
    if args.summary:
        summary = {
            "dataset": dataset,
            "model": model,
            "stemmer": args.stemmer,
            "scored": len(rows),
            "references": references.summary(),
            "predictions": predictions.summary(),
            "references_without_prediction": missing_prediction,
            "predictions_without_reference": missing_reference,
            "metrics": list(ROUGE_TYPES),
            "aggregates": [s.to_dict() for s in summaries],
        }
        with atomic_output(args.summary) as handle:
            handle.write(json.dumps(summary, indent=2) + "\n")
    incomplete = (
        references.rejections or predictions.rejections or missing_prediction or missing_reference
    )
    return EXIT_INCOMPLETE if incomplete else EXIT_OK


def _log_counts(
    args: argparse.Namespace,
    references: Any,
    predictions: Any,
    rows: list[dict[str, Any]],
    missing_prediction: list[str],
    missing_reference: list[str],
) -> None:
    """Counts, rejections (position and field, never text) and unmatched ids, on stderr."""
    log = sys.stderr
    print(f"scored {len(rows)} study_id(s){' with stemming' if args.stemmer else ''}", file=log)
    for name, part in (("references", references), ("predictions", predictions)):
        print(
            f"  {name}: {part.records_read} read, {len(part.impressions)} accepted, "
            f"{len(part.rejections)} rejected ({part.source})",
            file=log,
        )
        for rejection in part.rejections[:LISTED_IDS]:
            print(f"    - {rejection.describe(part.source)}", file=log)
        if len(part.rejections) > LISTED_IDS:
            print(f"    - ... and {len(part.rejections) - LISTED_IDS} more", file=log)
    _report("references without a prediction", missing_prediction, log)
    _report("predictions without a reference", missing_reference, log)
    if predictions.other_model_rows:
        print(
            f"  left out {predictions.other_model_rows} row(s) of other models "
            f"(scored: {predictions.model})",
            file=log,
        )
