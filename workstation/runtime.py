"""Drive the real pipeline on the embedded stack: train executions, then inference executions.

This is what ``radimpress run`` and ``radimpress demo`` do. For each model asked for, one embedded
stack is built from template.yaml with ``ModelSpec=local-<model>`` (the spec names the training
image ``radimpress-local/<model>`` and the untrained ``lead`` baseline as the "pre-trained" model)
and the local job backend handed to the handlers through ``radimpress.clients.override``. The
training file is uploaded under ``incoming/train/``, the execution is started exactly as the
EventBridge rule would start it and followed until it ends; then the inference file is uploaded
under ``incoming/infer/`` and followed the same way. The outputs (per-report scores with the
generated impressions, rejections, Parquet results and report.html) are copied from the embedded
bucket into ``out/<run-id>/``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radimpress import clients
from radimpress.errors import explain_cause
from radimpress_workstation.console import Console
from radimpress_workstation.job_clock import JobClock, JobInterval
from radimpress_workstation.local_results import (
    LocalResults,
    RowLabels,
    findings_lines,
    own_process_wanted,
)
from radimpress_workstation.model_specs import (
    BEDROCK_STANDIN,
    BEDROCK_STANDIN_MODEL_ID,
    spec_reference,
)
from radimpress_workstation.run_folders import execution_name, new_run_id, save_failure_files
from radimpress_workstation.run_outputs import (
    ScoreRows,
    find_overlap,
    overlap_note,
    rejected_rows,
    wanted,
)
from radimpress_workstation.trained_models import KeptModel

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LAMBDA_LOG = "lambda.log"
_DATASET = re.compile(r"[^A-Za-z0-9_-]+")


class RunFailed(RuntimeError):
    """An execution ended other than SUCCEEDED; names the failed state and the cause.

    The pipeline catches task errors and ends in RecordFailure -> PipelineFailed, so the state
    that really failed is the last failed task before RecordFailure, with that task's cause.
    """

    def __init__(self, phase: str, execution: Any) -> None:
        self.phase = phase
        self.execution = execution
        self.log_path: Path | None = None
        self.files: dict[str, Path] = {}  # s3://... -> its copy in the run folder
        state, error, cause = execution.failed_state, execution.error, execution.cause
        failures = [f for f in execution.task_failures() if f[0] != "RecordFailure"]
        if failures:
            state, error, cause = failures[-1]
        self.state = state or "?"
        message = explain_cause(error or "", cause)
        named = not error or message == error or message.startswith(f"{error}:")
        self.cause = message if named else f"{error}: {message}"
        super().__init__(
            f"{phase} execution {execution.name} ended {execution.status}; "
            f"state {self.state} failed with {self.cause}"
        )


def dataset_name(path: Path, given: str | None = None) -> str:
    """The ``<dataset>`` of the S3 key: given, else the file's folder name, else its stem."""
    name = given or (path.parent.name if path.parent.name not in ("", ".") else path.stem)
    return _DATASET.sub("-", name).strip("-") or "dataset"


@dataclass
class PhaseResult:
    """One execution: what the tables, the output folder and the benchmark need."""

    phase: str
    model: str
    key: str
    execution: Any
    wall_seconds: float
    fetched: list[Path] = field(default_factory=list)

    @property
    def output(self) -> dict[str, Any]:
        return self.execution.output or {}


@dataclass
class RunResult:
    run_id: str
    out_dir: Path
    phases: list[PhaseResult]
    # Read from scores.jsonl when iterated: a run holds no rows (see run_outputs.RunRows).
    score_rows: Iterable[dict[str, Any]]
    input_records: int
    rejected: int
    timings: dict[str, float]
    files: dict[str, Path]
    jobs: list[JobInterval] = field(default_factory=list)
    # The training file's records and rejections (0 and 0 without --train).
    train_records: int = 0
    train_rejected: int = 0
    # radimpress_workstation.run_outputs.find_overlap of the two files ({} without --train), and
    # how many findings studies --exclude-overlap left out of the scores.
    overlap: dict[str, Any] = field(default_factory=dict)
    excluded: int = 0
    # summaries() of the score rows, counted while they were written (RunRows.summaries), and
    # their paired comparisons (the report's: publish_run's ``paired_comparisons``).
    groups: list[Any] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the embedded stack is built, then one collection.

    Building the stack loads botocore service models and moto's ASL interpreter (hundreds of
    thousands of long-lived objects); with the collector on, the full collections that this
    allocation triggers scan them all again and again (about 0.9 s of a 3 s build on the 2-core
    bench machine). Afterwards one collection of the youngest generation, which with the collector
    off holds everything the build allocated, frees the build's cyclic garbage (about 150,000
    objects; cheaper than a full collection, and the same objects), and ``gc.freeze`` keeps what
    survived out of later collections during the run; ``_run`` unfreezes at its end. The
    collector's state is restored either way.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(0)
        gc.freeze()
        if was_enabled:
            gc.enable()


