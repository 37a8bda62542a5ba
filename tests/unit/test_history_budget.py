"""Worst-case Step Functions history of one execution stays under the 25,000-event limit.

A Standard workflow fails at 25,000 history events, with no Catch and no RecordFailure, while the
SageMaker job keeps billing. The events of an execution are computed here from
statemachine/pipeline.asl.json and template.yaml's parameter bounds:

- events per state: Task 5 (Entered, Scheduled, Started, Succeeded/Failed, Exited) plus 3 per
  retried attempt (Scheduled, Started, Failed), every Retry exhausted; Choice, Pass, Wait, Succeed
  2; Fail 1; Map 4 plus 2 per iteration; the execution 2;
- a poll loop (a cycle through a Wait) runs as many checks as the poll schedule allows before the
  JobStatus Lambda sees ``elapsed > max_wait_seconds`` and stops the job; the schedule is read
  from the ASL: linear back-off (the n-th wait is n x poll_seconds) or a constant wait;
- the Map runs every model (at most pre-trained and fine-tuned) through its own loop.

Choice: poll back-off plus MaxWaitSeconds <= 48 h. At a 60 s poll a 48 h job costs 76 checks
instead of 2,880; the back-off's latency is at most one wait (~5 % of the elapsed time at 11 h).
Billing stops when SageMaker ends the job, not when we notice, so the back-off costs no money.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radimpress import jumpstart
from radimpress.errors import JobWaitExceeded
from radimpress.spec import load_spec
from radimpress.steps.job_status import check_job
from radimpress.steps.register_model import GATE_MAX_WAIT_SECONDS
from radimpress_workstation.embedded.template import load

ROOT = Path(__file__).resolve().parents[2]
HISTORY_LIMIT = 25_000
MAX_MODELS = 2  # ResolveModels: pre-trained + approved fine-tuned; the gate: candidate + approved
MAPS = {"SummarizeEachModel"}
BACKOFF = "States.MathAdd($.job.wait.seconds, $.poll_seconds)"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return load(ROOT / "template.yaml")["Parameters"]


def successors(state: dict[str, Any]) -> list[str]:
    found = [state.get("Next"), state.get("Default")]
    found += [c.get("Next") for c in state.get("Choices", [])]
    found += [c.get("Next") for c in state.get("Catch", [])]
    return [n for n in found if n]


def reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += successors(states[name])
    return seen


def loops(states: dict[str, Any]) -> list[set[str]]:
    """Every cycle's states (strongly connected components with more than one state)."""
    out: list[set[str]] = []
    for name in states:
        cycle = {n for n in reachable(states, name) if name in reachable(states, n)}
        if len(cycle) > 1 and cycle not in out:
            out.append(cycle)
    return out


def checks(schedule: str, poll: int, max_wait: int) -> int:
    """Status checks of a job that runs for ever: at t=0, then after each wait, until the
    elapsed time exceeds max_wait (the check that stops the job counts)."""
    if schedule == "constant":
        return max_wait // poll + 2
    n = math.ceil((math.sqrt(1 + 8 * max_wait / poll) - 1) / 2)  # poll*n(n+1)/2 >= max_wait
    while poll * n * (n + 1) // 2 <= max_wait:
        n += 1
    return n + 1


def schedule_of(states: dict[str, Any], cycle: set[str]) -> str:
    """Read the loop's wait schedule from the ASL."""
    passes = [states[n] for n in cycle if states[n]["Type"] == "Pass"]
    waits = [states[n] for n in cycle if states[n]["Type"] == "Wait"]
    assert len(waits) == 1, cycle
    if passes and passes[0].get("Parameters", {}).get("seconds.$") == BACKOFF:
        assert waits[0]["SecondsPath"] == "$.job.wait.seconds"
        return "linear"
    assert waits[0].get("SecondsPath") == "$.poll_seconds", waits[0]
    return "constant"


def map_wait(path: list[str], max_wait: int) -> int:
    """The Map's transforms wait at most max_wait, or the gate's bound after a training."""
    return min(max_wait, GATE_MAX_WAIT_SECONDS) if "RegisterModel" in path else max_wait


def state_events(state: dict[str, Any], poll: int, max_wait: int) -> int:
    kind = state["Type"]
    if kind == "Task":
        retries = sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
        return 5 + 3 * retries
    if kind == "Fail":
        return 1
    if kind == "Map":
        processor = state.get("ItemProcessor") or state["Iterator"]
        return 4 + MAX_MODELS * (2 + worst_events(processor, poll, max_wait))
    return 2  # Choice, Pass, Wait, Succeed, Parallel is not used


def paths(states: dict[str, Any], start: str) -> Iterator[list[str]]:
    """Simple paths from ``start`` to a state that ends the machine."""
    stack = [[start]]
    while stack:
        path = stack.pop()
        state = states[path[-1]]
        nxt = [n for n in successors(state) if n not in path]
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            yield path
        stack += [[*path, n] for n in nxt]


def worst_events(machine: dict[str, Any], poll: int, max_wait: int) -> int:
    """The most history events any way through ``machine`` can produce."""
    states = machine["States"]
    cycles = [(c, schedule_of(states, c)) for c in loops(states)]
    worst = 0
    for path in paths(states, machine["StartAt"]):
        events = sum(
            state_events(states[n], poll, map_wait(path, max_wait) if n in MAPS else max_wait)
            for n in path
        )
        for cycle, schedule in cycles:
            if cycle & set(path):
                extra = checks(schedule, poll, max_wait) - 1  # the path holds one pass already
                events += extra * sum(state_events(states[n], poll, max_wait) for n in cycle)
        worst = max(worst, events)
    return worst


