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
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radimpress import clients
from radimpress.errors import explain_cause
from radimpress.layout import PRETRAINED
from radimpress.storage import iter_jsonl
from radimpress_workstation.console import Console
from radimpress_workstation.model_specs import BASELINE_MODEL, spec_reference
from radimpress_workstation.run_folders import execution_name, new_run_id, save_failure_files

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
class JobInterval:
    """When a local SageMaker job computed (epoch seconds, comparable with history timestamps)."""

    kind: str  # "training" | "transform"
    name: str
    started: float
    ended: float | None = None
    status: str = "InProgress"


@dataclass
class RunResult:
    run_id: str
    out_dir: Path
    phases: list[PhaseResult]
    score_rows: list[dict[str, Any]]
    input_records: int
    rejected: int
    timings: dict[str, float]
    files: dict[str, Path]
    jobs: list[JobInterval] = field(default_factory=list)


class _JobClock:
    """Wraps the console's job callback and keeps each job's start and end time."""

    def __init__(self, forward: Callable[[str, str, str], None]) -> None:
        self._forward = forward
        self.jobs: dict[str, JobInterval] = {}

    def __call__(self, kind: str, name: str, status: str) -> None:
        now = time.time()
        job = self.jobs.setdefault(name, JobInterval(kind, name, now))
        if status not in ("InProgress", "Stopping") and job.ended is None:
            job.ended, job.status = now, status
        self._forward(kind, name, status)


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


