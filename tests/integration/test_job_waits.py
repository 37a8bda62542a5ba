"""Wait states polling a local job end when the job does (``embedded.job_waits``).

A real state machine in moto's interpreter, shaped like the pipeline's WaitForTransform (a Wait
with ``SecondsPath: $.job.wait.seconds`` whose input names the job in ``$.job``): the wait ends
when the job's event is set, not before; a Wait naming no job, or a job the hook does not know,
waits its seconds as Step Functions does; a stopped execution's wait ends too.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

from radimpress_workstation.embedded import job_waits
from radimpress_workstation.embedded.moto_config import MOTO_CONFIG

pytestmark = pytest.mark.usefixtures("socket_disabled")

DEFINITION = {
    "StartAt": "WaitForTransform",
    "States": {
        "WaitForTransform": {"Type": "Wait", "SecondsPath": "$.job.wait.seconds", "End": True}
    },
}


@pytest.fixture
def machine():
    """(Step Functions client, state machine ARN, the events the hook answers by job name)."""
    events: dict[str, threading.Event] = {}
    with mock_aws(config=MOTO_CONFIG):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="waits",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/waits",
        )["stateMachineArn"]
        job_waits.install(lambda kind, name: events.get(name) if kind == "transform" else None)
        try:
            yield sfn, arn, events
        finally:
            job_waits.uninstall()


def start(sfn, arn: str, seconds: int, job: dict | None = None) -> str:
    state = {"job": {**(job or {}), "wait": {"seconds": seconds}}}
    return sfn.start_execution(stateMachineArn=arn, input=json.dumps(state))["executionArn"]


def finished_within(sfn, execution: str, seconds: float) -> tuple[str, float]:
    """(status, seconds from now until it was no longer RUNNING, or the limit)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        status = sfn.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            return status, time.monotonic() - started
        time.sleep(0.05)
    return "RUNNING", seconds


def test_a_wait_on_a_job_ends_when_the_job_ends(machine):
    sfn, arn, events = machine
    events["tf-1"] = threading.Event()
    execution = start(sfn, arn, 30, {"kind": "transform", "job_name": "tf-1"})
    assert finished_within(sfn, execution, 0.6)[0] == "RUNNING"  # the job has not ended
    events["tf-1"].set()
    status, after = finished_within(sfn, execution, 20)
    assert status == "SUCCEEDED" and after < 10  # not the 30 s the state asked for


def test_a_wait_on_a_job_that_already_ended_ends_at_once(machine):
    sfn, arn, events = machine
    events["tf-2"] = threading.Event()
    events["tf-2"].set()  # the job ended between the status check and the Wait
    status, after = finished_within(
        sfn, start(sfn, arn, 30, {"kind": "transform", "job_name": "tf-2"}), 20
    )
    assert status == "SUCCEEDED" and after < 10


@pytest.mark.parametrize(
    "job",
    [
        None,  # no job in the input
        {"kind": "transform", "job_name": "unknown"},  # a job the hook does not know
        {"kind": "bedrock", "job_name": "tf-3"},  # another kind of job (a Bedrock batch job)
    ],
)
def test_other_waits_wait_their_seconds(machine, job):
    sfn, arn, events = machine
    events["tf-3"] = threading.Event()
    events["tf-3"].set()
    started = time.monotonic()
    status, _ = finished_within(sfn, start(sfn, arn, 2, job), 10)
    assert status == "SUCCEEDED"
    assert time.monotonic() - started >= 1.9


def test_stopping_the_execution_ends_a_wait_on_a_running_job(machine):
    sfn, arn, events = machine
    events["tf-4"] = threading.Event()  # never set: the job runs on
    before = threading.active_count()
    execution = start(sfn, arn, 30, {"kind": "transform", "job_name": "tf-4"})
    time.sleep(0.5)
    sfn.stop_execution(executionArn=execution)
    assert finished_within(sfn, execution, 5)[0] == "ABORTED"
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before  # the waiting thread is gone, not asleep for 30 s


def test_uninstall_gives_moto_its_wait_back():
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    original = wait_function.WaitFunction.__dict__["_wait_interval"]
    job_waits.install(lambda kind, name: None)
    assert wait_function.WaitFunction.__dict__["_wait_interval"] is not original
    job_waits.uninstall()
    assert wait_function.WaitFunction.__dict__["_wait_interval"] is original


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"job": {"kind": "training", "job_name": "ft-1", "wait": {}}}, ("training", "ft-1")),
        ({"job": {"kind": "training"}}, None),
        ({"job": "ft-1"}, None),
        ({}, None),
        ([1, 2], None),
    ],
)
def test_polled_job_reads_the_pipelines_job_fields(state, expected):
    assert job_waits.polled_job(state) == expected
