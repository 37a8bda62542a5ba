"""Watch and wait on Step Functions executions, and say what they did.

``wait`` follows the execution history while moto runs the execution on its own thread and hands
each new event to a callback (the operator's progress line); ``describe`` turns an event into that
line without ever printing state input or output; ``ExecutionResult`` names the state that failed
and its cause. (What starts an execution, the template's EventBridge rule, is ``eventbridge``.)

``announce_endings`` is where an execution's end becomes known the moment moto's interpreter
records it (stopped, timed out, failed or succeeded), so the embedded stack can send the
"Step Functions Execution Status Change" event AWS sends; ``wait_for_announcements`` lets whoever
saw an execution end wait until that event has been handed on.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from radimpress_workstation.embedded import moto_speedups
from radimpress_workstation.embedded.patches import CountedPatches, Patch

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_FAIL_TYPES = ("Failed", "TimedOut", "Aborted")
_TASK_FAILURES = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
}


class ExecutionTimeout(TimeoutError):
    """The execution did not finish in time; it has been stopped."""


@dataclass
class ExecutionResult:
    """How an execution ended, with its full history (boto3 event shape plus ``state``)."""

    arn: str
    name: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    failed_state: str | None
    history: list[dict[str, Any]] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)  # state names in the order entered

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.history if e["type"] == event_type]

    def task_failures(self) -> list[tuple[str | None, str | None, str | None]]:
        """(state, error, cause) of every failed task attempt, retries included."""
        failures = []
        for event in self.history:
            if event["type"] in _TASK_FAILURES:
                details = _details(event)
                failures.append((event.get("state"), details.get("error"), details.get("cause")))
        return failures


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _state_of(event: dict[str, Any], by_id: Mapping[int, dict[str, Any]]) -> str | None:
    """The state an event belongs to: follow previousEventId back to a *StateEntered event."""
    if event["type"].startswith("Execution"):
        return None
    seen = 0
    current: dict[str, Any] | None = event
    while current is not None and seen < 10_000:
        if current["type"].endswith("StateEntered") or current["type"].endswith("StateExited"):
            return current.get(
                "stateEnteredEventDetails", current.get("stateExitedEventDetails", {})
            ).get("name")
        if "state" in current and current is not event:
            return current["state"]
        current = by_id.get(current.get("previousEventId", 0))
        seen += 1
    return None


def describe(event: Mapping[str, Any]) -> str | None:
    """One progress line for an event (None for events not worth a line). No payloads."""
    kind = event["type"]
    state = event.get("state")
    details = _details(event)
    if kind.endswith("StateEntered"):
        return f"-> {state}"
    if kind.endswith("StateExited"):
        return f"<- {state}"
    if kind == "MapIterationStarted":
        return f"   {details.get('name', state)} iteration {details.get('index')} started"
    if kind == "MapIterationFailed":
        return f"!! {details.get('name', state)} iteration {details.get('index')} failed"
    if kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"):
        return f"!! {state}: {details.get('error')} ({kind})"
    if kind == "ExecutionStarted":
        return "execution started"
    if kind == "ExecutionSucceeded":
        return "execution succeeded"
    if kind.startswith("Execution") and kind.endswith(_FAIL_TYPES):
        return f"execution {kind[len('Execution') :].lower()}: {details.get('error')}"
    return None


def wait(
    sfn: Any,
    execution_arn: str,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = 300.0,
) -> ExecutionResult:
    """Poll the execution and its history until it ends; ``on_event`` sees each new event once.

    Each event dict gets a ``state`` key (the state it belongs to, None for execution events).
    On timeout the execution is stopped (and its stop awaited) and ``ExecutionTimeout`` raised.
    """
    deadline = time.monotonic() + timeout
    history: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    interval = 0.01
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        done = described["status"] in TERMINAL
        events = _history(sfn, execution_arn)
        for event in events[len(history) :]:
            event["state"] = _state_of(event, by_id)
            by_id[event["id"]] = event
            history.append(event)
            if on_event is not None:
                on_event(event)
        if done:
            break
        if time.monotonic() > deadline:
            stop(sfn, execution_arn, "ExecutionTimeout", f"no result within {timeout:.0f} s")
            raise ExecutionTimeout(f"execution {execution_arn} still running after {timeout:.0f} s")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)
    return _result(described, history)


def stop(sfn: Any, execution_arn: str, error: str, cause: str, limit: float = 10.0) -> str:
    """Stop an execution and wait until moto's thread has let go of it; returns its status."""
    sfn.stop_execution(executionArn=execution_arn, error=error, cause=cause)
    deadline = time.monotonic() + limit
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status in TERMINAL or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    fast = moto_speedups.read_history(execution_arn)
    if fast is not None:
        return fast
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _result(described: Mapping[str, Any], history: list[dict[str, Any]]) -> ExecutionResult:
    output = described.get("output")
    if isinstance(output, str):
        with contextlib.suppress(json.JSONDecodeError):
            output = json.loads(output)
    error, cause = described.get("error"), described.get("cause")
    failed_state = None
    if described["status"] != "SUCCEEDED":
        failures = [e for e in history if e["type"] in _TASK_FAILURES]
        entered = [e for e in history if e["type"].endswith("StateEntered")]
        last = failures[-1] if failures else (entered[-1] if entered else None)
        failed_state = last.get("state") if last else None
        for event in reversed(history):
            if event["type"].startswith("Execution") and event["type"].endswith(_FAIL_TYPES):
                details = _details(event)
                error = error or details.get("error")
                cause = cause or details.get("cause")
                break
    visited = [e["state"] for e in history if e["type"].endswith("StateEntered")]
    return ExecutionResult(
        arn=described["executionArn"],
        name=described.get("name", described["executionArn"].rsplit(":", 1)[-1]),
        status=described["status"],
        output=output,
        error=error,
        cause=cause,
        failed_state=failed_state,
        history=history,
        visited=visited,
    )


