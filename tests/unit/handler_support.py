"""Shared pieces of the unit tests: names, a fake Lambda context, and small helpers to read what
the handlers wrote. The fixtures that use them (``context``, ``aws``, ``s3``) are in conftest.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from radimpress_workstation.job_backend.registry import WithRegistryDouble

BUCKET = "radimpress-test-data"
ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"


@dataclass
class FakeContext:
    function_name: str = "radimpress-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:radimpress-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Aws:
    s3: Any
    sns: Any
    sagemaker: Any
    topic_arn: str

    def put(self, key: str, body: bytes | str) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def write_training_artifact(self, job_name: str) -> str:
        """moto completes a training job at once but writes nothing: put its archive in place."""
        job = self.sagemaker.describe_training_job(TrainingJobName=job_name)
        artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
        self.put(artifact.removeprefix(f"s3://{BUCKET}/"), b"model archive")
        return artifact

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.read(key).decode().splitlines() if x.strip()]

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def notifications(self) -> list[tuple[str, dict]]:
        from moto.sns.models import sns_backends

        topic = sns_backends["123456789012"]["us-east-1"].topics[self.topic_arn]
        return [(n[2], json.loads(n[1])) for n in topic.sent_notifications]


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


class SageMakerWithRegistry(WithRegistryDouble):
    """moto's SageMaker client with the Model Registry calls answered by the embedded stack's
    registry double (workstation/job_backend/registry.py), which keeps moto's storage but the
    service's contract; every other call goes to moto."""


def upload_version(aws: Aws, key: str, reports: list[dict[str, Any]]) -> str:
    """``reports`` uploaded to ``key`` in the (now versioned) bucket; returns the version id."""
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return str(aws.s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(reports))["VersionId"])


def ingest_version(aws: Aws, key: str, run_id: str, version: str) -> Any:
    """The Ingest step of run ``run_id`` on that version (it claims the version)."""
    from radimpress.spec import load_spec
    from radimpress.steps import ingest as ingest_step

    return ingest_step.ingest(
        aws.s3, BUCKET, key, run_id, load_spec(), started_at="2026-11-24T08:00:00Z",
        version_id=version,
    )  # fmt: skip
