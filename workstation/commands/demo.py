"""`radimpress demo` (what `make demo` runs): the whole pipeline on generated reports.

Writes a synthetic training file and findings file (radimpress_workstation.synthetic; a few findings
records are deliberately broken so the rejections show), then does what `radimpress run` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from radimpress_training.models import DEFAULT_MODEL, available_models

    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline locally on generated reports (what `make demo` runs)"
    )
    parser.add_argument("--train-size", type=int, default=400, help="training reports (400)")
    parser.add_argument("--infer-size", type=int, default=100, help="findings reports (100)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument(
        "--model",
        action="append",
        choices=available_models(),
        help=f"local model to train (repeatable; default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="output root (default: out/)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only results")
    parser.add_argument("--verbose", action="store_true", help="show the Lambdas' own logs too")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress_training.models import DEFAULT_MODEL
    from radimpress_workstation.commands.run import execute
    from radimpress_workstation.console import error
    from radimpress_workstation.run_folders import claim_run_folder
    from radimpress_workstation.synthetic import write_demo_files

    for option in ("train_size", "infer_size"):
        if getattr(args, option) < 1:
            flag = "--" + option.replace("_", "-")
            return error("demo", f"{flag} must be 1 or more", str(getattr(args, option)))
    if args.out.exists() and not args.out.is_dir():
        return error("demo", "--out must be a folder, not a file", args.out)
    run_id, folder = claim_run_folder(args.out, "demo")
    data = write_demo_files(
        folder / "data" / "synthetic",
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
