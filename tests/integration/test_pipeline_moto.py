"""The real state machine on moto's ASL interpreter, real handlers in-process, moto SageMaker.

moto's SageMaker marks jobs Completed at once and writes nothing, so the client the handlers get
is wrapped: CreateTrainingJob also writes the job's model.tar.gz and CreateTransformJob writes the
``.out`` file (each output echoes the first sentence of the findings in its prompt). The wrapper
can also fail a training job with a FailureReason or throttle DescribeTrainingJob, to drive the
Catch and Retry paths, and keep a job ``InProgress`` for its first status checks, to drive the
Wait loop (jobs moto completes at once are checked right after they start and never waited on).
Assertions follow the execution history, not just the final status.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import aws_xray_sdk.core  # noqa: F401  (opens its UDP emitter socket on import: before sockets are blocked)
import pytest
from botocore.exceptions import ClientError

from radimpress import clients
from radimpress_workstation.embedded.stack import EmbeddedStack
from radimpress_workstation.job_backend.registry import WithRegistryDouble

pytestmark = pytest.mark.usefixtures("socket_disabled")

REAL_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REASON = "AlgorithmError: ExecuteUserScriptError: CUDA out of memory"


class SageMakerWithOutputs(WithRegistryDouble):
    """moto's SageMaker client (its Model Registry behind the registry double), plus the outputs
    real jobs would leave in S3."""

    def __init__(self, client: Any, s3: Any) -> None:
        super().__init__(client)
        self._s3 = s3
        self.fail_training: str | None = None
        self.fail_transform: str | None = None
        self.fail_transform_jobs: int | None = None  # fail only the first N jobs described
        self._failed_transforms: set[str] = set()
        self.throttle_describes = 0
        self.describe_calls = 0
        self.in_progress_checks = 0  # each job answers InProgress to this many describes first
        self._checks: dict[str, int] = {}
        self.stopped: list[str] = []

    def create_training_job(self, **request: Any) -> dict:
        response = self._client.create_training_job(**request)
        artifact = self._client.describe_training_job(TrainingJobName=request["TrainingJobName"])[
            "ModelArtifacts"
        ]["S3ModelArtifacts"]
        bucket, key = artifact[len("s3://") :].split("/", 1)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            data = json.dumps({"trained_on": request["InputDataConfig"][0]["ChannelName"]}).encode()
            info = tarfile.TarInfo("config.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        self._s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return response

    def describe_training_job(self, **kwargs: Any) -> dict:
        self.describe_calls += 1
        if self.throttle_describes:
            self.throttle_describes -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "DescribeTrainingJob",
            )
        job = self._client.describe_training_job(**kwargs)
        if self.fail_training:
            job.update(TrainingJobStatus="Failed", FailureReason=self.fail_training)
        elif self._still_running(kwargs["TrainingJobName"]):
            job["TrainingJobStatus"] = "InProgress"
        return job

    def describe_transform_job(self, **kwargs: Any) -> dict:
        job = self._client.describe_transform_job(**kwargs)
        name = kwargs["TransformJobName"]
        if self.fail_transform and self.fail_transform_jobs is not None:
            if name in self._failed_transforms or (
                len(self._failed_transforms) < self.fail_transform_jobs
            ):
                self._failed_transforms.add(name)
                job.update(TransformJobStatus="Failed", FailureReason=self.fail_transform)
        elif self.fail_transform:
            job.update(TransformJobStatus="Failed", FailureReason=self.fail_transform)
        elif self._still_running(kwargs["TransformJobName"]):
            job["TransformJobStatus"] = "InProgress"
        return job

    def _still_running(self, name: str) -> bool:
        """True for the first ``in_progress_checks`` describes of each job (moto has none)."""
        seen = self._checks[name] = self._checks.get(name, 0) + 1
        return seen <= self.in_progress_checks

    def stop_training_job(self, **kwargs: Any) -> dict:  # moto has no StopTrainingJob
        self.stopped.append(kwargs["TrainingJobName"])
        return {}

    def create_transform_job(self, **request: Any) -> dict:
        response = self._client.create_transform_job(**request)
        source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, key = source[len("s3://") :].split("/", 1)
        lines = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        out = []
        for line in filter(None, lines):
            record = json.loads(line)
            prompt = record["inputs"]["text_inputs"]
            findings = prompt.split("Findings:", 1)[-1].strip()
            first = findings.split(".")[0].strip() + "."
            out.append(
                {"study_id": record["study_id"], "SageMakerOutput": {"generated_texts": [first]}}
            )
        target = request["TransformOutput"]["S3OutputPath"].rstrip("/")
        out_bucket, prefix = target[len("s3://") :].split("/", 1)
        body = "".join(json.dumps(o) + "\n" for o in out).encode()
        self._s3.put_object(
            Bucket=out_bucket, Key=f"{prefix}/{key.rsplit('/', 1)[-1]}.out", Body=body
        )
        return response


@pytest.fixture(scope="module")
def stack():
    with EmbeddedStack(
        REAL_TEMPLATE,
        parameters={"PollSeconds": "1", "MaxWaitSeconds": "120"},
        retry_scale=0.0,
        stack_name="radimpress-it",
    ) as stack:
        yield stack


@pytest.fixture
def sagemaker(stack):
    wrapper = SageMakerWithOutputs(stack.client("sagemaker"), stack.client("s3"))
    clients.override("sagemaker", lambda: wrapper)
    yield wrapper
    clients.reset()


def reports(n: int, *, impressions: bool, prefix: str) -> bytes:
    rows = []
    for i in range(n):
        row = {"study_id": f"{prefix}{i}", "findings": f"Lungs are clear {i}. Heart is normal."}
        if impressions:
            row["impression"] = f"Lungs are clear {i}."
        rows.append(row)
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def run(stack, key: str, body: bytes):
    stack.upload(key, body)
    return stack.wait(stack.start_execution(key), timeout=120)


def lines(stack, key: str) -> list[dict]:
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return [json.loads(x) for x in body.decode().splitlines() if x.strip()]


def test_training_then_inference_with_and_without_references(stack, sagemaker):
    train = run(stack, "incoming/train/demo/train.jsonl", reports(6, impressions=True, prefix="t"))
    assert train.status == "SUCCEEDED", (train.error, train.cause)
    # moto's job is Completed at once: checked right after the start, never waited on.
    assert train.visited == [
        "Ingest", "Route", "StartTraining", "TrainingStatus", "TrainingDone",
        "RegisterModel", "GateOnHeldOutStudies", "NoHeldOutStudies", "Promote", "Publish",
        "AnyModelFailed", "Done",
    ]  # fmt: skip
    assert "RecordFailure" not in train.visited
    assert train.output["ingest"]["route"] == "train"
    job = train.output["job"]["job_name"]
    described = stack.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert described["HyperParameters"]["epochs"] == '"3"'
    assert described["HyperParameters"]["sagemaker_program"] == '"transfer_learning.py"'
    assert train.output["model"]["model_name"] == job
    channel = stack.client("s3").list_objects_v2(
        Bucket=stack.bucket, Prefix=f"runs/{train.name}/train/data/"
    )["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in channel) == ["template.json", "train.jsonl"]

    scored = run(stack, "incoming/infer/demo/dev.jsonl", reports(4, impressions=True, prefix="d"))
    assert scored.status == "SUCCEEDED", (scored.error, scored.cause)
    assert scored.visited.count("StartTransform") == 2  # pre-trained and fine-tuned
    assert scored.visited.count("TransformStatus") == 2  # one check each: already Completed
    assert "WaitForTransform" not in scored.visited
    assert scored.visited.count("Score") == 2
    assert {s["model_key"]: s["scored"] for s in scored.output["scores"]} == {
        "pre-trained": 4,
        "fine-tuned": 4,
    }
    rows = lines(stack, scored.output["scores"][0]["score_key"])
    assert [r["study_id"] for r in rows] == ["d0", "d1", "d2", "d3"]
    assert rows[0]["generated"] == "Lungs are clear 0."
    assert rows[0]["rouge1"]["fmeasure"] == 1.0  # the echo equals the reference
    assert scored.output["published"]["summary_key"].startswith("results/")

    summarize = run(
        stack, "incoming/infer/site/batch.jsonl", reports(3, impressions=False, prefix="b")
    )
    assert summarize.status == "SUCCEEDED", (summarize.error, summarize.cause)
    assert summarize.output["ingest"]["has_references"] is False
    assert {s["scored"] for s in summarize.output["scores"]} == {0}
    assert {s["generated"] for s in summarize.output["scores"]} == {3}
    rows = lines(stack, summarize.output["scores"][0]["score_key"])
    assert rows[0]["rouge1"] is None and rows[0]["generated"] == "Lungs are clear 0."
    for execution in (train, scored, summarize):  # states carry keys and counts, never text
        assert "Heart is normal" not in json.dumps(execution.history, default=str)


def test_every_record_ends_in_results_or_rejected(stack, sagemaker):
    body = (
        reports(3, impressions=True, prefix="m")
        + b'{"study_id": "m0", "findings": "dup"}\nnot json\n'
    )
    result = run(stack, "incoming/infer/mixed/file.jsonl", body)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    ingest = result.output["ingest"]
    assert (ingest["records"], ingest["rejected"]) == (3, 2)
    rejected = lines(stack, ingest["rejected_key"])
    assert [(r["position"], r["field"]) for r in rejected] == [(4, "study_id"), (5, None)]
    for score in result.output["scores"]:
        assert len(lines(stack, score["score_key"])) == 3


def test_failed_training_job_takes_the_catch_path(stack, sagemaker):
    sagemaker.fail_training = REASON
    result = run(stack, "incoming/train/demo/fails.jsonl", reports(2, impressions=True, prefix="f"))
    assert result.status == "FAILED"
    assert result.error == "PipelineFailed"
    assert result.visited[-3:] == ["TrainingStatus", "RecordFailure", "PipelineFailed"]
    failures = result.task_failures()
    assert [(state, error) for state, error, _ in failures] == [("TrainingStatus", "JobFailed")]
    assert REASON in failures[0][2]
    record = json.loads(
        stack.client("s3")
        .get_object(Bucket=stack.bucket, Key=f"runs/{result.name}/failure.json")["Body"]
        .read()
    )
    assert record["error"] == "JobFailed"
    assert REASON in record["message"]
    assert "RegisterModel" not in result.visited


def test_unreadable_upload_fails_at_ingest_with_the_file_named(stack, sagemaker):
    result = run(stack, "incoming/infer/bad/file.json", b"<html>")
    assert result.status == "FAILED"
    assert result.visited == ["Ingest", "RecordFailure", "PipelineFailed"]
    ((state, error, cause),) = result.task_failures()
    assert (state, error) == ("Ingest", "InputFileError")
    assert "incoming/infer/bad/file.json" in cause


def test_throttled_status_call_takes_the_retry_path(stack, sagemaker):
    sagemaker.throttle_describes = 2
    result = run(stack, "incoming/train/demo/slow.jsonl", reports(2, impressions=True, prefix="s"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    failures = result.task_failures()
    assert [(s, e) for s, e, _ in failures] == [("TrainingStatus", "TransientAwsError")] * 2
    assert "RecordFailure" not in result.visited
    assert result.visited.count("TrainingStatus") == 1  # retried inside the state, not re-entered


def test_failed_transform_inside_the_map_keeps_the_other_models_results(stack, sagemaker):
    """A Task failing inside the Map is caught in its iteration (ModelFailed): the other
    model's results are published, RecordFailure names the failed model with SageMaker's
    FailureReason, and the execution still FAILS."""
    assert run(
        stack, "incoming/train/demo/a.jsonl", reports(3, impressions=True, prefix="a")
    ).status == ("SUCCEEDED")
    sagemaker.fail_transform = "ClientError: model container failed the ping health check"
    sagemaker.fail_transform_jobs = 1  # one of the two models (pre-trained, fine-tuned)
    result = run(stack, "incoming/infer/demo/t.jsonl", reports(2, impressions=True, prefix="x"))
    assert result.status == "FAILED" and result.error == "PipelineFailed"
    assert result.visited[-5:] == [
        "Publish",
        "AnyModelFailed",
        "ModelsFailed",
        "RecordFailure",
        "PipelineFailed",
    ]
    assert "ModelFailed" in result.visited
    failures = result.task_failures()
    assert {(s, e) for s, e, _ in failures} == {("TransformStatus", "JobFailed")}
    published = [
        json.loads(e["stateExitedEventDetails"]["output"])["published"]
        for e in result.history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Publish"
    ]
    assert len(published) == 1 and published[0]["summary_key"]
    assert published[0]["failed"] == len(published[0]["failed_models"]) == 1
    failed_keys = {m["model_key"] for m in published[0]["failed_models"]}
    assert {m["error"] for m in published[0]["failed_models"]} == {"JobFailed"}
    s3 = stack.client("s3")
    scores = s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"runs/{result.name}/scores/")
    score_keys = {o["Key"].rsplit("/", 1)[-1][:-6] for o in scores.get("Contents", [])}
    assert score_keys and not (score_keys & failed_keys)
    parquet = s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/scores/")
    assert any(result.name in o["Key"] for o in parquet.get("Contents", []))
    key = f"runs/{result.name}/failure.json"
    record = json.loads(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    assert record["error"] == "ModelFailed"
    assert {m["model_key"] for m in record["failed_models"]} == failed_keys
    for model in record["failed_models"]:
        assert model["error"] == "JobFailed"
        assert "failed the ping health check" in model["message"]


def _waits(result) -> list[float]:
    """Seconds each Wait state took, from the history's entered/exited timestamps."""
    entered = [e["timestamp"] for e in result.history if e["type"] == "WaitStateEntered"]
    exited = [e["timestamp"] for e in result.history if e["type"] == "WaitStateExited"]
    return [(b - a).total_seconds() for a, b in zip(entered, exited, strict=True)]


