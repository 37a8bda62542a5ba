"""Fixtures shared by the unit tests: a Lambda context, moto accounts, one boto3 client per service.

Unit tests are pure: every test under tests/unit runs with sockets disabled (pytest-socket), so a
test that reaches for the network, even by accident through a client that escaped moto, fails.
Helpers and names the tests import (``BUCKET``, ``jsonl``, ...) live in handler_support.py, since a
conftest is not meant to be imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider import cold_start
from handler_support import BUCKET, ROLE, Aws, FakeContext, SageMakerWithRegistry
from moto import mock_aws

from radimpress import clients, registry

UNIT_TESTS = Path(__file__).resolve().parent
_CLIENTS: dict[str, Any] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every unit test ``disable_socket``; pytest-socket then blocks sockets before any of
    its fixtures (module- and session-scoped ones included) are set up."""
    for item in items:
        if UNIT_TESTS in item.path.parents:
            item.add_marker(pytest.mark.disable_socket)


def _shared(service: str) -> Any:
    """One client per service for the whole test session (creating boto3 clients is slow; moto
    intercepts a client's calls whenever a mock is active, whenever the client was made)."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, region_name="us-east-1")
    return _CLIENTS[service]


@pytest.fixture(autouse=True)
def reset_metrics() -> Iterator[None]:
    """Every test starts with an empty powertools metric set (shared by all Metrics() instances)
    and a cold start, so no test sees the metrics or the cold-start state another left behind."""
    metrics = Metrics()
    metrics.clear_metrics()
    metrics.clear_default_dimensions()
    cold_start.reset_cold_start_flag()
    yield
    metrics.clear_metrics()


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def s3() -> Iterator[Any]:
    """An S3 client on a fresh moto account holding the bucket ``BUCKET``."""
    with mock_aws():
        client = _shared("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def aws(monkeypatch) -> Iterator[Aws]:
    """moto with the bucket and topic, and the environment template.yaml gives the functions."""
    with mock_aws():
        clients.reset()
        for service in ("s3", "sns"):
            clients.override(service, lambda service=service: _shared(service))
        # moto's SageMaker, with the Model Registry calls behind the registry double (moto
        # numbers versions without a lock and resets fields an UpdateModelPackage leaves out).
        sagemaker = SageMakerWithRegistry(_shared("sagemaker"))
        clients.override("sagemaker", lambda: sagemaker)
        _shared("sagemaker").create_model_package_group(
            ModelPackageGroupName=registry.group_name("radimpress")
        )
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
            # The shipped spec was resolved offline; only the embedded stack may use it.
            "RADIMPRESS_OFFLINE_SPEC_ALLOWED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        yield Aws(s3, sns, sagemaker, topic)
        clients.reset()
