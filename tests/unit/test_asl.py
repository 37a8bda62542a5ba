"""Static checks of statemachine/pipeline.asl.json against what moto and Step Functions accept.

Validity is statelint's to judge: moto's CreateStateMachine stores any definition (even one that
is not JSON) as ACTIVE, so a moto round trip of the definition proves nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from statelint.linter import Linter

from radimpress_workstation.embedded.template import load

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "pipeline.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
REQUIRED_RETRY = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "TransientAwsError",
}

pytestmark = pytest.mark.usefixtures("socket_disabled")


@pytest.fixture(scope="module")
def text() -> str:
    return ASL.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def definition(text: str) -> dict[str, Any]:
    return json.loads(text)


@pytest.fixture(scope="module")
def substitutions() -> dict[str, Any]:
    template = load(ROOT / "template.yaml")
    return template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]


def walk(states: dict[str, Any], inside_map: bool = False) -> Iterator[tuple[str, dict, bool]]:
    """(name, state, inside a Map) for every state, nested ones included."""
    for name, state in states.items():
        yield name, state, inside_map
        if state["Type"] == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            yield from walk(processor["States"], True)
        for branch in state.get("Branches", []):
            yield from walk(branch["States"], inside_map)


def filled(text: str) -> dict[str, Any]:
    """The definition with every ${Name} replaced by a function ARN, as CloudFormation does."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function:radimpress-{}"
    return json.loads(PLACEHOLDER.sub(lambda m: arn.format(m.group(1)), text))


def test_every_placeholder_has_a_substitution_and_none_is_unused(text, substitutions):
    used = set(PLACEHOLDER.findall(text))
    assert used, "the definition should take its function ARNs from DefinitionSubstitutions"
    assert used == set(substitutions)
    assert "$${" not in text and not re.search(r"\$\{[^}]*[^A-Za-z0-9_}]", text)


def test_statelint_passes_with_substitutions_filled_in(text):
    assert Linter.validate(filled(text)) == []


def test_statelint_would_catch_a_broken_transition(text):
    broken = filled(text)
    broken["States"]["Ingest"]["Next"] = "NoSuchState"
    assert any("NoSuchState" in problem for problem in Linter.validate(broken))


def test_every_task_retries_transient_errors(definition):
    tasks = [(n, s) for n, s, _ in walk(definition["States"]) if s["Type"] == "Task"]
    assert len(tasks) == 11  # Promote included
    for name, state in tasks:
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert retried >= REQUIRED_RETRY, name
        for rule in state["Retry"]:
            assert isinstance(rule["IntervalSeconds"], int), name  # moto: whole seconds only
            assert rule["MaxAttempts"] >= 2, name