# -- announcing the end of executions ----------------------------------------------------------
Ending = Callable[[dict[str, Any]], None]
_ENDING_PATCHES = CountedPatches()
_ENDING_LISTENERS: list[Ending] = []
_ANNOUNCING = threading.Condition()
_in_flight = 0  # executions whose end is being recorded and announced right now


def announce_endings(listener: Ending) -> None:
    """Call ``listener`` with ``ended(execution)`` whenever moto's interpreter ends an execution
    (on the execution's own thread). Undo with ``stop_announcing(listener)``."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.__dict__["terminated"]

    def terminated(communication: Any) -> None:
        # Counted before the status becomes visible: whoever sees the execution end and then
        # calls ``wait_for_announcements`` waits for its listeners.
        global _in_flight
        with _ANNOUNCING:
            _in_flight += 1
        try:
            original(communication)
            ending = ended(communication.execution)
            for each in list(_ENDING_LISTENERS):
                each(ending)
        finally:
            with _ANNOUNCING:
                _in_flight -= 1
                _ANNOUNCING.notify_all()

    def patches() -> list[Patch]:
        return [(BaseExecutionWorkerCommunication, "terminated", terminated)]

    _ENDING_LISTENERS.append(listener)
    _ENDING_PATCHES.install(patches)


def stop_announcing(listener: Ending) -> None:
    if listener in _ENDING_LISTENERS:
        _ENDING_LISTENERS.remove(listener)
    _ENDING_PATCHES.uninstall()


def wait_for_announcements(timeout: float) -> bool:
    """Wait until no execution's end is being announced; False when ``timeout`` passed first."""
    with _ANNOUNCING:
        return _ANNOUNCING.wait_for(lambda: _in_flight == 0, timeout)


def ended(execution: Any) -> dict[str, Any]:
    """What moto's execution object says about how it ended (DescribeExecution's fields)."""
    state = execution.exec_worker.env.program_state() if execution.exec_worker else None
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.exec_status.value if execution.exec_status else "RUNNING",
        "startDate": execution.start_date,
        "stopDate": execution.stop_date,
        "input": execution.input_data,
        "output": execution.output,
        "error": execution.error or getattr(state, "error", None),
        "cause": execution.cause or getattr(state, "cause", None),
    }
