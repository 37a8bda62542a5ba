"""`radimpress run`: the whole pipeline on this machine for your own training and findings files.

Builds the embedded stack (moto) from template.yaml, trains each local model on --train through
the real state machine, summarises --infer with the baseline and the trained model, scores them
and prints the blog's two tables. Exit 0 on success; 1 when records were rejected (training or
findings: counted, listed and written to train-rejected.jsonl / rejected.jsonl) or an execution
fails (the failed state and its cause are printed); 2 for a usage problem (missing file, unknown
model) or an unusable input (empty, not JSON, compressed, no usable record), found before
anything runs; 130 on Ctrl-C.

A run that trains keeps each trained model in its folder (``models/<model>/model.tar.gz`` and
``model.json``); ``--model-from RUN_DIR`` summarises --infer with RUN_DIR's trained model instead
of training again: the model is registered in the new run's embedded stack as its training run
left it, and the run's summary.json names RUN_DIR and its run id (``model_from``).

Each run claims its own folder, ``<out>/<run id>``, whose name is the run id of summary.json,
Parquet and the report. A run that did not finish leaves ``INCOMPLETE.json`` there; a failed one
also leaves the pipeline's failure.json and the rejected records.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radimpress.records import (
    Purpose,
    Report,
    UnreadableFile,
    ValidationSummary,
    validate_file,
)
from radimpress_workstation.console import (
    EXIT_INTERRUPTED,
    EXIT_UNUSABLE,
    error,
    interruption,
)
from radimpress_workstation.model_specs import BEDROCK_STANDIN, BEDROCK_STANDIN_MODEL_ID

if TYPE_CHECKING:
    from radimpress_workstation.runtime import RunResult
    from radimpress_workstation.trained_models import KeptModel

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, EXIT_UNUSABLE
# What a run folder holds before the run produced anything (removed on a usage error).
_SCAFFOLD = frozenset({"lambda.log", "specs"})


def register(subparsers: argparse._SubParsersAction) -> None:
    from radimpress_training.models import DEFAULT_MODEL, available_models

    parser = subparsers.add_parser(
        "run",
        help="run the pipeline locally (no AWS account) on a training and a findings file",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("--train", type=Path, help="training file (findings + impression)")
    parser.add_argument("--infer", type=Path, help="findings file to summarise (and score)")
    parser.add_argument(
        "--model",
        action="append",
        choices=[*available_models(), BEDROCK_STANDIN],
        help=f"local model to train and compare with the baseline (repeatable; "
        f"default: {DEFAULT_MODEL}); {BEDROCK_STANDIN} adds a Bedrock model through the local "
        "Bedrock double (a labelled stand-in writes its impressions)",
    )
    parser.add_argument("--dataset", help="dataset name in the S3 keys (default: infer's folder)")
    parser.add_argument(
        "--spec",
        help="a resolved model spec (name in radimpress/specs or a path) instead of "
        "local-<model>; a JumpStart spec (jumpstart-flan-t5-xl) runs on the local JumpStart "
        "container double, which checks requests, archives and bodies as the real containers do",
    )
    parser.add_argument(
        "--model-from",
        type=Path,
        metavar="RUN_DIR",
        help="summarise --infer with the model a previous run trained (its run folder, "
        "out/<run id>) instead of training: no --train; --model/--spec, if given, must name the "
        "model it was trained as",
    )
    parser.add_argument(
        "--exclude-overlap",
        action="store_true",
        help="leave findings studies that are also in --train (same study_id, or the same "
        "findings text) out of the scores, tables and report; without it they are scored and "
        "the run warns",
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="output root (default: out/)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only results")
    parser.add_argument("--verbose", action="store_true", help="show the Lambdas' own logs too")
    parser.add_argument(
        "--write-specs", action="store_true", help=argparse.SUPPRESS
    )  # regenerate functions/radimpress/specs/local-*.json
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress_training.models import DEFAULT_MODEL
    from radimpress_workstation.model_specs import write_specs

    if args.write_specs:
        for path in write_specs():
            print(path)
        return EXIT_OK
    if args.infer is None:
        return error("run", "the following argument is required: --infer FILE")
    if getattr(args, "model_from", None) is None:
        return execute(args.train, args.infer, args.model or [DEFAULT_MODEL], args.out, args)
    if args.train is not None:
        return error(
            "run", "--model-from reuses a trained model; leave out --train (which trains one)"
        )
    chosen = _models_from(args)
    if isinstance(chosen, int):
        return chosen
    models, reuse = chosen
    return execute(None, args.infer, models, args.out, args, reuse=reuse)


def _models_from(args: argparse.Namespace) -> int | tuple[list[str], dict[str, KeptModel]]:
    """The exit code (2) of a --model-from RUN_DIR that cannot give the model asked for, else
    (the model names to run, the kept model of each); for a cloud spec's model, ``args.spec``
    is set to the spec it was trained with."""
    from radimpress.errors import SpecError
    from radimpress.spec import load_spec
    from radimpress_training.models import DEFAULT_MODEL
    from radimpress_workstation.model_specs import local_spec
    from radimpress_workstation.trained_models import (
        ModelFromError,
        SpecIdentity,
        choose,
        kept_models,
    )

    try:
        asked = load_spec(args.spec) if args.spec else None
    except (SpecError, OSError, ValueError) as err:
        return error("run", f"--spec: {err}")
    try:
        chosen = choose(kept_models(args.model_from), models=args.model, spec=asked)
        for kept in chosen:
            kept.check_archive()
        cloud = [k for k in chosen if k.local_model is None]
        if cloud:  # one cloud spec per run, as --spec gives
            kept = cloud[0]
            if args.spec is None:
                args.spec = _loadable_spec(kept)
            return [DEFAULT_MODEL], {DEFAULT_MODEL: kept}
        for kept in chosen:  # a local model's spec now must still be the one it was trained as
            model = str(kept.local_model)
            current = SpecIdentity.from_raw(kept.spec.name, local_spec(model), is_local=True)
            if not current.same_model(kept.spec):
                raise ModelFromError(
                    f"its {kept.label!r} model was trained as {kept.spec.describe()}; the local "
                    f"model is now {current.describe()}: run again with --train",
                    kept.folder,
                )
    except ModelFromError as err:
        return error("run", f"--model-from: {err.what}", err.where)
    return [str(k.local_model) for k in chosen], {str(k.local_model): k for k in chosen}


def _loadable_spec(kept: KeptModel) -> str:
    """The spec reference a cloud model was trained with, if it still loads as that model."""
    from radimpress.errors import SpecError
    from radimpress.spec import load_spec
    from radimpress_workstation.trained_models import ModelFromError, SpecIdentity

    try:
        spec = load_spec(kept.spec_reference)
    except (SpecError, OSError, ValueError):
        raise ModelFromError(
            f"its model was trained with spec {kept.spec.describe()}, which no longer loads "
            "from where it was; pass that spec with --spec",
            kept.folder,
        ) from None
    if not SpecIdentity.of(spec).same_model(kept.spec):
        raise ModelFromError(
            f"its model was trained with {kept.spec.describe()}, but {kept.spec_reference} is "
            f"now {SpecIdentity.of(spec).describe()}; pass the spec it was trained with (--spec)",
            kept.folder,
        )
    return kept.spec_reference


def _check_inputs(
    command: str, train: Path | None, infer: Path
) -> int | tuple[int, int, dict[str, Any]]:
    """Every input read through before anything runs: the exit code (2) of an unusable one, else
    (records in --infer, records in --train, run_outputs.Overlap of the two: found on the same
    read, which at 50,000 + 50,000 reports saves the run a second one of about 2 s).

    A file is unusable when it cannot be read as a whole (empty, CSV or other non-JSON,
    compressed, not UTF-8) or holds no usable record (for --train: none with findings and
    impression); records rejected one by one do not stop the run, they are reported after it.
    --infer's problem is the one reported when both files have one.
    """
    from radimpress_workstation.run_outputs import Overlap

    overlap = Overlap()
    # --train first: the overlap needs its ids and texts before the findings go by.
    train_read = _read_input(train, Purpose.TRAIN, overlap.add_train)
    infer_read = _read_input(infer, Purpose.INFER, overlap.add_infer if train else None)
    for option, path, read in (("--infer", infer, infer_read), ("--train", train, train_read)):
        if isinstance(read, UnreadableFile):
            return error(command, f"{option}: {read.reason}", path)
        if read is not None and not read.accepted:
            needed = "findings and impression" if option == "--train" else "findings"
            return error(
                command,
                f"{option}: no usable record ({read.rejected} of {read.records_read}"
                f" rejected; each needs {needed}; see `radimpress validate`)",
                path,
            )
    assert isinstance(infer_read, ValidationSummary) and not isinstance(train_read, Exception)
    return (
        infer_read.records_read,
        train_read.records_read if train_read is not None else 0,
        overlap.found() if train_read is not None else {},
    )


def _read_input(
    path: Path | None, purpose: Purpose, each: Callable[[Report], None] | None
) -> ValidationSummary | UnreadableFile | None:
    """validate_file's summary of one input, its UnreadableFile, or None without the input."""
    if path is None:
        return None
    try:
        return validate_file(path, purpose, each)
    except UnreadableFile as err:
        return err


