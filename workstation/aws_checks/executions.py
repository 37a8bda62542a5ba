"""Find the Step Functions execution an upload started, and follow it to its end.

Step Functions API reference: ListExecutions returns a state machine's executions most recent
first (``startDate``); DescribeExecution gives ``status`` (RUNNING, SUCCEEDED, FAILED,
TIMED_OUT, ABORTED, PENDING_REDRIVE), ``input``, ``output``, ``error`` and ``cause``;
GetExecutionHistory with ``reverseOrder`` pages events newest first. The execution input is
what the template's EventBridge rule writes: ``{"bucket", "key", "version_id", ...}``, so an
upload is matched on its key. Each new event goes to a printer (the local run's
``ProgressPrinter``: state names, job names and counts, never report text).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from radimpress_workstation.aws_checks import walk

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass
class Deadline:
    """When waiting stops, and the pause between two looks (the clock and sleep are seams)."""

    at: float
    poll: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def passed(self) -> bool:
        return self.clock() >= self.at

    def pause(self) -> None:
        self.sleep(min(self.poll, max(1.0, self.at - self.clock())))


@dataclass
class Followed:
    """One execution and what its history has said so far."""

    label: str
    key: str
    arn: str
    printer: Callable[[dict[str, Any]], None]
    last_event: int = 0
    status: str = "RUNNING"
    description: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    jobs: dict[str, str] = field(default_factory=dict)  # job name -> training | transform

    def take(self, event: dict[str, Any]) -> None:
        """Print the event; note the run id and the SageMaker jobs from state outputs."""
        self.printer(event)
        self.last_event = max(self.last_event, int(event["id"]))
        details = event.get("stateExitedEventDetails") or {}
        try:
            output = json.loads(details.get("output") or "null")
        except ValueError:
            return
        for item in walk(output):
            if isinstance(item, dict) and _is_job(item):
                self.jobs.setdefault(item["job_name"], item["kind"])
        ingest = output.get("ingest") if isinstance(output, dict) else None
        if isinstance(ingest, dict) and isinstance(ingest.get("run_id"), str):
            self.run_id = ingest["run_id"]


def _is_job(item: dict[str, Any]) -> bool:
    """A JobStarted result (radimpress.events): ``{"kind", "job_name", ...}``."""
    return item.get("kind") in ("training", "transform") and isinstance(item.get("job_name"), str)


def _input_key(sfn: Any, arn: str) -> str | None:
    described = sfn.describe_execution(executionArn=arn)
    try:
        key = json.loads(described.get("input") or "{}").get("key")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def _look(sfn: Any, machine: str, key: str, since: datetime, seen: set[str]) -> str | None:
    """One pass over the executions started since ``since``, newest first."""
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for execution in page.get("executions", []):
            if execution["startDate"] < since:
                return None  # newest first: the rest started before the upload
            arn = execution["executionArn"]
            if arn not in seen:
                seen.add(arn)
                if _input_key(sfn, arn) == key:
                    return arn
    return None


def find_execution(
    sfn: Any, machine: str, key: str, since: datetime, deadline: Deadline
) -> str | None:
    """The ARN of the execution whose input names ``key``; None when none started in time."""
    seen: set[str] = set()
    while True:
        if arn := _look(sfn, machine, key, since, seen):
            return arn
        if deadline.passed():
            return None
        deadline.pause()


def new_events(sfn: Any, item: Followed) -> list[dict[str, Any]]:
    """Events after the last one seen, oldest first (the history is read newest first)."""
    request: dict[str, Any] = {"executionArn": item.arn, "reverseOrder": True}
    events: list[dict[str, Any]] = []
    while True:
        page = sfn.get_execution_history(**request)
        for event in page.get("events", []):
            if int(event["id"]) <= item.last_event:
                return events[::-1]
            events.append(event)
        if not page.get("nextToken"):
            return events[::-1]
        request["nextToken"] = page["nextToken"]


def follow(sfn: Any, item: Followed, deadline: Deadline) -> None:
    """Poll until the execution ends (``item.status`` terminal) or the deadline passes."""
    while True:
        item.description = sfn.describe_execution(executionArn=item.arn)
        for event in new_events(sfn, item):
            item.take(event)
        item.status = str(item.description.get("status", "RUNNING"))
        if item.status in TERMINAL or deadline.passed():
            return
        deadline.pause()
