"""What the operator sees during a local run: timestamped progress lines.

(The blog's two tables are radimpress.scoring's format_mean_table / format_distribution_table.)
Progress comes from the execution history (states entered and exited, task failures, Map
iterations) and from the local job backend (job status changes). Lines carry state names, job
names, counts and S3 keys only: never report text. What a sender chose (ids, field and file
names) can hold control or bidi characters: every line is shown with those escaped (``\\u202e``,
:func:`radimpress.records.printable`), so an id never reorders or splits the terminal's text.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

EXIT_UNUSABLE = 2  # unusable input, in every command
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so every command's interrupt
    path runs (a run's executions stopped, its folder marked incomplete)."""


def interruption(err: KeyboardInterrupt) -> str:
    """What stopped a command, as its INCOMPLETE.json says it."""
    return "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"


def error(command: str, what: str, where: str | os.PathLike[str] | None = None) -> int:
    """Print ``radimpress <command>: error: <what>, <where>`` on stderr; returns exit code 2.

    The one error form of every command (argparse's usage errors read the same), so a user and a
    script can tell which command failed, why and on what. ``what`` never quotes report text.
    """
    from radimpress.records import printable

    place = f", {os.fspath(where)}" if where not in (None, "") else ""
    print(printable(f"radimpress {command}: error: {what}{place}"), file=sys.stderr, flush=True)
    return EXIT_UNUSABLE


def shown(text: str) -> str:
    """``text`` as a terminal may get it: its lines and tabs kept, every other control, bidi
    control or separator character escaped (``\\u202e``)."""
    if text.isascii() and text.replace("\n", "").replace("\t", "").isprintable():
        return text
    from radimpress.records import printable

    return "\n".join("\t".join(map(printable, line.split("\t"))) for line in text.split("\n"))


def explain(err: BaseException) -> tuple[str, str | None]:
    """(what, where) of an input/output exception, without Python's ``[Errno N]`` noise."""
    from radimpress.records import UnreadableFile

    if isinstance(err, UnreadableFile):
        return err.reason, err.source
    what, where = getattr(err, "what", None), getattr(err, "where", None)
    if isinstance(what, str):
        return what, where
    if isinstance(err, OSError):
        reason = (err.strerror or type(err).__name__).lower()
        return reason, os.fsdecode(err.filename) if err.filename is not None else None
    return str(err), None


class Console:
    """Timestamped lines on one stream; safe to call from the job threads."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.started = time.monotonic()
        import threading  # progress printers only: `score` and `label` start without it

        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, text: str = "") -> None:
        text = shown(text)
        with self._lock:
            print(text, file=self.stream, flush=True)

    def progress(self, text: str) -> None:
        if not self.quiet:
            self.line(f"  [{self.elapsed():6.1f}s] {text}")

    def heading(self, text: str) -> None:
        self.line()
        self.line(f"== {text}")

    def job_changed(self, kind: str, name: str, status: str) -> None:
        self.progress(f"   {kind} job {name}: {status}")


# --------------------------------------------------------------------------------------------
# Execution history -> progress lines
# --------------------------------------------------------------------------------------------


def _counts(state: str, output: str | None) -> str:
    """What a state just produced, from its output: ids, keys and counts, never report text."""
    try:
        data = json.loads(output or "")
    except (TypeError, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    if state == "Ingest" and isinstance(data.get("ingest"), dict):
        ingest = data["ingest"]
        return (
            f"route={ingest.get('route')} accepted={ingest.get('records')} "
            f"rejected={ingest.get('rejected')}"
        )
    if state.endswith("Status") and isinstance(data.get("job_status"), dict):
        return f"job {data['job_status'].get('status')}"
    if state == "ResolveModels" and isinstance(data.get("models"), dict):
        items = data["models"].get("items") or []
        return "models: " + ", ".join(
            str(i.get("label", "?")) for i in items if isinstance(i, dict)
        )
    if state == "ModelFailed" and data.get("failed"):
        return f"model {data.get('model_key')} failed: {data.get('error')}"
    if state == "Publish" and isinstance(data.get("published"), dict):
        failed = data["published"].get("failed_models") or []
        if failed:
            return "published the other models; failed: " + ", ".join(
                f"{m.get('model_key')} ({m.get('error')})" for m in failed if isinstance(m, dict)
            )
    if state == "Score" and "scored" in data:
        return f"{data.get('model_key')}: generated={data.get('generated')} scored={data['scored']}"
    if state == "RegisterModel" and isinstance(data.get("model"), dict):
        return f"model {data['model'].get('model_name')}"
    return ""


def _model_of(data: Any) -> str | None:
    """``<role> (<name>)`` of the Map item a state works on, e.g. ``fine-tuned (restate)``."""
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict):
        return None
    role = model.get("role") or model.get("label") or model.get("model_key")
    name = model.get("name")
    if role and name:
        return f"{role} ({name})"
    return str(role or name) if role or name else None


def _job_of(data: Any) -> str | None:
    job = data.get("job") if isinstance(data, dict) else None
    name = job.get("job_name") if isinstance(job, dict) else None
    return name if isinstance(name, str) else None


class ProgressPrinter:
    """Turns execution-history events (boto3 shape) into progress lines; call it per event.

    Lines name the model a Map iteration works on (``[fine-tuned (restate)]``), and repeated
    states count per job (or per model before its job exists), so ``(check 2)`` is the second
    status check of that job, not the second TransformStatus of the execution. Wait and Choice
    states are not printed (the check count shows on the next task instead); ``visited`` lists
    every state entered, in order.
    """

    QUIET_STATES = frozenset({"Wait", "Choice"})

    def __init__(self, console: Console) -> None:
        self._console = console
        self.visited: list[str] = []
        self._entered: dict[tuple[str, str], int] = {}

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            name = details["name"]
            self.visited.append(name)
            data = _parse(details.get("input"))
            model = _model_of(data)
            key = (name, _job_of(data) or model or "")
            self._entered[key] = self._entered.get(key, 0) + 1
            if kind[: -len("StateEntered")] in self.QUIET_STATES:
                return
            again = f" (check {self._entered[key]})" if self._entered[key] > 1 else ""
            self._console.progress(f"-> {name}{_tag(model)}{again}")
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            if kind[: -len("StateExited")] in self.QUIET_STATES:
                return
            name = details["name"]
            counts = _counts(name, details.get("output"))
            model = _model_of(_parse(details.get("output")))
            self._console.progress(f"<- {name}{_tag(model)}{'  ' + counts if counts else ''}")
        elif kind == "MapIterationStarted":
            index = event.get("mapIterationStartedEventDetails", {}).get("index")
            self._console.progress(f"   map iteration {index} started")
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            details = event.get("taskFailedEventDetails") or event.get(
                "lambdaFunctionFailedEventDetails", {}
            )
            self._console.progress(f"!! task failed: {details.get('error')}")
        elif kind in ("ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted"):
            self._console.progress(kind)


def _parse(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except (TypeError, ValueError):
        return None


def _tag(model: str | None) -> str:
    return f" [{model}]" if model else ""
