"""The one place handlers get their AWS clients from, so tests and the local runtime can swap them.

Every client is boto3's unless :func:`override` swapped it: tests hand in fakes, and the embedded
runtime hands in its local SageMaker job backend (same calls, same request and response shapes).
This package never imports the workstation side; the dependency runs the other way.
boto3 itself honours ``AWS_ENDPOINT_URL``, which is how handlers reach an embedded moto server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3

_lock = threading.Lock()
_cache: dict[str, Any] = {}
_overrides: dict[str, Callable[[], Any]] = {}


def _client(service: str) -> Any:
    if service in _overrides:
        return _overrides[service]()
    return boto3_client(service)


def boto3_client(service: str) -> Any:
    """boto3's own client for ``service`` (cached), whatever ``override`` says."""
    with _lock:
        if service not in _cache:
            _cache[service] = boto3.client(service)  # type: ignore[call-overload]
        return _cache[service]


def s3() -> Any:
    return _client("s3")


def sns() -> Any:
    return _client("sns")


def sagemaker() -> Any:
    return _client("sagemaker")


def bedrock() -> Any:
    """Bedrock's control plane (model invocation jobs)."""
    return _client("bedrock")


def bedrock_runtime() -> Any:
    """Bedrock's runtime (InvokeModel / Converse, the per-record calls), with botocore's own
    retries off: ``radimpress.bedrock.fallback`` retries throttling itself, and two retry loops
    would multiply."""
    if "bedrock-runtime" in _overrides:
        return _overrides["bedrock-runtime"]()
    with _lock:
        if "bedrock-runtime" not in _cache:
            from botocore.config import Config

            _cache["bedrock-runtime"] = boto3.client(
                "bedrock-runtime", config=Config(retries={"max_attempts": 1, "mode": "standard"})
            )
        return _cache["bedrock-runtime"]


def override(service: str, factory: Callable[[], Any]) -> None:
    """Make ``service`` come from ``factory`` (tests, embedded runtime)."""
    _overrides[service] = factory


def reset() -> None:
    """Forget cached clients and overrides, e.g. when moto's mock starts or stops."""
    with _lock:
        _cache.clear()
        _overrides.clear()