def _local_job_ended(kind: str, name: str) -> threading.Event | None:
    """When a local job ends (the stack's Wait states polling it end then too)."""
    from radimpress_workstation.job_backend.backend import local_job_backend

    return local_job_backend().ended_event(kind, name)


def _check_model(model: str) -> None:
    from radimpress_training.models import available_models

    if model not in available_models():
        raise ValueError(
            f"unknown local model {model!r}; local models: {', '.join(available_models())}"
        )


DEFAULT_LOCAL_MODEL = "select"  # training/models DEFAULT_MODEL, without importing scikit-learn


class LocalRun:
    """One ``radimpress run``: train and infer per model, then fetch and summarise."""

    def __init__(
        self,
        train: Path | None,
        infer: Path,
        models: Sequence[str],
        out_root: Path,
        console: Console,
        dataset: str | None = None,
        train_dataset: str | None = None,
        template: Path = TEMPLATE,
        run_id: str | None = None,
        verbose: bool = False,
        spec: str | None = None,
        exclude_overlap: bool = False,
        reuse: Mapping[str, KeptModel] | None = None,
        overlap: Mapping[str, Any] | None = None,
        results_process: bool | None = None,
    ) -> None:
        self.train = train
        self.infer = infer
        # A kept model per model name (--model-from): put back and registered, not trained.
        self.reuse = dict(reuse or {})
        # --model bedrock-stand-in: the Bedrock model in the first execution's comparison, through
        # the Bedrock double (its stand-in labelled as such), beside the local models.
        self.bedrock_model_id = BEDROCK_STANDIN_MODEL_ID if BEDROCK_STANDIN in models else ""
        models = [m for m in models if m != BEDROCK_STANDIN] or [DEFAULT_LOCAL_MODEL]
        # Without a training file or kept models there is nothing to fine-tune: one inference
        # run, baseline only.
        self.models = list(dict.fromkeys(models))[: None if train or self.reuse else 1]
        self.console = console
        self.template = template
        self.dataset = dataset_name(infer, dataset)
        self.train_dataset = dataset_name(train, train_dataset) if train else self.dataset
        self.started_at = datetime.now(UTC).isoformat()
        self.run_id = run_id or new_run_id("local")
        self.out_dir = out_root / self.run_id
        self.phases: list[PhaseResult] = []
        self.timings: dict[str, float] = {}
        self.jobs: list[JobInterval] = []
        self.verbose = verbose
        self.spec = spec  # a resolved spec name or path instead of local-<model>
        # The training file's Ingest counts and rejected rows (the same for every model's run).
        self.train_ingest: dict[str, Any] = {}
        self.train_rejections: list[dict[str, Any]] = []
        # Findings studies also in the training file (ids and counts), and whether to drop them.
        self.exclude_overlap = exclude_overlap
        # run_outputs.Overlap.found() when the caller read both files already (`radimpress run`
        # checks them first), else worked out when the run starts.
        self.overlap: dict[str, Any] = dict(overlap or {})
        self._overlap_known = overlap is not None
        self.excluded = 0
        # What went into the run: each execution's published lineage, and the run's own.
        from radimpress_workstation.run_lineage import LocalLineage

        self.lineage = LocalLineage(train, infer)
        self.run_lineage: dict[str, Any] | None = None
        # The models this run trained, kept in its folder (trained_models.keep_trained_model).
        self.kept: list[KeptModel] = []
        # The findings file's lines, which decide where its rows are handled and whether the
        # transform's workers start ahead.
        self.findings_lines = findings_lines(infer)
        # Whether the run's own results are built in a process of their own (local_results;
        # None: when the findings file is large enough for it to pay).
        self.results_process = (
            own_process_wanted(self.findings_lines) if results_process is None else results_process
        )

    # ----- one execution -----------------------------------------------------------------------

    def _execute(
        self,
        stack: Any,
        phase: str,
        model: str,
        source: Path,
        key: str,
        follow: Callable[[Callable[..., None]], Callable[..., None]] | None = None,
    ) -> PhaseResult:
        """Upload ``source`` and follow the execution it starts; ``follow`` wraps the progress
        printer (local_results.ScoreFollower, which hands over each model's scores)."""
        from radimpress_workstation.console import ProgressPrinter
        from radimpress_workstation.embedded import executions

        self.console.heading(f"{phase}: {source.name} -> s3://{stack.bucket}/{key} (model {model})")
        started = time.perf_counter()
        stack.upload(key, source)
        # Named after the run, so runs/<execution>/ and training_run_id lead back to this run.
        arn = stack.start_execution(key, name=execution_name(self.run_id, phase, model))
        on_event: Callable[..., None] = ProgressPrinter(self.console)
        if follow is not None:
            on_event = follow(on_event)
        try:
            execution = stack.wait(arn, on_event=on_event, timeout=1800)
        except KeyboardInterrupt:  # stop it now, or leaving the stack waits for it to finish
            executions.stop(stack.client("stepfunctions"), arn, "Interrupted", "Ctrl-C")
            raise
        result = PhaseResult(phase, model, key, execution, time.perf_counter() - started)
        self.phases.append(result)
        if execution.status != "SUCCEEDED":
            failed = RunFailed(phase, execution)
            # The embedded bucket dies with the process: keep failure.json and the rejections.
            failed.files = save_failure_files(
                stack.client("s3"), stack.bucket, execution.name, self.out_dir
            )
            raise failed
        return result

    # ----- the whole run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every execution; the Lambdas' stdout (JSON logs, EMF metrics) goes to lambda.log.

        As in the cloud, where it lands in CloudWatch Logs: the handlers log ids and counts only.
        The console keeps the stream it was given, so progress lines stay on the terminal.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.verbose:
            return self._run()
        try:
            with (
                (self.out_dir / LAMBDA_LOG).open("a", encoding="utf-8") as log,
                contextlib.redirect_stdout(log),
                warnings.catch_warnings(),
            ):
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                return self._run()
        except RunFailed as err:
            err.log_path = self.out_dir / LAMBDA_LOG
            raise

    def _run(self) -> RunResult:
        for model in self.models:
            _check_model(model)
        try:
            return self._run_models()
        finally:
            gc.unfreeze()  # the stacks are gone: their objects may be collected again

    def _run_models(self) -> RunResult:
        import tempfile

        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix="radimpress-publish-") as scratch,
            LocalResults(self.out_dir, Path(scratch), self.run_id, self.results_process) as results,
        ):
            return self._run_stacks(results)

    def _run_stacks(self, results: LocalResults) -> RunResult:
        from radimpress_workstation.embedded import lambda_seam
        from radimpress_workstation.embedded.stack import EmbeddedStack
        from radimpress_workstation.job_backend.backend import (
            local_job_backend,
            reset_local_job_backend,
        )

        rejected: list[dict[str, Any]] = []
        baseline_seen = False
        if self.train is not None and not self._overlap_known:
            from radimpress.records import UnreadableFile

            with contextlib.suppress(UnreadableFile, OSError):  # the pipeline reports it
                self.overlap = find_overlap(self.train, self.infer)
        note = overlap_note(self.overlap, self.exclude_overlap)
        double = self._double_spec()
        for model in self.models:
            stack_started = time.perf_counter()
            self.console.progress(f"building the embedded stack from {self.template.name}")
            reset_local_job_backend(self.out_dir)  # jobs work in the run folder, not in /tmp
            parameters = {
                "PollSeconds": "1",
                "ModelSpec": self.spec or spec_reference(model, self.out_dir / "specs"),
            }
            if self.bedrock_model_id and not baseline_seen:  # compared once, in the first
                parameters["BedrockModelId"] = self.bedrock_model_id
            stack = EmbeddedStack(
                str(self.template),
                parameters=parameters,
                retry_scale=0.0,
                stack_name="radimpress-local",
                job_ended=_local_job_ended,
            )
            with contextlib.ExitStack() as running:
                with _collector_paused():
                    running.enter_context(stack)
                # After the stack started (it resets the clients): the handlers' SageMaker calls
                # go to the local job backend.
                clients.override("sagemaker", local_job_backend)
                self._add("stack_setup", time.perf_counter() - stack_started)
                clock = JobClock(self.console.job_changed)
                local_job_backend().on_job_change = clock
                if self.train is not None:
                    key = f"incoming/train/{self.train_dataset}/{self.train.name}"
                    phase = self._execute(
                        stack, "train", model, self.train, key, follow=self._warm_up(model)
                    )
                    self._add("train_execution", phase.wall_seconds)
                    self.lineage.add(stack, "train", phase.output)
                    if not self.train_ingest:
                        self._collect_train_rejections(stack, phase)
                    self._keep_model(stack, phase)
                elif model in self.reuse:
                    self._restore_model(stack, model)
                labels = RowLabels(
                    model,
                    double_spec=double,
                    train_overlap=note,
                    leave_out=frozenset(
                        self.overlap.get("study_ids", ()) if self.exclude_overlap else ()
                    ),
                )
                last = model == self.models[-1]
                phase = self._infer(stack, model, results, labels, baseline_seen, last)
                self._add("infer_execution", phase.wall_seconds)
                self.lineage.add(stack, "infer", phase.output)
                if model in self.reuse:
                    from radimpress_workstation.model_restore import check_used

                    check_used(phase.output, self.reuse[model])
                fetch_started = time.perf_counter()
                self._hand_over_rest(stack, phase, results, labels, baseline_seen, last)
                if not rejected:
                    rejected = rejected_rows(stack, phase.output)
                baseline_seen = True
                self._add("fetch_outputs", time.perf_counter() - fetch_started)
                local_job_backend().wait()
                for kind, seconds in local_job_backend().job_seconds().items():
                    self._add(kind, seconds)
                self.jobs.extend(clock.jobs.values())
                seam = lambda_seam.stats()
                self._add("handler_seconds", seam.handler_seconds)
                self._add("seam_seconds", seam.seam_seconds)
            reset_local_job_backend()
        write_started = time.perf_counter()
        self.run_lineage = self.lineage.compose(self.run_id, self.dataset, self.started_at)
        files, groups, pairs = self._write_outputs(results, rejected)
        self._add("write_outputs", time.perf_counter() - write_started)
        ingest = self.phases[-1].output.get("ingest", {})
        return RunResult(
            run_id=self.run_id,
            out_dir=self.out_dir,
            phases=self.phases,
            score_rows=ScoreRows(files["scores"]),
            input_records=int(ingest.get("records", 0)) + int(ingest.get("rejected", 0)),
            rejected=int(ingest.get("rejected", 0)),
            timings=self.timings,
            files=files,
            jobs=self.jobs,
            train_records=self._train_count("records") + self._train_count("rejected"),
            train_rejected=self._train_count("rejected"),
            overlap=self.overlap,
            excluded=len(self.overlap.get("study_ids", ())) if self.exclude_overlap else 0,
            groups=groups,
            pairs=pairs,
        )

    def _warm_up(self, model: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """The training execution's watcher: once its model is trained (RegisterModel entered),
        start the model-server workers of the transform the inference run will make with it,
        if that transform will use workers (a findings file of WORKER_MIN_LINES lines or more);
        their start-up (Python, the model's libraries) then takes a CPU the end of training
        leaves idle, not one the transforms need."""
        from radimpress.spec import load_spec
        from radimpress_workstation.job_backend.backend import local_job_backend
        from radimpress_workstation.job_backend.transform_workers import WORKER_MIN_LINES

        def follow(printer: Callable[..., None]) -> Callable[..., None]:
            if self.findings_lines < WORKER_MIN_LINES:
                return printer

            def on_event(event: Mapping[str, Any]) -> None:
                printer(event)
                if event["type"] == "TaskStateEntered" and (
                    event["stateEnteredEventDetails"]["name"] == "RegisterModel"
                ):
                    reference = self.spec or spec_reference(model, self.out_dir / "specs")
                    image = load_spec(reference).fine_tuned_image_uri
                    # Workers that cannot start now are started by the transform (or it fails).
                    with contextlib.suppress(OSError):
                        local_job_backend().warm_transform_workers(image)

            return on_event

        return follow

    def _infer(
        self,
        stack: Any,
        model: str,
        results: LocalResults,
        labels: RowLabels,
        skip_baseline: bool,
        last: bool,
    ) -> PhaseResult:
        """The inference execution of ``model``; each model's score rows go to ``results`` as
        soon as its Score wrote them, and the last execution's reading starts once all are in."""
        from radimpress_workstation.local_results import ScoreFollower

        def on_score(item: dict[str, Any]) -> None:
            if wanted(item, skip_baseline):
                results.add(stack, item, labels)

        def follow(printer: Callable[..., None]) -> Callable[..., None]:
            on_all = (lambda: results.read(self.dataset)) if last else (lambda: None)
            return ScoreFollower(printer, on_score, on_all)

        key = f"incoming/infer/{self.dataset}/{self.infer.name}"
        return self._execute(stack, "infer", model, self.infer, key, follow=follow)

    def _hand_over_rest(
        self,
        stack: Any,
        phase: PhaseResult,
        results: LocalResults,
        labels: RowLabels,
        skip_baseline: bool,
        last: bool,
    ) -> None:
        """Hand over the score results the execution's history did not (none, as a rule: the
        follower saw every Score), in the execution's order, and start the reading."""
        for item in phase.output.get("scores", []):
            if wanted(item, skip_baseline) and item["score_key"] not in results.added:
                results.add(stack, item, labels)
        if last and not results.reading:
            results.read(self.dataset)

    def _double_spec(self) -> str | None:
        """The spec's name when the JumpStart container double generates (a cloud spec run
        locally), else None (local models)."""
        if self.spec is None:
            return None
        from radimpress.spec import load_spec

        if load_spec(self.spec).is_local:
            return None
        return Path(self.spec).stem

    def _keep_model(self, stack: Any, phase: PhaseResult) -> None:
        """Copy the fine-tune the training execution registered into the run folder
        (``models/<label>/``), before the embedded bucket goes: --model-from and serve use it."""
        from radimpress.spec import load_spec
        from radimpress_workstation.job_backend.backend import local_job_backend
        from radimpress_workstation.trained_models import keep_trained_model, model_label

        job_name = str((phase.output.get("job") or {}).get("job_name", ""))
        if not job_name:
            return
        backend = local_job_backend()
        reference = self.spec or spec_reference(phase.model, self.out_dir / "specs")
        started = time.perf_counter()
        self.kept.append(
            keep_trained_model(
                stack.client("s3"),
                out_dir=self.out_dir,
                label=model_label(phase.model, self.spec),
                spec=load_spec(reference),
                spec_reference=reference,
                training_job=backend.describe_training_job(TrainingJobName=job_name),
                model=backend.describe_model(ModelName=job_name),
                run_id=self.run_id,
                training_run_id=phase.execution.name,
                dataset=self.train_dataset,
            )
        )
        self._add("keep_model", time.perf_counter() - started)

    def _restore_model(self, stack: Any, model: str) -> None:
        """Register the kept model of ``model`` in ``stack`` as its training run did
        (``model_restore``): the inference execution then compares it, nothing is trained."""
        from radimpress_workstation.job_backend.backend import local_job_backend
        from radimpress_workstation.model_restore import restore

        kept = self.reuse[model]
        self.console.heading(f"reuse: {kept.describe()} from {kept.folder}")
        started = time.perf_counter()
        restore(stack, kept, local_job_backend)
        self.lineage.add_reused(kept.run_folder, kept.training_run_id)
        self._add("restore_model", time.perf_counter() - started)

    def _model_from(self) -> dict[str, Any] | None:
        """summary.json's ``model_from``: where the reused models came from (None: trained)."""
        if not self.reuse:
            return None
        first = next(iter(self.reuse.values()))
        return {
            "run_dir": str(first.run_folder),
            "run_id": first.run_id,
            "models": [
                {
                    "label": kept.label,
                    "training_job": kept.job_name,
                    "training_run_id": kept.training_run_id,
                    "spec": kept.spec.name,
                    "archive_sha256": kept.record["archive"]["sha256"],
                }
                for kept in self.reuse.values()
            ],
        }

    def _train_count(self, name: str) -> int:
        return int(self.train_ingest.get(name, 0))

    def _collect_train_rejections(self, stack: Any, phase: PhaseResult) -> None:
        """The training file's Ingest counts and rejected rows, fetched before the embedded
        bucket goes (ids, positions, fields and reasons; never report text)."""
        from radimpress.storage import iter_jsonl

        self.train_ingest = dict(phase.output.get("ingest", {}))
        key = self.train_ingest.get("rejected_key")
        if key and self._train_count("rejected"):
            s3 = stack.client("s3")
            self.train_rejections = [row for _, row in iter_jsonl(s3, stack.bucket, key)]

    def _add(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def _write_outputs(
        self, results: LocalResults, rejected: list[dict[str, Any]]
    ) -> tuple[dict[str, Path], list[Any], list[dict[str, Any]]]:
        """Publish the run's rows (``results``) and write the rejections and summary.json; the
        output files, the numbers of the tables and the paired comparisons (the report's,
        computed once by publish_run). impressions.jsonl and scores.jsonl were written as the
        rows were handed over."""
        groups, published = results.publish(
            {
                "rejected": rejected,
                "dataset": self.dataset,
                "started_at": self.started_at,
                "ingest": self.phases[-1].output.get("ingest", {}),
                "executions": [p.execution.name for p in self.phases if p.phase == "infer"],
                "lineage": self.run_lineage,
            }
        )
        rejections = self.out_dir / "rejected.jsonl"
        with rejections.open("w", encoding="utf-8") as handle:
            for row in rejected:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        summary = self.out_dir / "summary.json"  # written last: it holds publish's comparisons
        files = {
            "impressions": self.out_dir / "impressions.jsonl",
            "scores": self.out_dir / "scores.jsonl",
            "rejected": rejections,
            "summary": summary,
        }
        if self.train is not None:
            train_rejections = self.out_dir / "train-rejected.jsonl"
            with train_rejections.open("w", encoding="utf-8") as handle:
                for row in self.train_rejections:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            files["rejected (train)"] = train_rejections
        pairs = published["paired_comparisons"] if published else []
        summary.write_text(
            json.dumps(self.summary(groups, pairs, len(rejected)), indent=2) + "\n",
            encoding="utf-8",
        )
        if published:
            files["report"] = self.out_dir / published["report_key"]
        for kept in self.kept:
            files[f"trained model ({kept.label})"] = kept.archive
        if (self.out_dir / LAMBDA_LOG).exists():
            files["lambda logs"] = self.out_dir / LAMBDA_LOG
        parquet = sorted((self.out_dir / "results").rglob("*.parquet"))
        if parquet:
            files["parquet"] = self.out_dir / "results"
        return files, groups, pairs

    def summary(
        self, groups: list[Any], pairs: list[dict[str, Any]], rejected: int
    ) -> dict[str, Any]:
        """Counts, the two tables' numbers (``summaries``) and the paired comparisons
        (``paired``) of the score rows, and the executions, as JSON (no report text)."""
        from radimpress.scoring import summaries_to_dict

        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "models": self.models,
            "executions": [
                {
                    "phase": p.phase,
                    "model": p.model,
                    "key": p.key,
                    "name": p.execution.name,
                    "status": p.execution.status,
                    "wall_seconds": round(p.wall_seconds, 3),
                }
                for p in self.phases
            ],
            "rejected": rejected,
            "training": (
                {
                    "file": self.train.name,
                    "records": self._train_count("records") + self._train_count("rejected"),
                    "accepted": self._train_count("records"),
                    "rejected": self._train_count("rejected"),
                }
                if self.train is not None
                else None
            ),
            "train_overlap": (
                {
                    **self.overlap,
                    "excluded": self.exclude_overlap,
                    "note": overlap_note(self.overlap, self.exclude_overlap),
                }
                if self.overlap
                else None
            ),
            "model_from": self._model_from(),
            "models_scored": summaries_to_dict(groups),
            "paired_comparisons": pairs,
            "lineage": self.run_lineage,
            "timings_seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def summaries(rows: Sequence[dict[str, Any]]) -> list[Any]:
    """radimpress.scoring's per-(dataset, model) aggregates: the numbers of the blog's tables,
    with clinical agreement beside ROUGE."""
    from radimpress.scoring import ROUGE_TYPES, summarize
    from radimpress.scoring.aggregate import CLINICAL

    return summarize(rows, metrics=(*ROUGE_TYPES, CLINICAL))
