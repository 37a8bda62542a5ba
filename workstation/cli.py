"""The `radimpress` console command: one sub-command per module in ``commands/``.

Every command reports unusable input as ``radimpress <command>: error: <what>, <where>`` with
exit 2 (argparse's usage errors have the same form), and Ctrl-C as one line with exit 130. SIGTERM
takes Ctrl-C's path (the command stops what it started and marks what it leaves) and exits 143.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from radimpress_workstation.console import Terminated

# Each module exposes register(subparsers) and sets a `handler` default that returns an exit code.
# Only the module of the command asked for is imported (start-up time of a whole process); the
# others are listed by name and one-line help from this table, which a test keeps equal to what
# each module registers.
COMMAND_HELP: dict[str, str] = {
    "validate": "check a report file (JSON array or JSON Lines) and list rejected records",
    "run": "run the pipeline locally (no AWS account) on a training and a findings file",
    "demo": "run the whole pipeline locally on generated reports (what `make demo` runs)",
    "queries": "run the template's Athena named queries on DuckDB over local Parquet results",
    "compare": "compare several local runs: each model's mean ROUGE and clinical F1 per run",
    "score": "ROUGE-1/2/L/Lsum of predicted impressions against references, per study_id",
    "label": "label the 14 CheXpert observations (positive/negative/uncertain) in each record",
    "prepare": "write train/dev files in the input format from MIMIC-CXR or Open-i reports",
    "evaluate": "train local models on one file, generate for another, score ROUGE and clinical F1",
    "preflight": "read-only checks of AWS credentials, region, quotas and permissions for a deploy",
    "smoke": "upload a tiny training and findings file to a deployed stack and follow both runs",
    "serve": "serve a run's fine-tuned model over HTTP as a SageMaker endpoint container does",
    "models": "list a deployed stack's fine-tuned model versions; approve or reject one",
}
COMMAND_MODULES = tuple(COMMAND_HELP)
EXIT_TERMINATED = 128 + signal.SIGTERM  # as a shell reports a process ended by SIGTERM


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("radimpress")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``command`` only that command's module imported and registered
    (the others listed with their help, so ``radimpress --help`` reads the same)."""
    parser = argparse.ArgumentParser(
        prog="radimpress",
        description="Generate radiology report impressions from findings and score them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMAND_HELP.items():
        if command is None or name == command:
            importlib.import_module(f"radimpress_workstation.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the line (the top-level parser has no option taking a value)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMAND_HELP else None


@contextmanager
def _sigterm_as_interrupt() -> Iterator[list[int]]:
    """While the block runs, the first SIGTERM raises ``Terminated`` in the main thread (later
    ones are ignored while the command cleans up); yields a list that gets the signal number."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may set signal handlers
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    from radimpress_workstation import heap
    from radimpress_workstation.console import EXIT_INTERRUPTED

    heap.configure()  # before any thread: the embedded stack's steps share the heap
    command = _command(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command) if command is not None else build_parser()
    args = parser.parse_args(argv)
    with _sigterm_as_interrupt() as terminated:
        try:
            code = int(args.handler(args) or 0)
        except KeyboardInterrupt:
            # A command that leaves files behind marks them itself (run, demo); here the line.
            what = "terminated (SIGTERM)" if terminated else "interrupted"
            print(f"\nradimpress {args.command}: {what}", file=sys.stderr, flush=True)
            code = EXIT_INTERRUPTED
    return EXIT_TERMINATED if terminated and code == EXIT_INTERRUPTED else code


def console_main() -> None:
    """The installed ``radimpress`` command: ``main()``, then exit without interpreter teardown.

    A large ``score`` run leaves a few hundred thousand objects (records, texts, rows) that the
    interpreter would free one by one at exit, for nothing: the process is ending. Every command
    writes its files through context managers that close them before ``main`` returns, so here
    only the standard streams are flushed before ``os._exit``, and the working directories of
    local jobs still running (interrupted during training: the jobs' threads end with the
    process, before their own clean-up) are removed. Tests call ``main()`` in-process, never this.
    """
    try:
        code = main()
    except SystemExit as exit_:  # argparse's --help and usage errors: sys.exit's meaning
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # reader gone, or a stream closed: nothing to flush
        code = code or 1
    # Imported only by a command that ran local jobs: then its jobs' copies of reports go too.
    work_dirs = sys.modules.get("radimpress_workstation.job_backend.work_dirs")
    if work_dirs is not None:
        work_dirs.remove_all()
    os._exit(code)


if __name__ == "__main__":
    console_main()
