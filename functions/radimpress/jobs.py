"""Starting and polling SageMaker jobs: idempotent creates, status, and the maximum wait.

Job names are derived from the run id, so a retried Start step finds its own job instead of
creating a second one. A job that ends Failed or Stopped raises :class:`JobFailed` carrying
SageMaker's ``FailureReason``; one that outlives the maximum wait is stopped and raises
:class:`JobWaitExceeded`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from radimpress.errors import JobFailed, JobWaitExceeded, RadimpressError, aws_call

KINDS = {
    "training": (
        "describe_training_job",
        "TrainingJobName",
        "TrainingJobStatus",
        "stop_training_job",
    ),
    "transform": (
        "describe_transform_job",
        "TransformJobName",
        "TransformJobStatus",
        "stop_transform_job",
    ),
}


def _already_exists(err: ClientError) -> bool:
    error = err.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in ("ResourceInUse", "ValidationException") and (
        "already exist" in message or "must be unique" in message
    )


def create_once(create: Callable[..., Any], request: dict[str, Any], what: str) -> bool:
    """Call ``create(**request)``; True if created, False if it already existed (a retry)."""
    try:
        with aws_call(what):
            create(**request)
    except ClientError as err:
        if _already_exists(err):
            return False
        raise
    return True


def poll(
    sagemaker: Any,
    kind: str,
    job_name: str,
    *,
    started_epoch: int,
    max_wait_seconds: int,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """One status check: ``{"status": "InProgress"|"Completed", "elapsed_seconds": n}``."""
    if kind not in KINDS:
        raise RadimpressError(f"job kind {kind!r} is not one of {', '.join(KINDS)}")
    describe, name_field, status_field, stop = KINDS[kind]
    with aws_call(f"{kind} job {job_name}: describe"):
        job = getattr(sagemaker, describe)(**{name_field: job_name})
    status = job[status_field]
    elapsed = max(0, int(now()) - int(started_epoch))
    if status == "Completed":
        return {"status": "Completed", "elapsed_seconds": elapsed}
    if status in ("Failed", "Stopped"):
        reason = job.get("FailureReason") or "no FailureReason given"
        raise JobFailed(f"{kind} job {job_name} {status}: {reason}")
    if elapsed > max_wait_seconds:
        if status != "Stopping":
            with aws_call(f"{kind} job {job_name}: stop"):
                getattr(sagemaker, stop)(**{name_field: job_name})
        raise JobWaitExceeded(
            f"{kind} job {job_name} still {status} after {elapsed} s "
            f"(max_wait_seconds={max_wait_seconds}); asked it to stop"
        )
    return {"status": "InProgress", "elapsed_seconds": elapsed}
