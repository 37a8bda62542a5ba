"""What the operator sees during a local run: timestamped progress lines.

(The blog's two tables are radimpress.scoring's format_mean_table / format_distribution_table.)
Progress comes from the execution history (states entered and exited, task failures, Map
iterations) and from the local job backend (job status changes). Lines carry state names, job
names, counts and S3 keys only: never report text.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO


class Console:
    """Timestamped lines on one stream; safe to call from the job threads."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, text: str = "") -> None:
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


class ProgressPrinter:
    """Turns execution-history events (boto3 shape) into progress lines; call it per event.

    Wait and Choice states are not printed (the poll count shows on the next task instead);
    ``visited`` lists every state entered, in order.
    """

    QUIET_STATES = frozenset({"Wait", "Choice"})

    def __init__(self, console: Console) -> None:
        self._console = console
        self.visited: list[str] = []
        self._entered: dict[str, int] = {}

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            self.visited.append(name)
            self._entered[name] = self._entered.get(name, 0) + 1
            if kind[: -len("StateEntered")] in self.QUIET_STATES:
                return
            again = f" (check {self._entered[name]})" if self._entered[name] > 1 else ""
            self._console.progress(f"-> {name}{again}")
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            if kind[: -len("StateExited")] in self.QUIET_STATES:
                return
            counts = _counts(details["name"], details.get("output"))
            self._console.progress(f"<- {details['name']}{'  ' + counts if counts else ''}")
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
