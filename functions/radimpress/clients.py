"""The one place handlers get their AWS clients from, so tests and the local runtime can swap them.

``sagemaker()`` returns boto3's SageMaker client, or the local job backend when
``RADIMPRESS_JOB_BACKEND=local`` (the embedded runtime). Both answer the same calls with the same
request and response shapes (training jobs, models, transform jobs).
boto3 itself honours ``AWS_ENDPOINT_URL``, which is how handlers reach an embedded moto server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3

JOB_BACKEND_ENV = "RADIMPRESS_JOB_BACKEND"

_lock = threading.Lock()
_cache: dict[str, Any] = {}
_overrides: dict[str, Callable[[], Any]] = {}


def _client(service: str) -> Any:
    if service in _overrides:
        return _overrides[service]()
    with _lock:
        if service not in _cache:
            _cache[service] = boto3.client(service)
        return _cache[service]


def s3() -> Any:
    return _client("s3")


def sns() -> Any:
    return _client("sns")


def sagemaker() -> Any:
    if "sagemaker" not in _overrides and os.environ.get(JOB_BACKEND_ENV, "sagemaker") == "local":
        from radimpress.local.jobs import local_job_backend  # not shipped to the Lambdas' path

        return local_job_backend()
    return _client("sagemaker")


def override(service: str, factory: Callable[[], Any]) -> None:
    """Make ``service`` come from ``factory`` (tests, embedded runtime)."""
    _overrides[service] = factory


def reset() -> None:
    """Forget cached clients and overrides, e.g. when moto's mock starts or stops."""
    with _lock:
        _cache.clear()
        _overrides.clear()
