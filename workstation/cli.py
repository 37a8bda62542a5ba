"""The `radimpress` console command: one sub-command per module in ``commands/``.

Every command reports unusable input as ``radimpress <command>: error: <what>, <where>`` with
exit 2 (argparse's usage errors have the same form), and Ctrl-C as one line with exit 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes register(subparsers) and sets a `handler` default that returns an exit code.
# Modules are imported lazily by name so that `radimpress validate` does not load moto or torch.
COMMAND_MODULES = ("validate", "run", "demo", "queries", "score", "label", "prepare", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radimpress",
        description="Generate radiology report impressions from findings and score them.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"radimpress_workstation.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from radimpress_workstation.console import EXIT_INTERRUPTED

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        # A command that leaves files behind marks them itself (run, demo); here only the line.
        print(f"\nradimpress {args.command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
