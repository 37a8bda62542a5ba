"""Shared pieces of the handler unit tests: a Lambda context, a moto account with the stack's
environment, and small helpers to read what the handlers wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from radimpress import clients

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

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.read(key).decode().splitlines() if x.strip()]

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def notifications(self) -> list[tuple[str, dict]]:
        from moto.sns.models import sns_backends

        topic = sns_backends["123456789012"]["us-east-1"].topics[self.topic_arn]
        return [(n[2], json.loads(n[1])) for n in topic.sent_notifications]


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


_CLIENTS: dict[str, Any] = {}


def _shared(service: str) -> Any:
    """One client per service for the whole test session (creating boto3 clients is slow; moto
    intercepts a client's calls whenever a mock is active, whenever the client was made)."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, region_name="us-east-1")
    return _CLIENTS[service]


@pytest.fixture
def aws(monkeypatch) -> Iterator[Aws]:
    """moto with the bucket and topic, and the environment template.yaml gives the functions."""
    with mock_aws():
        clients.reset()
        for service in ("s3", "sns", "sagemaker"):
            clients.override(service, lambda service=service: _shared(service))
        s3, sns = _shared("s3"), _shared("sns")
        s3.create_bucket(Bucket=BUCKET)
        topic = sns.create_topic(Name="radimpress-outcomes")["TopicArn"]
        for name, value in {
            "RADIMPRESS_BUCKET": BUCKET,
            "RADIMPRESS_MODEL_SPEC": "jumpstart-flan-t5-xl",
            "RADIMPRESS_MODEL_ID": "huggingface-text2text-flan-t5-xl",
            "RADIMPRESS_MODEL_VERSION": "*",
            "RADIMPRESS_SAGEMAKER_ROLE_ARN": ROLE,
            "RADIMPRESS_TOPIC_ARN": topic,
            "RADIMPRESS_RESOURCE_PREFIX": "radimpress",
            "RADIMPRESS_EPOCHS": "3",
            "RADIMPRESS_MAX_LENGTH": "96",
            "RADIMPRESS_NUM_BEAMS": "2",
            "RADIMPRESS_TRANSFORM_INSTANCE_TYPE": "ml.g5.2xlarge",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("RADIMPRESS_JOB_BACKEND", raising=False)
        yield Aws(s3, sns, _shared("sagemaker"), topic)
        clients.reset()


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()
