"""JobStatus Lambda: one status check of a training or transform job (the Wait loop's body)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import JobStatusEvent
from radimpress.jobs import poll

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=JobStatusEvent)
    result = poll(
        clients.sagemaker(),
        request.kind,
        request.job_name,
        started_epoch=request.started_epoch,
        max_wait_seconds=request.max_wait_seconds,
    )
    logger.info("job status", extra={"job_name": request.job_name, **result})
    return result
