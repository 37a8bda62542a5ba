"""One run per object version, the latest-model pointer by compare-and-swap, the
transient-error path for every S3 call, and failure notifications that do not need S3.

Each test here fails when its guard is removed: the claim's If-None-Match, the pointer's order
and If-Match, aws_call around each call, the notification on RecordFailure's last attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_support import BUCKET, jsonl

from radimpress import claims, registry
from radimpress.errors import TransientAwsError, aws_call
from radimpress.events import ScoreResult
from radimpress.spec import load_spec
from radimpress.steps import ingest as ingest_step
from radimpress.steps import record_failure as record_failure_step
from radimpress.steps.resolve_models import resolve_models

REPORTS = [
    {"study_id": f"s{i}", "findings": f"Finding {i}.", "impression": f"Impression {i}."}
    for i in range(3)
]


def slow_down(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        operation,
    )


class CountingS3:
    """Passes calls to the real client; counts them, and throttles call number ``fail_at``."""

    def __init__(self, real: Any, fail_at: int | None = None) -> None:
        self.real, self.fail_at, self.calls = real, fail_at, []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)
        if not callable(method) or name.startswith("_") or name == "meta":
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.fail_at is not None and len(self.calls) - 1 == self.fail_at:
                raise slow_down(name)
            return method(*args, **kwargs)

        return call


def versioned(aws) -> None:
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


# ---- item 1: one run per object version ---------------------------------------------------


def test_second_delivery_of_a_version_is_a_duplicate_and_writes_nothing(aws):
    versioned(aws)
    key = "incoming/infer/demo/file.jsonl"
    version = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(REPORTS))["VersionId"]
    spec = load_spec()
    first = ingest_step.ingest(aws.s3, BUCKET, key, "run-1", spec, version_id=version)
    again = ingest_step.ingest(aws.s3, BUCKET, key, "run-1", spec, version_id=version)
    second = ingest_step.ingest(aws.s3, BUCKET, key, "run-2", spec, version_id=version)
    assert (first.route, again.route) == ("infer", "infer")  # a retried Ingest goes on
    assert (second.route, second.duplicate_of, second.records) == ("duplicate", "run-1", 0)
    assert first.claim_key == second.claim_key
    assert aws.keys("runs/run-2/") == []


def test_a_late_event_reads_the_version_it_names(aws):
    versioned(aws)
    key = "incoming/infer/demo/file.jsonl"
    old = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(REPORTS[:1]))["VersionId"]
    new = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(REPORTS))["VersionId"]
    spec = load_spec()
    late = ingest_step.ingest(aws.s3, BUCKET, key, "run-old", spec, version_id=old)
    latest = ingest_step.ingest(aws.s3, BUCKET, key, "run-new", spec, version_id=new)
    assert (late.route, late.records, late.version_id) == ("infer", 1, old)
    assert (latest.route, latest.records, latest.version_id) == ("infer", 3, new)


def test_a_failed_run_releases_its_claim_and_only_its_own(aws):
    versioned(aws)
    first = claims.claim(aws.s3, BUCKET, "incoming/x", "v1", "run-1")
    assert first.ours
    assert not claims.release(aws.s3, BUCKET, "incoming/x", "v1", "run-2")
    assert not claims.claim(aws.s3, BUCKET, "incoming/x", "v1", "run-2").ours
    assert claims.release(aws.s3, BUCKET, "incoming/x", "v1", "run-1")
    assert claims.claim(aws.s3, BUCKET, "incoming/x", "v1", "run-3").ours


# ---- item 2: which fine-tuned model is "the latest" (the Model Registry) -------------------


def approved_version(aws: Any, job: str, finished: datetime) -> str:
    """A package version as RegisterModel leaves it, then approved (by the gate or an operator)."""
    spec = load_spec()
    meta = {
        "training_job": job,
        "training_run_id": f"run-{job}",
        "sagemaker_model": job,
        "trained_at": finished.isoformat(timespec="microseconds"),
        "spec": spec.name,
        "model_id": spec.model_id,
    }
    package = aws.sagemaker.create_model_package(
        ModelPackageGroupName=registry.group_name("radimpress"),
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": f"s3://b/models/{job}.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=meta,
    )["ModelPackageArn"]
    registry.set_status(aws.sagemaker, package, registry.APPROVED)
    return package


def test_the_newest_finished_training_wins_whatever_order_registers(aws):
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    newer = approved_version(aws, "job-b", now + timedelta(seconds=5))
    approved_version(aws, "job-a", now)  # registered last (version 2), trained first
    latest = registry.latest_approved(aws.sagemaker, registry.group_name("radimpress"))
    assert latest is not None and latest.arn == newer and latest.metadata["training_job"] == "job-b"


def test_resolve_models_pins_the_fine_tuned_models_identity(aws):
    spec = load_spec()
    package = approved_version(aws, "ft-job", datetime(2026, 11, 24, tzinfo=UTC))
    models = resolve_models(
        aws.sagemaker,
        spec,
        prefix="radimpress",
        role_arn="arn:aws:iam::1:role/r",
        records_key="runs/r/ingest/records.jsonl",
        has_references=True,
    ).models
    fine_tuned = models[-1]
    assert (fine_tuned.model_name, fine_tuned.training_job, fine_tuned.training_run_id) == (
        "ft-job",
        "ft-job",
        "run-ft-job",
    )
    assert (fine_tuned.package_arn, fine_tuned.package_version) == (package, 1)


# ---- item 4: the transient path and truthful failure messages ------------------------------


def test_aws_call_never_promises_a_retry():
    with pytest.raises(TransientAwsError) as caught, aws_call("s3://b/k: write"):
        raise slow_down("PutObject")
    assert "SlowDown" in str(caught.value)
    assert "retry" not in str(caught.value)


def each_call_throttled(run: Any, real: Any) -> list[str]:
    """Run once to count the S3 calls, then once per call with that call throttled: every run
    must end in TransientAwsError (the Retry policy's error), never a bare ClientError."""
    counting = CountingS3(real)
    run(counting)
    escaped = []
    for index, name in enumerate(counting.calls):
        try:
            run(CountingS3(real, fail_at=index))
        except TransientAwsError:
            continue
        except ClientError:
            escaped.append(name)
        else:
            escaped.append(f"{name} (throttled, yet the step succeeded)")
    return escaped


def test_every_s3_call_of_ingest_is_on_the_transient_path(aws):
    versioned(aws)
    key = "incoming/train/demo/file.jsonl"
    version = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(REPORTS))["VersionId"]
    spec = load_spec()
    runs = iter(range(1000))

    def run(s3: Any) -> None:
        run_id = f"run-{next(runs)}"
        try:
            result = ingest_step.ingest(s3, BUCKET, key, run_id, spec, version_id=version)
            assert result.route == "train"
        finally:
            claims.release(aws.s3, BUCKET, key, version, run_id)  # as RecordFailure would

    assert each_call_throttled(run, aws.s3) == []


