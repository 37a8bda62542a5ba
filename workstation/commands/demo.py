"""`radimpress demo` (what `make demo` runs): the whole pipeline on generated reports.

Writes a synthetic training file and findings file (radimpress_workstation.synthetic; a few findings
records are deliberately broken so the rejections show), then does what `radimpress run` does.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline locally on generated reports (what `make demo` runs)"
    )
    parser.add_argument("--train-size", type=int, default=400, help="training reports (400)")
    parser.add_argument("--infer-size", type=int, default=100, help="findings reports (100)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument("--model", action="append", help="local model(s) to train (default one)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output root (default out/)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only results")
    parser.add_argument("--verbose", action="store_true", help="show the Lambdas' own logs too")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress_training.models import DEFAULT_MODEL
    from radimpress_workstation.commands.run import execute
    from radimpress_workstation.synthetic import write_demo_files

    run_id = "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    data = write_demo_files(
        args.out / run_id / "data" / "synthetic",
        train=args.train_size,
        infer=args.infer_size,
        seed=args.seed,
    )
    print(
        f"generated {data.train_records} training reports and {data.infer_records} findings "
        f"records ({data.infer_bad} deliberately invalid) under {data.train.parent}"
    )
    args.dataset = "synthetic"
    models = args.model or [DEFAULT_MODEL]
    return execute(data.train, data.infer, models, args.out, args, run_id=run_id)
