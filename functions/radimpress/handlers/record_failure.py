"""RecordFailure Lambda: write failure.json (ids, error names, messages) and notify."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import RecordFailureEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.steps.record_failure import record_failure


@lambda_handler(RecordFailureEvent)
def handler(request: RecordFailureEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.execution)
    result = record_failure(
        clients.s3(),
        clients.sns(),
        request.bucket,
        Settings.from_env().topic_arn,
        run_id=request.execution,
        source_key=request.key,
        error=request.error.Error,
        cause=request.error.Cause,
        models=request.error.models,
        version_id=request.version_id,
        last_attempt=request.retry_count >= request.max_retries,
    )
    metrics.add_metric(name="RunsFailed", unit=MetricUnit.Count, value=1)
    logger.error(
        "run failed",
        extra={
            "error": request.error.Error,
            "notified": result.notified,
            "failure_written": result.failure_written,
            "claim_released": result.claim_released,
        },
    )
    return result.model_dump()