MAX_REJECTIONS_SHOWN = 10


def _print_rejections(console: Any, path: Path) -> None:
    """The first rejections with their reasons (positions, ids and fields, never text)."""
    import json

    from radimpress.records import Rejection
    from radimpress_workstation.jsonl_text import jsonl_lines

    lines = jsonl_lines(path)  # "\n" only: a U+2028 inside a row is not a line break
    for line in lines[:MAX_REJECTIONS_SHOWN]:
        row = json.loads(line)
        source = row.pop("source", "")
        known = {k: row.get(k) for k in ("position", "reason", "study_id", "field")}
        console.line(f"    rejected: {Rejection(**known).describe(source)}")
    if len(lines) > MAX_REJECTIONS_SHOWN:
        console.line(f"    ... and {len(lines) - MAX_REJECTIONS_SHOWN} more in {path}")


def _discard_if_empty(folder: Path) -> None:
    """Remove a run folder that holds nothing a run produced (a usage error stopped it)."""
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= _SCAFFOLD:
        shutil.rmtree(folder)


def execute(
    train: Path | None,
    infer: Path,
    models: list[str],
    out: Path,
    args: argparse.Namespace,
    run_id: str | None = None,
    reuse: Mapping[str, KeptModel] | None = None,
) -> int:
    """Run, print progress, the tables and the output paths; return the exit code.

    ``run_id`` names a folder the caller already claimed under ``out`` (demo writes its data
    there first); without it this claims a new one. ``reuse``: the kept model of each model
    (--model-from), registered instead of trained.
    """
    from radimpress_workstation.console import Console
    from radimpress_workstation.run_folders import claim_run_folder

    command = getattr(args, "command", None) or "run"
    problem = _usage_problem(command, train, infer, out)
    if problem is not None:
        return problem
    checked = _check_inputs(command, train, infer)
    if isinstance(checked, int):
        return checked
    expected, _, overlap = checked
    if run_id is None:
        run_id, folder = claim_run_folder(out, "local")
    else:
        folder = out / run_id
    console = Console(quiet=getattr(args, "quiet", False))
    console.line(f"run {run_id} -> {folder}")
    if getattr(args, "spec", None) is None:
        console.line(_model_names(models, train is not None, reuse))
    result = _run_pipeline(
        command, train, infer, models, out, folder, run_id, console, args, reuse or {}, overlap
    )
    if isinstance(result, int):
        return result
    groups = result.groups  # computed once, while the rows were written
    complete = _print_accounting(console, result, groups, expected)
    _print_overlap(result, command)
    _print_tables_and_outputs(console, result, groups)
    if not complete:
        print("FAILED: some input records were neither scored nor rejected", file=sys.stderr)
        return EXIT_FAILED
    rejected = result.rejected + result.train_rejected
    # The demo's rejections are planted (and explained); a run's are the user's records.
    if rejected and command != "demo":
        print(
            f"radimpress {command}: {rejected} record(s) rejected"
            f" (training {result.train_rejected}, findings {result.rejected}); see "
            + " and ".join(
                str(result.files[k]) for k in ("rejected (train)", "rejected") if k in result.files
            ),
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _model_names(
    models: list[str], trained: bool, reuse: Mapping[str, KeptModel] | None = None
) -> str:
    """The one line that says what the model labels of a local run stand for."""
    baseline = "pre-trained (lead) = untrained baseline (the findings' first sentence)"
    if BEDROCK_STANDIN in models:
        baseline += (
            f"; bedrock ({BEDROCK_STANDIN_MODEL_ID}, stand-in: lead) = the Bedrock double, "
            "not the real model"
        )
        models = [m for m in models if m != BEDROCK_STANDIN]
    if reuse:
        names = ", ".join(
            f"fine-tuned ({m}) = trained by run {k.run_id}, reused from {k.run_folder}"
            for m, k in reuse.items()
        )
        return f"models: {baseline}; {names} (not trained again)"
    if not trained:
        return f"models: {baseline}"
    names = ", ".join(f"fine-tuned ({m})" for m in models)
    return f"models: {baseline}; {names} = trained on --train"


def _usage_problem(command: str, train: Path | None, infer: Path, out: Path) -> int | None:
    """The exit code of a missing input file or an --out that is a file, else None."""
    for option, path in (("--train", train), ("--infer", infer)):
        if path is not None and not path.is_file():
            what = "not a file" if path.exists() else "no such file"
            return error(command, f"{option}: {what}", path)
    if out.exists() and not out.is_dir():
        return error(command, "--out must be a folder, not a file", out)
    return None


def _run_pipeline(
    command: str,
    train: Path | None,
    infer: Path,
    models: list[str],
    out: Path,
    folder: Path,
    run_id: str,
    console: Any,
    args: argparse.Namespace,
    reuse: Mapping[str, KeptModel],
    overlap: Mapping[str, Any],
) -> RunResult | int:
    """The local run's result, or the exit code of an interrupted, failed or refused run (the
    folder marked incomplete, or removed when nothing was produced)."""
    from radimpress_workstation.model_restore import ModelRestoreFailed
    from radimpress_workstation.run_folders import local_paths, mark_incomplete
    from radimpress_workstation.runtime import LocalRun, RunFailed
    from radimpress_workstation.trained_models import ModelFromError

    try:
        local = LocalRun(
            train,
            infer,
            models,
            out,
            console,
            dataset=getattr(args, "dataset", None),
            verbose=getattr(args, "verbose", False),
            run_id=run_id,
            spec=getattr(args, "spec", None),
            exclude_overlap=getattr(args, "exclude_overlap", False),
            reuse=reuse,
            overlap=overlap,
        )
        return local.run()
    except KeyboardInterrupt as stopped:
        marker = mark_incomplete(folder, interruption(stopped))
        print(f"\nradimpress {command}: interrupted; {folder} is incomplete ({marker.name})",
              file=sys.stderr, flush=True)  # fmt: skip
        return EXIT_INTERRUPTED
    except RunFailed as err:
        console.line()
        mark_incomplete(folder, "failed", phase=err.phase, state=err.state)
        # The embedded bucket is gone: point at the copies in the run folder, not at s3://.
        inputs = {"train": train, "infer": infer}
        print(f"FAILED: {local_paths(str(err), err.files, inputs)}", file=sys.stderr)
        for path in err.files.values():
            print(f"  {path.name}: {path}", file=sys.stderr)
        if err.log_path is not None:
            print(f"  the Lambdas' logs: {err.log_path}", file=sys.stderr)
        return EXIT_FAILED
    except ModelRestoreFailed as err:
        console.line()
        mark_incomplete(folder, "failed", phase="reuse")
        print(f"FAILED: --model-from: {err}", file=sys.stderr)
        return EXIT_FAILED
    except ModelFromError as err:
        _discard_if_empty(folder)
        return error(command, f"--model-from: {err.what}", err.where)
    except ValueError as err:
        _discard_if_empty(folder)
        return error(command, str(err), "--model/--spec")


def _print_accounting(console: Any, result: RunResult, groups: list[Any], expected: int) -> bool:
    """Print how the input records were accounted for; True when every one was scored,
    summarised without a reference, or rejected, and the pipeline saw them all."""
    accepted = result.input_records - result.rejected
    console.heading(f"Results of {result.run_id}")
    console.line(
        f"input records: {result.input_records}  accepted: {accepted}  rejected: {result.rejected}"
        f"  (see {result.files['rejected']})"
    )
    _print_rejections(console, result.files["rejected"])
    if "rejected (train)" in result.files:
        train_path = result.files["rejected (train)"]
        console.line(
            f"training records: {result.train_records}"
            f"  accepted: {result.train_records - result.train_rejected}"
            f"  rejected: {result.train_rejected}  (see {train_path})"
        )
        _print_rejections(console, train_path)
    complete = True
    for group in groups:
        # A record without a reference impression is summarised but cannot be scored.
        total = group.scored + group.unscored + result.excluded + result.rejected
        complete &= total == result.input_records
        unscored = f" + no reference {group.unscored}" if group.unscored else ""
        excluded = f" + excluded (in training) {result.excluded}" if result.excluded else ""
        console.line(
            f"  {group.model}: scored {group.scored}{unscored}{excluded}"
            f" + rejected {result.rejected} = {total}"
        )
    if expected != result.input_records:
        complete = False
        console.line(
            f"  !! the file holds {expected} records, the pipeline saw {result.input_records}"
        )
    return complete


def _print_overlap(result: RunResult, command: str) -> None:
    """Warn (on stderr, even with --quiet) when findings studies are also training studies."""
    from radimpress_workstation.run_outputs import overlap_note

    note = overlap_note(result.overlap, bool(result.excluded))
    if note:
        advice = " (--exclude-overlap leaves them out)" if command == "run" else ""
        advice = "" if result.excluded else advice
        print(f"!! train/test overlap: {note}{advice}", file=sys.stderr, flush=True)


def _print_paired(console: Any, result: RunResult) -> None:
    """One verdict per pair of models and metric (report.html's "Paired comparison")."""
    pairs = result.pairs  # run_outputs.paired of the rows, computed once by the run
    if not pairs:
        return
    console.line()
    console.line("Paired comparison: mean A - B, 95% paired bootstrap interval (1,000 resamples)")
    for pair in pairs:
        console.line(f"  {pair['verdict']}")


def _print_tables_and_outputs(console: Any, result: RunResult, groups: list[Any]) -> None:
    """The blog's two tables (with clinical F1 beside ROUGE) and where the outputs are."""
    from radimpress.scoring import ROUGE_TYPES, format_distribution_table, format_mean_table
    from radimpress.scoring.aggregate import CLINICAL

    console.line()
    # runtime.summaries aggregates clinical agreement beside ROUGE: both tables show it.
    metrics = (*ROUGE_TYPES, CLINICAL)
    console.line("Mean ROUGE F1 per model and dataset, with clinical F1 (CheXpert positives)")
    console.line(format_mean_table(groups, metrics))
    console.line()
    console.line("Distribution of per-report ROUGE F1 and clinical F1")
    console.line(format_distribution_table(groups, metrics))
    _print_paired(console, result)
    console.line()
    console.line("Outputs")
    for name, path in result.files.items():
        console.line(f"  {name:<22} {path}")
    if "parquet" in result.files:
        console.line(
            f"  Athena's named queries on them: radimpress queries {result.files['parquet']}"
        )
