"""An execution stopped by hand (StopExecution) runs no RecordFailure; its "Step Functions
Execution Status Change" event reaches ReleaseStoppedRun through the template's own rule, which
releases the claim of a run that committed nothing, so a redelivery of the upload runs instead
of ending as Duplicate; a committed run stopped afterwards keeps its claim (issue 19).

The step's cases one by one are in tests/unit/test_release_stopped_run.py.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from pipeline_stack import pipeline_stack

from radimpress import claims, clients
from radimpress.layout import claim_key
from radimpress_workstation.embedded.stack import EmbeddedStack
from radimpress_workstation.job_backend.backend import local_job_backend
from radimpress_workstation.synthetic import generate_reports

RELEASE = "stop-release-stopped-run"


class HeldTraining:
    """The local job backend, except that training jobs read ``InProgress`` while ``held``:
    the execution stays in its training poll loop until the test stops it."""

    def __init__(self) -> None:
        self.held = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(local_job_backend(), name)

    def describe_training_job(self, **request: Any) -> dict[str, Any]:
        answer = local_job_backend().describe_training_job(**request)
        if self.held.is_set():
            answer = {**answer, "TrainingJobStatus": "InProgress"}
        return answer


@pytest.fixture(scope="module")
def held() -> HeldTraining:
    return HeldTraining()


@pytest.fixture(scope="module")
def stack(held):
    with pipeline_stack(
        "stop", {"ModelSpec": "local-retrieval"}, sagemaker=lambda: held
    ) as running:
        yield running


def upload(stack: EmbeddedStack, name: str) -> tuple[str, str]:
    key = f"incoming/train/stop/{name}.jsonl"
    rows = generate_reports(40, seed=len(name), prefix=name)  # too few to hold out: no gate
    version = stack.upload(key, "".join(json.dumps(r) + "\n" for r in rows).encode())
    return key, str(version["version_id"])


def claim_of(stack: EmbeddedStack, key: str, version: str) -> dict[str, Any]:
    where = claim_key(stack.bucket, key, version)
    return json.loads(stack.client("s3").get_object(Bucket=stack.bucket, Key=where)["Body"].read())


def notices(stack: EmbeddedStack, run_id: str) -> list[str]:
    from moto.sns.models import sns_backends

    topic_arn = stack.outputs["RunOutcomeTopicArn"]
    topic = sns_backends["123456789012"][stack.region].topics[topic_arn]
    return [n[2] for n in topic.sent_notifications if run_id in n[2]]


def entered(stack: EmbeddedStack, arn: str, state: str, timeout: float = 120.0) -> None:
    sfn, deadline = stack.client("stepfunctions"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        names = [e.get("stateEnteredEventDetails", {}).get("name") for e in history]
        if state in names:
            return
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        time.sleep(0.1)
    raise AssertionError(f"{arn} never entered {state}")


def stop(stack: EmbeddedStack, arn: str) -> None:
    """StopExecution as an operator would from the console, then wait for it to end."""
    sfn = stack.client("stepfunctions")
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped from the console")
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the stopped execution did not end"
        time.sleep(0.05)


def release_answers(stack: EmbeddedStack, run_id: str) -> list[dict[str, Any]]:
    found = []
    for result in stack.wait_for_events():
        if result["function"].endswith(f":{RELEASE}"):
            assert result["error"] is None, result
            answer = json.loads(result["answer"])
            if answer["run_id"] == run_id:
                found.append(answer)
    return found


def test_a_run_stopped_mid_training_is_released_and_a_redelivery_runs(stack, held):
    key, version = upload(stack, "aborted")
    held.held.set()
    try:
        first = stack.start_execution(key, name="aborted-1")
        entered(stack, first, "WaitForTraining")
        assert claims.state_of(claim_of(stack, key, version)) == claims.RUNNING
        stop(stack, first)
    finally:
        held.held.clear()
    assert stack.client("stepfunctions").describe_execution(executionArn=first)["status"] == (
        "ABORTED"
    )
    (answer,) = release_answers(stack, "aborted-1")
    assert (answer["status"], answer["action"]) == ("ABORTED", "released")
    claim = claim_of(stack, key, version)
    assert (claim["state"], claim["stopped"]) == (claims.FAILED, "ABORTED")
    failure = stack.client("s3").get_object(Bucket=stack.bucket, Key="runs/aborted-1/failure.json")
    record = json.loads(failure["Body"].read())
    assert (record["error"], record["message"]) == ("ExecutionAborted", "execution aborted")
    assert record["status"] == "ABORTED" and record["execution_arn"] == first
    assert notices(stack, "aborted-1") == ["radimpress run aborted-1 failed: ExecutionAborted"]

    # The same event delivered again: a new execution owns the upload and trains it.
    again = stack.wait(stack.start_execution(key, name="aborted-2"), timeout=300)
    assert again.succeeded, (again.error, again.cause)
    assert "Duplicate" not in again.visited and "StartTraining" in again.visited
    taken = claim_of(stack, key, version)
    assert (taken["run_id"], taken["state"]) == ("aborted-2", claims.COMMITTED)
    assert taken["previous"] == {"run_id": "aborted-1", "state": claims.FAILED}
    assert not stack.authorizer.denied  # ReleaseStoppedRun's calls all inside its policy


def test_a_committed_run_stopped_afterwards_keeps_its_claim(stack, monkeypatch):
    """Stopped while Publish sends its notice, after the commit: the claim stays committed, a
    redelivery is a Duplicate, and the run has exactly its one notice."""
    key, version = upload(stack, "committed")
    sending, stopped = threading.Event(), threading.Event()
    plain_sns = clients.sns

    class SlowSns:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def publish(self, **request: Any) -> Any:
            if "committed-1" in request.get("Subject", ""):
                sending.set()
                stopped.wait(30)
            return self.real.publish(**request)

    monkeypatch.setattr(clients, "sns", lambda: SlowSns(plain_sns()))
    first = stack.start_execution(key, name="committed-1")
    assert sending.wait(120), "Publish never notified"
    assert claim_of(stack, key, version)["state"] == claims.COMMITTED
    stack.client("stepfunctions").stop_execution(executionArn=first, cause="too late")
    stopped.set()
    deadline = time.monotonic() + 30
    while stack.client("stepfunctions").describe_execution(executionArn=first)["status"] == (
        "RUNNING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (answer,) = release_answers(stack, "committed-1")
    assert answer["status"] == "ABORTED" and answer["claim_released"] is False
    assert answer["action"] == "already-settled"  # Publish committed and notified
    assert claim_of(stack, key, version)["state"] == claims.COMMITTED
    assert len(notices(stack, "committed-1")) == 1
    duplicate = stack.wait(stack.start_execution(key, name="committed-2"), timeout=120)
    assert duplicate.succeeded and "Duplicate" in duplicate.visited
