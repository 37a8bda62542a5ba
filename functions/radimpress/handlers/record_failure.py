"""RecordFailure Lambda: write why the run failed (error type, job FailureReason), notify SNS."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients, notify
from radimpress.events import RecordFailureEvent
from radimpress.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=RecordFailureEvent)
    logger.append_keys(run_id=request.execution)
    record = notify.record_failure(
        clients.s3(),
        request.bucket,
        run_id=request.execution,
        source_key=request.key,
        error=request.error.Error,
        cause=request.error.Cause,
        models=[
            {"model_key": m.model_key, "error": m.error, "cause": m.cause}
            for m in request.error.models
            if m.failed
        ],
    )
    metrics.add_metric(name="RunsFailed", unit=MetricUnit.Count, value=1)
    notified = notify.publish(
        clients.sns(),
        Settings.from_env().topic_arn,
        f"radimpress run {request.execution} failed: {request.error.Error}",
        {"outcome": "failed", **record},
    )
    logger.error("run failed", extra={"error": request.error.Error, "notified": notified})
    return {"failure_key": record["failure_key"], "notified": notified}