def test_every_s3_call_of_record_failure_is_on_the_transient_path(aws):
    def fail(s3: Any) -> None:
        record_failure_step.record_failure(
            s3, aws.sns, BUCKET, aws.topic_arn, run_id="r", source_key="incoming/x",
            error="JobFailed", cause="", models=[], version_id="v1", last_attempt=False,
        )  # fmt: skip

    claims.claim(aws.s3, BUCKET, "incoming/x", "v1", "r")
    assert [c for c in each_call_throttled(fail, aws.s3) if "succeeded" not in c] == []


def test_record_failure_notifies_on_its_last_attempt_when_s3_is_down(aws):
    class Down:
        def __getattr__(self, name: str) -> Any:
            def call(**_: Any) -> Any:
                raise slow_down(name)

            return call

    arguments = dict(
        run_id="run-f", source_key="incoming/x", error="JobFailed", cause="boom", models=[]
    )
    with pytest.raises(TransientAwsError):
        record_failure_step.record_failure(
            Down(), aws.sns, BUCKET, aws.topic_arn, last_attempt=False, **arguments
        )
    assert aws.notifications() == []  # the Retry policy will try the write again
    result = record_failure_step.record_failure(
        Down(), aws.sns, BUCKET, aws.topic_arn, last_attempt=True, **arguments
    )
    assert (result.notified, result.failure_written) == (True, False)
    ((_subject, message),) = aws.notifications()
    assert message["failure_key"] is None and "SlowDown" in message["failure_record_error"]
    assert message["run_id"] == "run-f" and message["message"] == "boom"


def test_models_failed_message_says_what_was_published():
    ok = ScoreResult(model_key="pre-trained")
    bad = ScoreResult(model_key="fine-tuned", failed=True, error="JobFailed")
    both_bad = [bad, ScoreResult(model_key="pre-trained", failed=True, error="JobFailed")]
    partial = record_failure_step.models_failed_message([ok, bad])
    assert "results of pre-trained were published" in partial
    nothing = record_failure_step.models_failed_message(both_bad)
    assert "nothing was published" in nothing and "others" not in nothing
