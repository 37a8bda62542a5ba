"""The JobStatus state: one status check of a training or transform job.

A finished job's usage (instances, start, end, seconds; ``radimpress.lineage.job_usage``) comes
back with its Completed status, from the Describe* answer this check already has: the run's
lineage reports and prices it, and no other function needs to describe SageMaker jobs.

A job that ends Failed or Stopped raises :class:`JobFailed` carrying SageMaker's
``FailureReason``; one that outlives the maximum wait is stopped and raises
:class:`JobWaitExceeded`, so the execution records the failure instead of waiting forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from radimpress.errors import JobFailed, JobWaitExceeded, RadimpressError, aws_call
from radimpress.events import JobStatusResult
from radimpress.lineage import job_usage

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


def check_job(
    sagemaker: Any,
    kind: str,
    job_name: str,
    *,
    started_epoch: int,
    max_wait_seconds: int,
    now: Callable[[], float] = time.time,
) -> JobStatusResult:
    """One status check: InProgress or Completed, with the seconds since the job started."""
    if kind not in KINDS:
        raise RadimpressError(f"job kind {kind!r} is not one of {', '.join(KINDS)}")
    describe, name_field, status_field, stop = KINDS[kind]
    with aws_call(f"{kind} job {job_name}: describe"):
        job = getattr(sagemaker, describe)(**{name_field: job_name})
    status = job[status_field]
    elapsed = max(0, int(now()) - int(started_epoch))
    if status == "Completed":
        return JobStatusResult(
            status="Completed", elapsed_seconds=elapsed, usage=job_usage(kind, job)
        )
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
    return JobStatusResult(status="InProgress", elapsed_seconds=elapsed)