def test_every_task_is_caught_into_record_failure(definition):
    """Top-level Tasks catch States.ALL into RecordFailure; Tasks inside the Map catch it into
    ModelFailed (keeping the iteration's input), so one model's failure keeps the others'
    results; the Map keeps its own Catch. A failed model still fails the run after Publish."""
    states = definition["States"]
    for name, state, inside_map in walk(states):
        if state["Type"] not in ("Task", "Map"):
            continue
        catches = state.get("Catch", [])
        assert any(c["ErrorEquals"] == ["States.ALL"] for c in catches), name
        target = catches[0]["Next"]
        if inside_map:
            assert target == "ModelFailed", name
            assert catches[0]["ResultPath"] == "$.error", name
            continue
        if name == "RecordFailure":
            assert target == "PipelineFailed"
            continue
        assert target == "RecordFailure", name
        assert catches[0]["ResultPath"] == "$.error", name
    inner = states["SummarizeEachModel"]["ItemProcessor"]["States"]
    assert inner["ModelFailed"]["Type"] == "Pass" and inner["ModelFailed"].get("End") is True
    assert inner["ModelFailed"]["Parameters"]["failed"] is True
    assert states["Publish"]["Next"] == "AnyModelFailed"
    choice = states["AnyModelFailed"]
    assert choice["Choices"][0]["Variable"] == "$.published.failed"
    assert choice["Choices"][0]["Next"] == "ModelsFailed" and choice["Default"] == "Done"
    assert states["ModelsFailed"]["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == "PipelineFailed"
    assert states["PipelineFailed"]["Type"] == "Fail"


def test_only_lambda_tasks_jsonpath_and_whole_second_waits(definition, text):
    assert "QueryLanguage" not in text and "Assign" not in text  # moto has no JSONata
    for name, state, _ in walk(definition["States"]):
        if state["Type"] == "Task":
            assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
            assert ".sync" not in state["Resource"] and ".waitForTaskToken" not in state["Resource"]
        if state["Type"] == "Wait":
            assert state == {
                "Type": "Wait",
                "SecondsPath": "$.job.wait.seconds",  # whole seconds: MathAdd of integers
                "Next": state["Next"],
            }


@pytest.mark.parametrize(
    "path, start, status, done, backoff, wait, after",
    [
        (
            (),
            "StartTraining",
            "TrainingStatus",
            "TrainingDone",
            "NextTrainingWait",
            "WaitForTraining",
            "RegisterModel",
        ),
        (
            ("SummarizeEachModel",),
            "StartTransform",
            "TransformStatus",
            "TransformDone",
            "NextTransformWait",
            "WaitForTransform",
            "Score",
        ),
    ],
)
def test_poll_loops_check_at_once_and_wait_only_while_running(
    definition, path, start, status, done, backoff, wait, after
):
    """Start -> Status -> Choice(Completed -> next; else back-off -> Wait -> Status): a job that
    has already finished is not waited on; the n-th wait on a running one is n x poll_seconds."""
    states = definition["States"]
    for name in path:
        states = states[name]["ItemProcessor"]["States"]
    assert states[start]["Next"] == status
    assert states[status]["Next"] == done
    choice = states[done]
    assert choice["Type"] == "Choice" and choice["Default"] == backoff
    assert states[start]["ResultSelector"]["wait"] == {"seconds": 0}
    assert states[backoff] == {
        "Type": "Pass",
        "Comment": states[backoff]["Comment"],
        "Parameters": {"seconds.$": "States.MathAdd($.job.wait.seconds, $.poll_seconds)"},
        "ResultPath": "$.job.wait",
        "Next": wait,
    }
    assert [(c["Variable"], c["StringEquals"], c["Next"]) for c in choice["Choices"]] == [
        ("$.job_status.status", "Completed", after)
    ]
    assert states[wait]["Next"] == status
    # The Wait is entered from the Choice's default only: never before the first check.
    into_backoff = [n for n, s, _ in walk(states) if backoff in (s.get("Next"), s.get("Default"))]
    assert into_backoff == [done]
    into_wait = [n for n, s, _ in walk(states) if wait in (s.get("Next"), s.get("Default"))]
    assert into_wait == [backoff]
    payload = states[status]["Parameters"]["Payload"]
    assert payload["max_wait_seconds.$"] == "$.max_wait_seconds"  # the loop is bounded
    assert payload["started_epoch.$"] == "$.job.started_epoch"  # from the start, not the check


def test_map_concurrency_is_bounded(definition):
    assert definition["States"]["SummarizeEachModel"]["MaxConcurrency"] <= 4


def test_routes_and_run_id(definition):
    route = definition["States"]["Route"]
    assert {c["StringEquals"]: c["Next"] for c in route["Choices"]} == {
        "train": "StartTraining",
        "infer": "ResolveModels",
        "duplicate": "Duplicate",
    }
    payload = definition["States"]["Ingest"]["Parameters"]["Payload"]
    assert payload["run_id.$"] == "$$.Execution.Name"


def test_states_carry_no_report_text(definition, text):
    """Only ids, keys and counts are selected from Lambda results into the state."""
    for word in ("findings", "impression", "reference", "text"):
        assert f'"{word}' not in text, word
    score = definition["States"]["SummarizeEachModel"]["ItemProcessor"]["States"]["Score"]
    # job_usage: the transform job's instances, times and seconds (run lineage), no text
    assert set(score["ResultSelector"]) == {
        "model_key.$",
        "score_key.$",
        "scored.$",
        "generated.$",
        "job_usage.$",
        "rejected.$",  # a Bedrock model's records without an answer: a count and a key
        "rejected_key.$",
        "rouge_l_mean.$",  # the promotion gate's two figures (numbers, no text)
        "clinical_f1_mean.$",
    }
    for name, state, _ in walk(definition["States"]):
        if state["Type"] == "Task" and name != "RecordFailure":
            assert "ResultSelector" in state, name
