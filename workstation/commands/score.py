"""`radimpress score`: ROUGE of predicted impressions against reference impressions, per study_id.

Both files are read by ``prediction_files.read_impressions`` (the input format, only ``study_id``
and ``impression`` used). Every record is accounted for: rejected records and ids present in only
one file are reported, never dropped.
"""

from __future__ import annotations

import argparse
import json
import os
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
from radimpress_workstation.prediction_files import read_impressions

EXIT_OK, EXIT_INCOMPLETE, EXIT_UNUSABLE = 0, 1, 2
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
        "--predictions", required=True, help="file of study_id + impression (findings optional)"
    )
    parser.add_argument("--output", help="JSON Lines of scores (default: standard output)")
    parser.add_argument("--stemmer", action="store_true", help="Porter-stem tokens (needs nltk)")
    parser.add_argument(
        "--dataset", help="dataset label in the rows (default: references file name)"
    )
    parser.add_argument("--model", help="model label in the rows (default: predictions file name)")
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
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    os.replace(partial, target)


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        print("error: --bootstrap must be 0 or more", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        references = read_impressions(args.references)
        predictions = read_impressions(args.predictions, empty_allowed=True)
    except UnreadableFile as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNUSABLE
    dataset = args.dataset or _label(args.references)
    model = args.model or _label(args.predictions)

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

    _write_rows(rows, args.output)
    summaries = summarize(rows, bootstrap=args.bootstrap, seed=args.seed)

    # The tables go to stdout unless stdout carries the JSON Lines.
    tables = sys.stdout if args.output else sys.stderr
    if rows:
        print("Mean F1", file=tables)
        print(format_mean_table(summaries), file=tables)
        print("\nF1 distribution", file=tables)
        print(format_distribution_table(summaries), file=tables)

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
        Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    if not rows:
        print("error: no study_id is in both files with a valid impression", file=log)
        return EXIT_UNUSABLE
    incomplete = (
        references.rejections or predictions.rejections or missing_prediction or missing_reference
    )
    return EXIT_INCOMPLETE if incomplete else EXIT_OK
