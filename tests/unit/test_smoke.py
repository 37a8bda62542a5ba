"""`radimpress smoke`, offline: its requests pinned and its answers given by botocore's Stubber,
its clock a counter, so the whole follow-the-executions loop runs in milliseconds.

Shapes by hand from the API references: S3 PutObject (no ``ServerSideEncryption`` /
``SSEKMSKeyId``: the bucket policy of template.yaml denies only a header that names something
other than aws:kms and the data key, and a header-less write gets the bucket's default
encryption); Step Functions ListExecutions (most recent first), DescribeExecution (``status``
RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED, ``input``, ``output``, ``error``, ``cause``),
GetExecutionHistory (``reverseOrder``, ``nextToken``); SageMaker DescribeTrainingJob
(``BillableTimeInSeconds``) and DescribeTransformJob (``TransformStartTime`` /
``TransformEndTime``). The execution input is the template's EventBridge InputTemplate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aws_stubs import ACCOUNT, StubbedAws, patched_session

from radimpress.layout import parse_incoming_key
from radimpress_workstation.cli import main
from radimpress_workstation.commands import smoke
from radimpress_workstation.synthetic import generate_reports

STACK = "radimpress"
BUCKET = "radimpress-databucket-1a2b3c4d5e6f"
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:PipelineStateMachine-AbC123"
EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:PipelineStateMachine-AbC123:"
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TRAIN_KEY = "incoming/train/smoke/20261207T120000Z.jsonl"
INFER_KEY = "incoming/infer/smoke/20261207T120000Z.jsonl"
TRAINING_JOB = "radimpress-ft-0123456789abcdef0123"
TRANSFORM_JOB = "radimpress-tf-0123456789abcdef0123"


@pytest.fixture
def aws(monkeypatch) -> Iterator[StubbedAws]:
    fake = patched_session(monkeypatch, smoke)
    yield fake
    fake.close()


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """A clock that moves only when the command sleeps; the pauses it asked for."""
    now, pauses = [0.0], []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(smoke, "clock", lambda: now[0])
    monkeypatch.setattr(smoke, "sleep", sleep)
    monkeypatch.setattr(smoke, "utcnow", lambda: WHEN)
    return pauses


def run(*extra: str) -> int:
    argv = ["smoke", "--stack-name", STACK, "--region", "us-east-1", "--poll", "30"]
    return main([*argv, *extra])


def stack(aws: StubbedAws) -> None:
    summaries = [
        {
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": kind,
            "LastUpdatedTimestamp": WHEN,
            "ResourceStatus": "CREATE_COMPLETE",
        }
        for logical, kind, physical in (
            ("DataBucket", "AWS::S3::Bucket", BUCKET),
            ("PipelineStateMachine", "AWS::StepFunctions::StateMachine", MACHINE),
        )
    ]
    aws.add(
        "cloudformation",
        "list_stack_resources",
        {"StackResourceSummaries": summaries},
        {"StackName": STACK},
    )


def records(label: str) -> list[dict]:
    """What smoke uploads: the first 20 of 40 seeded synthetic reports train, the rest infer."""
    reports = generate_reports(40, seed=smoke.SEED, prefix="SMOKE")
    return reports[:20] if label == "train" else reports[20:]


def upload(aws: StubbedAws, key: str, label: str) -> None:
    body = "".join(json.dumps(r) + "\n" for r in records(label)).encode()
    # Matched whole: any ServerSideEncryption / SSEKMSKeyId parameter would fail the test.
    aws.add(
        "s3",
        "put_object",
        {"ETag": '"0123"', "VersionId": "v1"},
        {"Bucket": BUCKET, "Key": key, "Body": body},
    )


def listed(aws: StubbedAws, *executions: tuple[str, datetime], more: str = "") -> None:
    """One page of ListExecutions; ``more``: the token of an older page (never asked for)."""
    aws.add(
        "stepfunctions",
        "list_executions",
        {
            **({"nextToken": more} if more else {}),
            "executions": [
                {
                    "executionArn": EXECUTION + name,
                    "stateMachineArn": MACHINE,
                    "name": name,
                    "status": "RUNNING",
                    "startDate": started,
                }
                for name, started in executions
            ],
        },
        {"stateMachineArn": MACHINE},
    )


def described(aws: StubbedAws, name: str, status: str, key: str = "", **more) -> None:
    answer = {
        "executionArn": EXECUTION + name,
        "stateMachineArn": MACHINE,
        "status": status,
        "startDate": WHEN,
        "input": json.dumps({"bucket": BUCKET, "key": key, "version_id": "v1"}),
    }
    aws.add(
        "stepfunctions", "describe_execution", answer | more, {"executionArn": EXECUTION + name}
    )


def exited(number: int, state: str, output: dict) -> dict:
    return {
        "timestamp": WHEN,
        "type": "TaskStateExited",
        "id": number,
        "stateExitedEventDetails": {"name": state, "output": json.dumps(output)},
    }


def entered(number: int, state: str) -> dict:
    return {
        "timestamp": WHEN,
        "type": "TaskStateEntered",
        "id": number,
        "stateEnteredEventDetails": {"name": state, "input": "{}"},
    }


def history(aws: StubbedAws, name: str, *events: dict, after: str = "", more: str = "") -> None:
    """One page, newest first, as ``reverseOrder`` returns it; ``after`` is the token the
    request must carry, ``more`` the token of a next page."""
    expected: dict = {"executionArn": EXECUTION + name, "reverseOrder": True}
    expected |= {"nextToken": after} if after else {}
    answer = {"events": list(events)} | ({"nextToken": more} if more else {})
    aws.add("stepfunctions", "get_execution_history", answer, expected)


INGESTED = {"ingest": {"run_id": "run-train", "route": "train", "records": 20, "rejected": 0}}
TRAINING_STARTED = {"job": {"kind": "training", "job_name": TRAINING_JOB, "started_epoch": 1}}


def training_runs_then_succeeds(aws: StubbedAws) -> None:
    # Not listed yet on the first look (an older execution ends the listing), then listed.
    listed(aws, ("someone-else", WHEN), ("yesterday", WHEN - timedelta(days=1)))
    described(aws, "someone-else", "RUNNING", "incoming/infer/hospital-a/reports.jsonl")
    listed(aws, ("train-1", WHEN), ("someone-else", WHEN), ("yesterday", WHEN - timedelta(days=1)))
    described(aws, "train-1", "RUNNING", TRAIN_KEY)
    described(aws, "train-1", "RUNNING", TRAIN_KEY)
    history(
        aws,
        "train-1",
        exited(4, "StartTraining", TRAINING_STARTED),
        entered(3, "StartTraining"),
        exited(2, "Ingest", INGESTED),
    )
    output = INGESTED | {
        "model": {"model_name": TRAINING_JOB},
        "published": {"summary_key": "results/runs/run_date=2026-12-07/run-train.parquet"},
    }
    described(aws, "train-1", "SUCCEEDED", TRAIN_KEY, output=json.dumps(output))
    history(aws, "train-1", exited(6, "Publish", {}), entered(5, "Publish"), more="page-2")
    history(aws, "train-1", exited(4, "StartTraining", TRAINING_STARTED), after="page-2")


def inference_succeeds(aws: StubbedAws) -> None:
    listed(aws, ("infer-1", WHEN), ("train-1", WHEN))
    described(aws, "infer-1", "RUNNING", INFER_KEY)
    output = {"ingest": {"run_id": "run-infer", "route": "infer"}}
    described(aws, "infer-1", "SUCCEEDED", INFER_KEY, output=json.dumps(output))
    started = {"job": {"kind": "transform", "job_name": TRANSFORM_JOB, "started_epoch": 2}}
    history(aws, "infer-1", exited(2, "StartTransform", started), exited(1, "Ingest", output))


def training_job(aws: StubbedAws, status: str, **more) -> None:
    answer = {
        "TrainingJobName": TRAINING_JOB,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{TRAINING_JOB}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/models/{TRAINING_JOB}/output/"},
        "TrainingJobStatus": status,
        "SecondaryStatus": status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 172800},
        "CreationTime": WHEN,
        "ResourceConfig": {
            "InstanceType": "ml.p3.16xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 256,
        },
    }
    aws.add("sagemaker", "describe_training_job", answer | more, {"TrainingJobName": TRAINING_JOB})


def job_costs(aws: StubbedAws) -> None:
    training_job(aws, "Completed", BillableTimeInSeconds=1800)
    aws.add(
        "sagemaker",
        "describe_transform_job",
        {
            "TransformJobName": TRANSFORM_JOB,
            "TransformJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/x",
            "TransformJobStatus": "Completed",
            "ModelName": "radimpress-pt-0123456789abcdef0123",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}}
            },
            "TransformResources": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1},
            "CreationTime": WHEN,
            "TransformStartTime": WHEN,
            "TransformEndTime": WHEN + timedelta(minutes=12),
        },
        {"TransformJobName": TRANSFORM_JOB},
    )


def test_training_then_inference_followed_to_the_end(aws, slept, capsys) -> None:
    stack(aws)
    upload(aws, TRAIN_KEY, "train")
    training_runs_then_succeeds(aws)
    upload(aws, INFER_KEY, "infer")
    inference_succeeds(aws)
    job_costs(aws)
    assert run() == 0
    out = capsys.readouterr().out
    assert f"train: uploaded s3://{BUCKET}/{TRAIN_KEY} (20 reports)" in out
    assert f"train: execution {EXECUTION}train-1" in out
    assert "== train: SUCCEEDED" in out and "== infer: SUCCEEDED" in out
    assert f"registered model: {TRAINING_JOB}" in out
    assert f"result: s3://{BUCKET}/results/runs/run_date=2026-12-07/run-train.parquet" in out
    assert f"run files: s3://{BUCKET}/runs/run-infer/" in out
    # 1800 s at 28.152 $/h = $14.08; 720 s at 1.515 $/h = $0.30
    assert f"training job {TRAINING_JOB}: ml.p3.16xlarge x1, 1800 s, ~$14.08" in out
    assert f"transform job {TRANSFORM_JOB}: ml.g5.2xlarge x1, 720 s, ~$0.30" in out
    assert "total ~$14.38" in out
    assert out.count("<- StartTraining") == 1  # event 4 came back on the next page: not again
    assert slept == [30, 30]  # one look before the execution was listed, one while it ran
    for record in records("train") + records("infer"):  # synthetic, yet never printed
        assert record["findings"] not in out and record["impression"] not in out


def test_uploads_follow_the_incoming_layout() -> None:
    assert parse_incoming_key(TRAIN_KEY) == ("train", "smoke")
    assert parse_incoming_key(INFER_KEY) == ("infer", "smoke")


def test_a_failed_training_stops_before_the_inference_upload(aws, slept, capsys) -> None:
    stack(aws)
    upload(aws, TRAIN_KEY, "train")
    listed(aws, ("train-1", WHEN))
    described(aws, "train-1", "RUNNING", TRAIN_KEY)
    described(
        aws,
        "train-1",
        "FAILED",
        TRAIN_KEY,
        error="JobFailed",
        cause="training job radimpress-ft-...: ResourceLimitExceeded",
    )
    history(aws, "train-1", exited(2, "Ingest", INGESTED))
    assert run() == 1
    out = capsys.readouterr().out
    assert "== train: FAILED" in out and "error: JobFailed" in out
    assert "cause: training job radimpress-ft-...: ResourceLimitExceeded" in out
    assert f"failure record: s3://{BUCKET}/runs/run-train/failure.json" in out
    assert "infer: not uploaded, the run before did not succeed" in out


def test_a_run_still_going_at_the_deadline_times_out_cleanly(aws, slept, capsys) -> None:
    stack(aws)
    upload(aws, TRAIN_KEY, "train")
    listed(aws, ("train-1", WHEN))
    described(aws, "train-1", "RUNNING", TRAIN_KEY)
    for number in range(3):  # at 0, 30 and 60 s; the deadline is 60 s
        described(aws, "train-1", "RUNNING", TRAIN_KEY)
        events = [exited(2, "StartTraining", TRAINING_STARTED)] if number == 0 else []
        history(aws, "train-1", *events)
    training_job(aws, "InProgress")  # the cost estimate asks: no billable time yet
    assert run("--timeout", "60") == 1
    out = capsys.readouterr().out
    assert "== train: RUNNING" in out
    assert "timed out after 60 s, still RUNNING; it goes on" in out
    assert f"aws stepfunctions stop-execution --execution-arn {EXECUTION}train-1" in out
    assert f"aws sagemaker stop-training-job --training-job-name {TRAINING_JOB}" in out
    assert f"training job {TRAINING_JOB}: ml.p3.16xlarge x1, not finished" in out
    assert slept == [30, 30]


def test_an_upload_that_starts_no_execution_says_where_to_look(aws, slept, capsys) -> None:
    stack(aws)
    upload(aws, INFER_KEY, "infer")
    for _ in range(3):  # at 0, 30 and 60 s: only executions from before the upload, and the
        # listing stops there (newest first) instead of paging through older ones
        listed(aws, ("yesterday", WHEN - timedelta(days=1)), more="older-page")
    assert run("--infer-only", "--timeout", "60") == 1
    out = capsys.readouterr().out
    assert f"infer: no execution started for s3://{BUCKET}/{INFER_KEY} within 60 s" in out
    assert "UndeliveredUploadsAlarm" in out and "train" not in out


def test_a_missing_stack_is_an_unusable_argument(aws, slept, capsys) -> None:
    aws.error(
        "cloudformation",
        "list_stack_resources",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
        {"StackName": STACK},
    )
    assert run() == 2
    assert capsys.readouterr().err.strip() == (
        f"radimpress smoke: error: no such stack, stack {STACK} in us-east-1"
    )


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--records", "0", "--records must be at least 1, got 0"),
        ("--records", "10001", "--records is a smoke test's size (at most 10000), got 10001"),
        ("--timeout", "0", "--timeout must be at least 1, got 0"),
    ],
)
def test_unusable_numbers_exit_2(capsys, flag, value, said) -> None:
    assert run(flag, value) == 2
    assert capsys.readouterr().err.strip() == f"radimpress smoke: error: {said}"