def test_a_running_training_job_is_waited_on_and_checked_again(stack, sagemaker):
    """The poll loop: check at once, then Wait poll_seconds and check again while InProgress."""
    sagemaker.in_progress_checks = 2
    result = run(stack, "incoming/train/demo/poll.jsonl", reports(2, impressions=True, prefix="p"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    check = ["TrainingStatus", "TrainingDone"]
    assert result.visited == [
        "Ingest", "Route", "StartTraining",
        *check, "NextTrainingWait", "WaitForTraining",
        *check, "NextTrainingWait", "WaitForTraining", *check,
        "RegisterModel", "GateOnHeldOutStudies", "NoHeldOutStudies", "Promote", "Publish",
        "AnyModelFailed", "Done",
    ]  # fmt: skip
    statuses = [
        json.loads(e["stateExitedEventDetails"]["output"])["job_status"]["status"]
        for e in result.history
        if e["type"] == "TaskStateExited" and e["state"] == "TrainingStatus"
    ]
    assert statuses == ["InProgress", "InProgress", "Completed"]
    waits = _waits(result)
    # Linear back-off from poll_seconds=1 in the input: the n-th wait is n seconds.
    assert len(waits) == 2 and waits[0] >= 1.0 and waits[1] >= 2.0
    assert not sagemaker.stopped


def test_running_transform_jobs_are_waited_on_inside_the_map(stack, sagemaker):
    sagemaker.in_progress_checks = 1
    result = run(stack, "incoming/infer/demo/poll.jsonl", reports(2, impressions=True, prefix="q"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    items = len(result.output["scores"])
    assert items >= 1
    # Per model: check (InProgress), Wait, check (Completed), Score.
    assert result.visited.count("TransformStatus") == 2 * items
    assert result.visited.count("WaitForTransform") == items
    assert result.visited.count("Score") == items
    assert all(w >= 1.0 for w in _waits(result))


def test_a_job_running_past_max_wait_is_stopped_and_the_run_fails(stack, sagemaker):
    """The max-wait bound holds from the first check on: JobStatus stops the job and fails."""
    sagemaker.in_progress_checks = 1_000
    key = "incoming/train/demo/stuck.jsonl"
    stack.upload(key, reports(2, impressions=True, prefix="w"))
    arn = stack.start_execution(key, input_overrides={"max_wait_seconds": 1})
    result = stack.wait(arn, timeout=60)
    assert result.status == "FAILED" and result.error == "PipelineFailed"
    assert result.visited[-3:] == ["TrainingStatus", "RecordFailure", "PipelineFailed"]
    assert 1 <= result.visited.count("WaitForTraining") <= 2  # elapsed 2 s > 1 s at the latest
    failures = result.task_failures()
    assert [(s, e) for s, e, _ in failures] == [("TrainingStatus", "JobWaitExceeded")]
    assert len(sagemaker.stopped) == 1 and sagemaker.stopped[0] in failures[0][2]
    assert "RegisterModel" not in result.visited
