"""JobStatus for a Bedrock model: one GetModelInvocationJob check, under the same wait bound and
poll loop as SageMaker jobs.

Statuses (botocore's ``bedrock`` model, ``ModelInvocationJobStatus``): Submitted, Validating,
Scheduled, InProgress and Stopping are still running; Completed and PartiallyCompleted ("not all
of your records could be processed in time") have output to score (records without an answer
become rejections in Score); Failed, Stopped and Expired end the model with Bedrock's
``message``. A job past the wait bound is stopped (StopModelInvocationJob) and fails the model,
as a SageMaker job does. Per-record calls (``bedrock-calls``) finished inside StartTransform:
nothing to poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from radimpress.errors import JobFailed, JobWaitExceeded, aws_call
from radimpress.events import JobStatusResult
from radimpress.lineage import _iso, _seconds

RUNNING = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
DONE = frozenset({"Completed", "PartiallyCompleted"})
_COUNTS = ("totalRecordCount", "processedRecordCount", "successRecordCount", "errorRecordCount")


def bedrock_job_usage(described: dict[str, Any]) -> dict[str, Any]:
    """A finished job's lineage entry (the SageMaker jobs' fields; no instances: billed per
    token, which Score adds from the job's manifest)."""
    start, end = described.get("submitTime"), described.get("endTime")
    seconds = _seconds(start, end)
    usage: dict[str, Any] = {
        "kind": "bedrock",
        "name": str(described.get("jobName", "")),
        "job_arn": str(described.get("jobArn", "")),
        "status": str(described.get("status", "")),
        "model_name": str(described.get("modelId", "")),
        "instance_type": "",
        "instance_count": 0,
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "seconds": seconds,
        "billable_seconds": None,
        "billed_seconds": None,
    }
    for name in _COUNTS:
        if isinstance(described.get(name), int):
            usage[name] = described[name]
    return usage


def check_bedrock_job(
    bedrock: Any,
    kind: str,
    job_name: str,
    *,
    started_epoch: int,
    max_wait_seconds: int,
    now: Callable[[], float] = time.time,
) -> JobStatusResult:
    """One check of a batch inference job (``job_name`` is its ARN)."""
    elapsed = max(0, int(now()) - int(started_epoch))
    if kind == "bedrock-calls":
        return JobStatusResult(status="Completed", elapsed_seconds=elapsed)
    with aws_call(f"Bedrock batch job {job_name}: get"):
        job = bedrock.get_model_invocation_job(jobIdentifier=job_name)
    status = job["status"]
    if status in DONE:
        return JobStatusResult(
            status="Completed", elapsed_seconds=elapsed, usage=bedrock_job_usage(job)
        )
    if status not in RUNNING:
        reason = job.get("message") or "no message given"
        raise JobFailed(f"Bedrock batch job {job_name} {status}: {reason}")
    if elapsed > max_wait_seconds:
        if status != "Stopping":
            with aws_call(f"Bedrock batch job {job_name}: stop"):
                bedrock.stop_model_invocation_job(jobIdentifier=job_name)
        raise JobWaitExceeded(
            f"Bedrock batch job {job_name} still {status} after {elapsed} s "
            f"(max_wait_seconds={max_wait_seconds}); asked it to stop"
        )
    return JobStatusResult(status="InProgress", elapsed_seconds=elapsed)
