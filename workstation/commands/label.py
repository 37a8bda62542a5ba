"""`radimpress label`: CheXpert observation labels of one text field per record, as JSON Lines.

Each output line is ``{"study_id": ..., "labels": {"Cardiomegaly": "positive", ...}}`` (plus
``"model"`` when the input rows name one), from ``radimpress.clinical.labeler.label_text``, the
labeler the Score step uses: observations the text does not mention are absent. Input is read
like every other file of the CLI (``prediction_files``: JSON array or JSON Lines, records
validated; a mixed-model file needs ``--model``), rejections are named by position and field,
never by text. Exit 0 when every record was labelled, 1 when some were rejected, 2 when the input
or the output is unusable (nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import sys

from radimpress.records import UnreadableFile
from radimpress_workstation.console import error, explain
from radimpress_workstation.output_files import OutputError, atomic_output, check_output_file
from radimpress_workstation.prediction_files import read_impressions

EXIT_OK, EXIT_SOME_REJECTED = 0, 1
COMMAND = "label"
FIELDS = ("findings", "impression", "generated")
LISTED = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        COMMAND,
        help="label the 14 CheXpert observations (positive/negative/uncertain) in each record",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("--input", required=True, help="report or prediction file (JSON/JSONL)")
    parser.add_argument(
        "--field",
        choices=FIELDS,
        default="impression",
        help="the text to label (default: impression)",
    )
    parser.add_argument(
        "--model", metavar="NAME", help="the model to label in a file of several (label or name)"
    )
    parser.add_argument("--output", required=True, help="JSON Lines of labels")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress.clinical.labeler import label_text

    try:
        check_output_file(args.output)
        records = read_impressions(
            args.input,
            # An empty generation is a real model output (no labels); an empty report is not.
            empty_allowed=args.field == "generated",
            text_fields=(args.field,),
            model=args.model,
            by_model=True,
        )
    except (UnreadableFile, OutputError) as err:
        return error(COMMAND, *explain(err))
    if not records.impressions:
        return error(COMMAND, f"no record with a valid '{args.field}' field", args.input)
    model = {"model": records.model} if records.model else {}
    with atomic_output(args.output) as handle:
        for study_id, text in records.impressions.items():
            row = {"study_id": study_id, **model, "labels": label_text(text)}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(
        f"labelled {len(records.impressions)} record(s) ({args.field}), "
        f"rejected {len(records.rejections)} -> {args.output}",
        file=sys.stderr,
    )
    for rejection in records.rejections[:LISTED]:
        print(f"  - {rejection.describe(records.source)}", file=sys.stderr)
    if len(records.rejections) > LISTED:
        print(f"  - ... and {len(records.rejections) - LISTED} more", file=sys.stderr)
    return EXIT_SOME_REJECTED if records.rejections else EXIT_OK
