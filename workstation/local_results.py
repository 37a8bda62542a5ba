"""A local run's own results (its run folder's rows, tables and report), built beside its
pipeline instead of after it.

The pipeline's Publish reads every score row of an execution to publish it in the embedded
bucket; ``radimpress run`` then reads them all again to label them, write impressions.jsonl and
scores.jsonl, and publish every model as one run into its folder. Done after the execution, in
the process whose threads are the Lambdas, that was about 10 s of one core at 50,000 + 50,000
reports while the other core had nothing to do. So the rows are handled as soon as each model's
Score has written them (:class:`ScoreFollower`, which watches the execution's history), and in a
process of their own when the findings file is large enough for that to pay, not so large that
memory is what runs out (:data:`OWN_PROCESS_LINES`, with a second CPU): a model's rows while the
other's transform runs, the reading of all of them (``publish.read_scores``) while the pipeline
publishes; only the report and the small tables wait for the execution's end, which gives the
run's lineage. In the run's own process the rows are written as they come, but read only once the
execution has ended, reusing the heap the pipeline's Publish freed.

Results go to a staging folder inside the run folder and are moved into place only once they are
complete (:meth:`LocalResults.publish`); a run that fails or is interrupted discards them, and a
killed one leaves them in that hidden folder, beside its ``INCOMPLETE.json``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radimpress_workstation.output_files import partial_path

# Findings lines (records) for which the rows get a process of their own. Below 20,000 its
# start-up (spawn and imports, about 1 s of CPU) costs more than the parallel work saves (the
# threshold of the fit's helper and the transform's workers too). Above 250,000 memory, not time,
# is what runs out: that process holds a Python, pyarrow and a second Publish's columns at the
# same time as the pipeline's own Publish (1,000,000 tiny records: 743 MB for the run's processes
# together, against 565 MB with the rows in the run's process, which reads them after the
# pipeline's Publish has freed its heap).
OWN_PROCESS_LINES = (20_000, 250_000)
STAGING = ".results.partial"
EXPORT_CHUNK = 1 << 20


@dataclass(frozen=True)
class RowLabels:
    """How one execution's rows are labelled (run_outputs.add_score_rows's keywords)."""

    model: str
    double_spec: str | None = None
    train_overlap: str = ""
    leave_out: frozenset[str] = frozenset()


class RowsSession:
    """Where the rows are handled: a RunRows fed one exported score file at a time, then read
    and published as one run. Lives in the results process, or in this one."""

    def __init__(self, out_dir: Path, scratch: Path, run_id: str) -> None:
        from radimpress_workstation.run_outputs import RunRows

        self._out_dir, self._scratch, self._run_id = out_dir, scratch, run_id
        self._open = contextlib.ExitStack()
        self.rows = self._open.enter_context(RunRows(out_dir, scratch, run_id))
        self._scores: Any = None

    def add(
        self, scored: Iterable[dict[str, Any]], item: dict[str, Any], labels: RowLabels
    ) -> None:
        """Label and write the rows of one Score result."""
        from radimpress_workstation.run_outputs import add_score_rows

        add_score_rows(
            self.rows,
            scored,
            item,
            labels.model,
            self._run_id,
            double_spec=labels.double_spec,
            train_overlap=labels.train_overlap,
            leave_out=labels.leave_out,
        )

    def add_export(self, export: Path, item: dict[str, Any], labels: RowLabels) -> None:
        """:meth:`add` from a score file copied out of the embedded bucket; removed after."""
        with export.open(encoding="utf-8") as handle:
            self.add((json.loads(line) for line in handle if line.strip()), item, labels)
        export.unlink()

    def read(self, dataset: str) -> None:
        """Every row is in: put impressions.jsonl and scores.jsonl in place and read the rows
        for publishing (the costly part of it, which needs none of the run's other facts)."""
        from radimpress_workstation.run_outputs import read_rows

        self.rows.finish()
        if self.rows.written:
            self._scores = self._open.enter_context(
                read_rows(
                    self.rows,
                    scratch=self._scratch,
                    out_dir=self._out_dir / STAGING,
                    run_id=self._run_id,
                    dataset=dataset,
                )
            )

    def publish(self, facts: dict[str, Any]) -> tuple[list[Any], dict[str, Any] | None]:
        """The tables' numbers (RunRows.summaries) and publish_rows's answer, the results
        written to the staging folder (``facts``: publish_rows's keywords)."""
        from radimpress_workstation.run_outputs import publish_rows

        published = publish_rows(
            self.rows,
            scratch=self._scratch,
            out_dir=self._out_dir / STAGING,
            run_id=self._run_id,
            scores=self._scores,
            **facts,
        )
        return self.rows.summaries(), published

    def close(self) -> None:
        self._open.close()


@dataclass
class _Pending:
    """Calls sent to the results process whose answers have not been read yet."""

    count: int = 0
    error: BaseException | None = None


class _OwnProcess:
    """A RowsSession in a spawned process (SIGINT ignored, ends with this one), fed through a
    pipe; answers come back in the order of the calls."""

    def __init__(self, out_dir: Path, scratch: Path, run_id: str) -> None:
        import multiprocessing
        import os

        context = multiprocessing.get_context("spawn")
        # Two one-way pipes (os.pipe), not a duplex one: that would be a socket pair.
        calls, self._calls = context.Pipe(duplex=False)
        self._answers, answers = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(calls, answers, os.getpid(), out_dir, scratch, run_id),
            name="radimpress-results",
            daemon=True,
        )
        self._process.start()
        calls.close()
        answers.close()
        self._pending = _Pending()

    def call(self, method: str, *args: Any) -> None:
        self._calls.send((method, args))
        self._pending.count += 1

    def result(self) -> Any:
        """The last call's answer, once every call has been answered; the first error raised."""
        value: Any = None
        while self._pending.count:
            try:
                ok, value = self._answers.recv()
            except EOFError:
                code = self._process.exitcode
                raise RuntimeError(f"the results process ended (exit code {code})") from None
            self._pending.count -= 1
            if not ok and self._pending.error is None:
                self._pending.error = value
        if self._pending.error is not None:
            raise self._pending.error
        return value

    def close(self, discard: bool) -> None:
        """End the process: at once when discarding (Ctrl-C, a failed execution), else after it
        closed its files."""
        if discard:
            self._process.kill()
        else:
            with contextlib.suppress(OSError):
                self.call("close")
                self.result()
        self._process.join(timeout=30)
        self._calls.close()
        self._answers.close()


