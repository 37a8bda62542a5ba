"""`radimpress validate FILE`: check a report file against the input contract."""

from __future__ import annotations

import argparse
import json

from radimpress.records import Purpose, UnreadableFile, printable, validate_file
from radimpress_workstation.console import error

EXIT_VALID, EXIT_SOME_REJECTED, EXIT_UNREADABLE = 0, 1, 2
SHOWN_REJECTIONS = 20  # the terminal gets the first ones; --json has every rejection


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a report file (JSON array or JSON Lines) and list rejected records",
        description=(
            "Exit 0 when every record is valid, 1 when some were rejected, "
            "2 when the file itself is unreadable or holds no record (0 bytes, []). The first "
            f"{SHOWN_REJECTIONS} rejections are listed; --json lists them all."
        ),
    )
    parser.add_argument("file", help="JSON array or JSON Lines of report objects")
    parser.add_argument(
        "--purpose",
        choices=[p.value for p in Purpose],
        default=Purpose.INFER.value,
        help="train files must carry an impression for every record (default: infer)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON, with every rejection"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        summary = validate_file(args.file, Purpose(args.purpose))
    except UnreadableFile as err:
        if args.json:
            print(json.dumps({"source": err.source, "error": err.reason}))
        else:
            error("validate", err.reason, err.source)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(f"{printable(summary.source)} ({summary.file_format})")
        print(f"  records read: {summary.records_read}")
        print(f"  accepted:     {summary.accepted}")
        print(f"  rejected:     {summary.rejected}")
        for rejection in summary.rejections[:SHOWN_REJECTIONS]:
            print(f"    - {rejection.describe()}")
        if summary.rejected > SHOWN_REJECTIONS:
            print(f"    ... and {summary.rejected - SHOWN_REJECTIONS} more; --json lists them all")
    return EXIT_SOME_REJECTED if summary.rejected else EXIT_VALID
