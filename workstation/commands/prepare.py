"""`radimpress prepare mimic|openi`: turn public report collections into our input format."""

from __future__ import annotations

import argparse
import json
import zipfile

from radimpress_workstation.console import error, explain

COMMAND = "prepare"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="write train/dev files in the input format from MIMIC-CXR or Open-i reports",
        description="Counts (read, kept per split, dropped per reason, per-split summaries) are "
        "printed and saved as prepare-summary.json in the output folder; report text never is. "
        "Exit 2 when the input is unusable or no report is kept; nothing is written then.",
    )
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    mimic = sources.add_parser("mimic", help="mimic-cxr-reports.zip + the MEDIQA 2021 split CSV")
    mimic.add_argument("--reports", required=True, help="mimic-cxr-reports.zip")
    mimic.add_argument(
        "--split", required=True, help="CSV of study_id,subject_id,split (MEDIQA 2021)"
    )
    mimic.add_argument("--out", required=True, help="output folder for <split>.jsonl")
    openi = sources.add_parser("openi", help="Open-i XML folder or the mirrored reports CSV")
    openi.add_argument("--input", required=True, help="folder of *.xml, or indiana_reports.csv")
    openi.add_argument("--out", required=True, help="output folder")
    openi.add_argument(
        "--split", default="train", help="name of the (training) output file (default: train)"
    )
    openi.add_argument(
        "--dev-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="put this share of the studies in dev.jsonl, drawn with --seed (default: 0, no dev)",
    )
    openi.add_argument("--seed", type=int, default=0, help="dev split seed (default: 0)")
    for sub in (mimic, openi):
        sub.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so other commands do not load the training package.
    from radimpress_training.prepare.mimic import prepare_mimic
    from radimpress_training.prepare.openi import prepare_openi

    try:
        if args.source == "mimic":
            summary = prepare_mimic(args.reports, args.split, args.out)
        else:
            summary = prepare_openi(
                args.input,
                args.out,
                split=args.split,
                dev_fraction=args.dev_fraction,
                seed=args.seed,
            )
    except zipfile.BadZipFile:
        return error(COMMAND, "not a zip archive", args.reports)
    except (OSError, ValueError) as err:
        return error(COMMAND, *explain(err))
    result = summary.to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['source']}: read {result['read']}, kept {result['kept_total']}, "
        f"dropped {result['dropped_total']}"
    )
    for split, count in result["kept"].items():
        counts = result["splits"].get(split, {})
        print(
            f"  {split}: {count} reports, {counts.get('subjects', '?')} subjects, "
            f"findings {counts.get('findings_words_mean', '?')} / impression "
            f"{counts.get('impression_words_mean', '?')} words on average -> "
            f"{result['files'][split]}"
        )
    for reason, count in result["dropped"].items():
        print(f"  dropped ({reason}): {count}")
    return 0