def execution_events(definition: dict[str, Any], poll: int, max_wait: int) -> int:
    return 2 + worst_events(definition, poll, max_wait)


def test_loops_are_the_two_poll_loops_with_back_off(definition):
    top = loops(definition["States"])
    inner = loops(definition["States"]["SummarizeEachModel"]["ItemProcessor"]["States"])
    assert top == [{"TrainingStatus", "TrainingDone", "NextTrainingWait", "WaitForTraining"}]
    assert inner == [{"TransformStatus", "TransformDone", "NextTransformWait", "WaitForTransform"}]
    inner_states = definition["States"]["SummarizeEachModel"]["ItemProcessor"]["States"]
    for states, cycle in ((definition["States"], top[0]), (inner_states, inner[0])):
        assert schedule_of(states, cycle) == "linear"


def test_schedule_arithmetic():
    # waits 60, 120, 180, ...: checks at 0, 60, 180, 360, ...
    assert checks("linear", 60, 60) == 3  # t=0, t=60 (not yet > 60), t=180
    assert checks("linear", 60, 59) == 2
    assert checks("constant", 60, 172800) == 2882
    assert checks("linear", 60, 172800) == 77
    assert checks("linear", 1, 172800) == 589


def test_worst_case_history_is_under_the_limit_for_every_parameter_value(definition, parameters):
    poll = parameters["PollSeconds"]
    wait = parameters["MaxWaitSeconds"]
    polls = {int(poll["MinValue"]), 2, 5, int(poll["Default"]), int(poll["MaxValue"])}
    waits = {int(wait["MinValue"]), int(wait["Default"]), int(wait["MaxValue"])}
    worst = max(execution_events(definition, p, w) for p in polls for w in waits)
    # Fewer checks with a longer poll or a shorter wait: the corner is the worst case.
    corner = execution_events(definition, int(poll["MinValue"]), int(wait["MaxValue"]))
    assert worst == corner
    assert corner < HISTORY_LIMIT, corner
    assert corner > 20_000  # the bound is tight on purpose: 48 h at a 1 s poll, all retries


def test_without_back_off_the_same_bounds_would_blow_the_history(definition, parameters):
    """The defect the back-off fixes: 60 s polls for 48 h are 2,880 checks per job."""
    flat = json.loads(json.dumps(definition))
    for states in (flat["States"], flat["States"]["SummarizeEachModel"]["ItemProcessor"]["States"]):
        for name in [n for n, s in states.items() if n.startswith("Next") and s["Type"] == "Pass"]:
            wait = states[name]["Next"]
            for state in states.values():
                for key in ("Next", "Default"):
                    if state.get(key) == name:
                        state[key] = wait
            del states[name]
            states[wait]["SecondsPath"] = "$.poll_seconds"
    assert execution_events(flat, 60, 172800) > HISTORY_LIMIT


def test_every_jobs_max_runtime_is_within_the_wait_bound(parameters):
    bound = int(parameters["MaxWaitSeconds"]["MaxValue"])
    assert bound == jumpstart.MAX_RUNTIME_SECONDS
    spec = load_spec("jumpstart-flan-t5-xl", region="us-east-1")
    assert spec.training["max_run_seconds"] > bound  # the metadata's 100 h would outlive us
    request = jumpstart.build_training_request(
        spec,
        job_name="radimpress-ft-x",
        role_arn="arn:aws:iam::123456789012:role/r",
        train_uri="s3://b/t/",
        output_uri="s3://b/o",
        region="us-east-1",
    )
    assert request["StoppingCondition"]["MaxRuntimeInSeconds"] <= bound
    for local in ("local-restate", "local-retrieval"):
        request = jumpstart.build_training_request(
            load_spec(local),
            job_name="radimpress-ft-x",
            role_arn="arn:aws:iam::123456789012:role/r",
            train_uri="s3://b/t/",
            output_uri="s3://b/o",
            region="us-east-1",
        )
        assert request["StoppingCondition"]["MaxRuntimeInSeconds"] <= bound


class StillRunning:
    def __init__(self) -> None:
        self.stopped: list[str] = []

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return {"TrainingJobStatus": "InProgress"}

    def stop_training_job(self, TrainingJobName: str) -> None:
        self.stopped.append(TrainingJobName)


def test_a_job_still_running_at_the_bound_is_stopped_and_recorded(definition):
    sagemaker = StillRunning()
    with pytest.raises(JobWaitExceeded, match="asked it to stop"):
        check_job(
            sagemaker,
            "training",
            "radimpress-ft-x",
            started_epoch=0,
            max_wait_seconds=172800,
            now=lambda: 172801.0,
        )
    assert sagemaker.stopped == ["radimpress-ft-x"]
    # JobWaitExceeded is caught into RecordFailure (training) or ModelFailed -> ... ->
    # RecordFailure (transform), never retried as transient.
    states = definition["States"]
    inner = states["SummarizeEachModel"]["ItemProcessor"]["States"]
    for state, target in (
        (states["TrainingStatus"], "RecordFailure"),
        (inner["TransformStatus"], "ModelFailed"),
    ):
        assert all("JobWaitExceeded" not in r["ErrorEquals"] for r in state["Retry"])
        assert [c["Next"] for c in state["Catch"] if "States.ALL" in c["ErrorEquals"]] == [target]
    assert "RecordFailure" in reachable(states, "AnyModelFailed")
