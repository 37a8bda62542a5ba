"""The `radimpress` console command: one sub-command per module in ``commands/``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes register(subparsers) and sets a `handler` default that returns an exit code.
# Modules are imported lazily by name so that `radimpress validate` does not load moto or torch.
COMMAND_MODULES = ("validate", "run", "demo", "queries", "score", "prepare", "evaluate")


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
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