class _ThisProcess:
    """The same calls on a RowsSession of this process: run at once, errors kept for
    :meth:`result` as the process would give them."""

    def __init__(self, out_dir: Path, scratch: Path, run_id: str) -> None:
        self._session = RowsSession(out_dir, scratch, run_id)
        self._value: Any = None
        self._error: BaseException | None = None

    def call(self, method: str, *args: Any) -> None:
        if self._error is not None:
            return
        try:
            self._value = getattr(self._session, method)(*args)
        except Exception as err:  # raised by result(), where the process's would be
            self._error = err

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def close(self, discard: bool) -> None:
        self._session.close()


def _serve(
    calls: Any, answers: Any, parent: int, out_dir: Path, scratch: Path, run_id: str
) -> None:
    """The results process: answer each (method, args) with (True, value) or (False, error)."""
    from radimpress_training.models.helper_process import start_worker

    start_worker(parent)
    session = RowsSession(out_dir, scratch, run_id)
    failed: Exception | None = None  # after a failed call, the later ones are not made
    try:
        while True:
            try:
                method, args = calls.recv()
            except EOFError:
                return
            if method == "close":
                session.close()
                answers.send((True, None))
                return
            try:
                if failed is not None:
                    raise failed
                answer = (True, getattr(session, method)(*args))
            except Exception as err:
                failed = err
                answer = (False, err)
            try:
                answers.send(answer)
            except Exception:  # an error that does not pickle: its type and message
                answers.send((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
    finally:
        session.close()


class LocalResults:
    """A local run's rows and results, built as its executions go (see the module)."""

    def __init__(self, out_dir: Path, scratch: Path, run_id: str, own_process: bool) -> None:
        self.out_dir, self.scratch = out_dir, scratch
        shutil.rmtree(out_dir / STAGING, ignore_errors=True)
        runner = _OwnProcess if own_process else _ThisProcess
        self._worker: _OwnProcess | _ThisProcess = runner(out_dir, scratch, run_id)
        self._own_process = own_process
        self._exports = 0
        self.added: set[str] = set()  # score keys whose rows went in
        self.reading = False
        self._dataset: str | None = None  # read by publish() (rows in this process)

    def add(self, stack: Any, item: dict[str, Any], labels: RowLabels) -> None:
        """Hand over one Score result's rows; they go in after the ones handed over before.
        The results process gets a copy of its file (the embedded bucket lives in this process
        only); here they are streamed from the bucket."""
        if not self._own_process:
            from radimpress.storage import iter_jsonl

            rows = iter_jsonl(stack.client("s3"), stack.bucket, item["score_key"])
            self._worker.call("add", (row for _, row in rows), item, labels)
            self.added.add(item["score_key"])
            return
        self._exports += 1
        export = self.scratch / "exports" / f"{self._exports}.jsonl"
        export.parent.mkdir(parents=True, exist_ok=True)
        body = stack.client("s3").get_object(Bucket=stack.bucket, Key=item["score_key"])["Body"]
        try:
            with partial_path(export).open("wb") as handle:
                shutil.copyfileobj(body, handle, EXPORT_CHUNK)
        finally:
            body.close()
        partial_path(export).replace(export)
        self._worker.call("add_export", export, item, labels)
        self.added.add(item["score_key"])

    def read(self, dataset: str) -> None:
        """Every execution's rows are in: start reading them for publishing, in the results
        process while the pipeline still publishes; in this one only once the execution has
        ended (:meth:`publish`), when the pipeline's Publish has freed the heap it reuses."""
        if self._own_process:
            self._worker.call("read", dataset)
        else:
            self._dataset = dataset
        self.reading = True

    def wait(self) -> None:
        """Until every row handed over is written (an error in one is raised here)."""
        self._worker.result()

    def publish(self, facts: dict[str, Any]) -> tuple[list[Any], dict[str, Any] | None]:
        """Publish (``facts``: publish_rows's keywords), then move the results into the run
        folder; the numbers of the tables and publish_rows's answer."""
        if self._dataset is not None:
            self._worker.call("read", self._dataset)
        self._worker.call("publish", facts)
        groups, published = self._worker.result()
        staged = self.out_dir / STAGING / "results"
        if staged.is_dir():
            target = self.out_dir / "results"
            shutil.rmtree(target, ignore_errors=True)
            staged.replace(target)
        shutil.rmtree(self.out_dir / STAGING, ignore_errors=True)
        return groups, published

    def __enter__(self) -> LocalResults:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        """A run that ended with an error (Ctrl-C, a failed execution) discards its results."""
        self.close(discard=error_type is not None)

    def close(self, discard: bool) -> None:
        """End the worker; a discarded run's staged results and row files go too (the results
        process may have put the row files in place already: they are whole or absent with the
        run's other outputs, so an unfinished run has none)."""
        self._worker.close(discard)
        if discard:
            shutil.rmtree(self.out_dir / STAGING, ignore_errors=True)
            for name in ("impressions.jsonl", "scores.jsonl"):
                partial_path(self.out_dir / name).unlink(missing_ok=True)
                (self.out_dir / name).unlink(missing_ok=True)


def findings_lines(findings: Path) -> int:
    """The findings file's lines (records), counted once per run; 0 when it cannot be read
    (the run then fails in Ingest, where that is reported)."""
    from radimpress_workstation.job_backend.transform_workers import count_lines

    try:
        return count_lines([findings])
    except OSError:
        return 0


def own_process_wanted(lines: int) -> bool:
    """Whether a run's rows (a findings file of ``lines`` lines) pay for a process of their own
    (see OWN_PROCESS_LINES)."""
    from radimpress_training.models.helper_process import usable_cpus

    low, high = OWN_PROCESS_LINES
    return low <= lines <= high and usable_cpus() > 1


@dataclass
class ScoreFollower:
    """An execution's history watcher (``stack.wait``'s on_event) that hands each model's Score
    result to ``on_score`` once its rows are written, in the Map's item order (the order of the
    execution's ``scores``), and calls ``on_all`` once every model's is in. Every event also
    goes to ``then`` (the progress printer)."""

    then: Callable[[Mapping[str, Any]], None]
    on_score: Callable[[dict[str, Any]], None]
    on_all: Callable[[], None] = lambda: None
    _order: list[str] = field(default_factory=list)
    _scored: dict[str, dict[str, Any]] = field(default_factory=dict)
    _handed: int = 0

    def __call__(self, event: Mapping[str, Any]) -> None:
        self.then(event)
        if event["type"] != "TaskStateExited":
            return
        details = event["stateExitedEventDetails"]
        if details["name"] == "ResolveModels":
            models = json.loads(details["output"])["models"]["items"]
            self._order = [str(m["model_key"]) for m in models]
        elif details["name"] == "Score":
            item = json.loads(details["output"])
            self._scored[str(item["model_key"])] = item
            self._hand_over()

    def _hand_over(self) -> None:
        while self._handed < len(self._order) and self._order[self._handed] in self._scored:
            self.on_score(self._scored[self._order[self._handed]])
            self._handed += 1
            if self._handed == len(self._order):
                self.on_all()
