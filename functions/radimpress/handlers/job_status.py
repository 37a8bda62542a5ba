"""JobStatus Lambda: one status check of a training or transform job (the Wait loop's body)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import JobStatusEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.steps.bedrock_status import check_bedrock_job
from radimpress.steps.job_status import check_job


@lambda_handler(JobStatusEvent)
def handler(request: JobStatusEvent) -> dict[str, Any]:
    check, client = (
        (check_bedrock_job, clients.bedrock)
        if request.kind.startswith("bedrock")
        else (check_job, clients.sagemaker)
    )
    result = check(
        client(),
        request.kind,
        request.job_name,
        started_epoch=request.started_epoch,
        max_wait_seconds=request.max_wait_seconds,
    )
    # One sample per check: the Sum counts finished jobs, the SampleCount the checks made.
    kind = "Bedrock" if request.kind.startswith("bedrock") else request.kind.capitalize()
    done = result.status == "Completed"
    metrics.add_metric(name=f"{kind}JobsCompleted", unit=MetricUnit.Count, value=int(done))
    if done:
        seconds = result.elapsed_seconds
        metrics.add_metric(name=f"{kind}JobSeconds", unit=MetricUnit.Seconds, value=seconds)
    logger.info(
        "job status",
        extra={"job_name": request.job_name, **result.model_dump(exclude={"usage"})},
    )
    return result.model_dump()