def _check_model(model: str) -> None:
    from radimpress_training.models import available_models

    if model not in available_models():
        raise ValueError(
            f"unknown local model {model!r}; local models: {', '.join(available_models())}"
        )


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
    ) -> None:
        self.train = train
        self.infer = infer
        # Without a training file there is nothing to train: one inference run, baseline only.
        self.models = list(dict.fromkeys(models))[: None if train else 1]
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

    # ----- one execution -----------------------------------------------------------------------

    def _execute(self, stack: Any, phase: str, model: str, source: Path, key: str) -> PhaseResult:
        from radimpress_workstation.console import ProgressPrinter
        from radimpress_workstation.embedded import executions

        self.console.heading(f"{phase}: {source.name} -> s3://{stack.bucket}/{key} (model {model})")
        started = time.perf_counter()
        stack.upload(key, source)
        # Named after the run, so runs/<execution>/ and training_run_id lead back to this run.
        arn = stack.start_execution(key, name=execution_name(self.run_id, phase, model))
        try:
            execution = stack.wait(arn, on_event=ProgressPrinter(self.console), timeout=1800)
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
        from radimpress_workstation.embedded import lambda_seam
        from radimpress_workstation.embedded.stack import EmbeddedStack
        from radimpress_workstation.job_backend.backend import (
            local_job_backend,
            reset_local_job_backend,
        )

        self.out_dir.mkdir(parents=True, exist_ok=True)
        score_rows: list[dict[str, Any]] = []
        rejected_rows: list[dict[str, Any]] = []
        baseline_seen = False
        for model in self.models:
            stack_started = time.perf_counter()
            self.console.progress(f"building the embedded stack from {self.template.name}")
            reset_local_job_backend()
            stack = EmbeddedStack(
                str(self.template),
                parameters={
                    "PollSeconds": "1",
                    "ModelSpec": self.spec or spec_reference(model, self.out_dir / "specs"),
                },
                retry_scale=0.0,
                stack_name="radimpress-local",
            )
            with contextlib.ExitStack() as running:
                with _collector_paused():
                    running.enter_context(stack)
                # After the stack started (it resets the clients): the handlers' SageMaker calls
                # go to the local job backend.
                clients.override("sagemaker", local_job_backend)
                self._add("stack_setup", time.perf_counter() - stack_started)
                clock = _JobClock(self.console.job_changed)
                local_job_backend().on_job_change = clock
                if self.train is not None:
                    key = f"incoming/train/{self.train_dataset}/{self.train.name}"
                    phase = self._execute(stack, "train", model, self.train, key)
                    self._add("train_execution", phase.wall_seconds)
                key = f"incoming/infer/{self.dataset}/{self.infer.name}"
                phase = self._execute(stack, "infer", model, self.infer, key)
                self._add("infer_execution", phase.wall_seconds)
                fetch_started = time.perf_counter()
                rows, rejected = self._collect(stack, phase, skip_baseline=baseline_seen)
                score_rows.extend(rows)
                if not rejected_rows:
                    rejected_rows = rejected
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
        files = self._write_outputs(score_rows, rejected_rows)
        self._add("write_outputs", time.perf_counter() - write_started)
        ingest = self.phases[-1].output.get("ingest", {})
        return RunResult(
            run_id=self.run_id,
            out_dir=self.out_dir,
            phases=self.phases,
            score_rows=score_rows,
            input_records=int(ingest.get("records", 0)) + int(ingest.get("rejected", 0)),
            rejected=int(ingest.get("rejected", 0)),
            timings=self.timings,
            files=files,
            jobs=self.jobs,
        )

    def _add(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def _collect(
        self, stack: Any, phase: PhaseResult, skip_baseline: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Score rows and rejections of one inference execution.

        Each execution compares one local model with the lead baseline; the rows of all of them
        become ONE run (``self.run_id``, the id of the folder and of the CLI) that
        :meth:`_publish` turns into one set of tables and one report. Rows are labelled
        "<role> (<model name>)" ("pre-trained (lead)", "fine-tuned (consensus)"), the name the
        Score step wrote into each row; the baseline is kept from the first execution only.
        """
        s3 = stack.client("s3")
        output = phase.output
        rows: list[dict[str, Any]] = []
        for item in output.get("scores", []):
            if item.get("failed"):  # a failed model (the execution then failed too)
                continue
            if item["model_key"] == PRETRAINED and skip_baseline:
                continue
            for _, row in iter_jsonl(s3, stack.bucket, item["score_key"]):
                name = row.get("model_name") or (
                    BASELINE_MODEL if item["model_key"] == PRETRAINED else phase.model
                )
                row["model"] = f"{row.get('model_role') or row['model']} ({name})"
                row["run_id"] = self.run_id
                rows.append(row)
        rejected: list[dict[str, Any]] = []
        rejected_key = output.get("ingest", {}).get("rejected_key")
        if rejected_key:
            rejected = [row for _, row in iter_jsonl(s3, stack.bucket, rejected_key)]
        return rows, rejected

    def _publish(
        self, rows: list[dict[str, Any]], rejected: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Publish every model's rows as one run into ``<out>/results`` with the Lambda's own
        publish_run, so the local tables, queries and report.html are the cloud's, for all the
        models of the run at once. Returns publish_run's answer (None without rows)."""
        import tempfile

        from radimpress import layout
        from radimpress.results import publish_run

        if not rows:
            return None
        ingest = self.phases[-1].output.get("ingest", {})
        with tempfile.TemporaryDirectory(prefix="radimpress-publish-") as scratch:
            s3 = FolderS3(Path(scratch), self.out_dir)
            keys = layout.RunKeys(self.run_id)
            by_label: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_label.setdefault(row["model"], []).append(row)
            score_keys = []
            for label, model_rows in by_label.items():
                key = keys.scores(layout.safe_name(label).lower())
                s3.write_lines(key, model_rows)
                score_keys.append(key)
            s3.write_lines(keys.rejected, rejected)
            return publish_run(
                s3,
                "local",
                run_id=self.run_id,
                dataset=self.dataset,
                score_keys=score_keys,
                run={
                    "source_key": str(ingest.get("source_key", "")),
                    "records": int(ingest.get("records", 0)),
                    "rejected": int(ingest.get("rejected", 0)),
                    "started_at": self.started_at,
                    "execution": ",".join(
                        p.execution.name for p in self.phases if p.phase == "infer"
                    ),
                },
            )

    def _write_outputs(
        self, rows: list[dict[str, Any]], rejected: list[dict[str, Any]]
    ) -> dict[str, Path]:
        impressions = self.out_dir / "impressions.jsonl"
        scores = self.out_dir / "scores.jsonl"
        rejections = self.out_dir / "rejected.jsonl"
        with impressions.open("w", encoding="utf-8") as handle:
            for row in rows:
                record = {k: row.get(k) for k in ("study_id", "model", "generated")}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        with scores.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        with rejections.open("w", encoding="utf-8") as handle:
            for row in rejected:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        summary = self.out_dir / "summary.json"
        summary.write_text(
            json.dumps(self.summary(rows, len(rejected)), indent=2) + "\n", encoding="utf-8"
        )
        files = {
            "impressions": impressions,
            "scores": scores,
            "rejected": rejections,
            "summary": summary,
        }
        published = self._publish(rows, rejected)
        if published:
            files["report"] = self.out_dir / published["report_key"]
        if (self.out_dir / LAMBDA_LOG).exists():
            files["lambda logs"] = self.out_dir / LAMBDA_LOG
        parquet = sorted((self.out_dir / "results").rglob("*.parquet"))
        if parquet:
            files["parquet"] = self.out_dir / "results"
        return files

    def summary(self, rows: list[dict[str, Any]], rejected: int) -> dict[str, Any]:
        """Counts, the two tables' numbers and the executions, as JSON (no report text)."""
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
            "models_scored": summaries_to_dict(summaries(rows)),
            "timings_seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def summaries(rows: Sequence[dict[str, Any]]) -> list[Any]:
    """radimpress.scoring's per-(dataset, model) aggregates: the numbers of the blog's tables,
    with clinical agreement beside ROUGE."""
    from radimpress.scoring import ROUGE_TYPES, summarize
    from radimpress.scoring.aggregate import CLINICAL

    return summarize(rows, metrics=(*ROUGE_TYPES, CLINICAL))


class FolderS3:
    """The S3 calls publish_run makes, on local folders: ``results/...`` keys under ``out``
    (the run folder), every other key under ``scratch``. Writes are atomic (temp + rename)."""

    def __init__(self, scratch: Path, out: Path) -> None:
        self._scratch, self._out = scratch, out

    def _path(self, key: str) -> Path:
        if ".." in key.split("/"):
            raise ValueError(f"unsafe key {key!r}")
        return (self._out if key.startswith("results/") else self._scratch) / key

    def write_lines(self, key: str, rows: Sequence[dict[str, Any]]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        path = self._path(Key)
        if not path.is_file():
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        return {"Body": _LineBody(path.open("rb"))}

    def upload_fileobj(self, fileobj: Any, bucket: str, key: str, ExtraArgs: Any = None) -> None:
        import shutil

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("wb") as handle:
            shutil.copyfileobj(fileobj, handle)
        partial.replace(path)

    def delete_object(self, Bucket: str, Key: str) -> None:
        self._path(Key).unlink(missing_ok=True)


class _LineBody:
    """The part of botocore's StreamingBody that publish_run reads."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def iter_lines(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        for line in self._handle:
            yield line.rstrip(b"\r\n")

    def close(self) -> None:
        self._handle.close()
