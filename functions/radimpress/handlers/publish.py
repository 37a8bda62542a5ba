"""Publish Lambda: publish an inference run's results as Parquet, then notify (SNS)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import PublishEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.steps.publish import publish


@lambda_handler(PublishEvent)
def handler(request: PublishEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.state.ingest.run_id)
    result, message = publish(
        clients.s3(),
        clients.sns(),
        Settings.from_env().topic_arn,
        request.state,
        execution=request.execution,
    )
    failed_models = [m.model_dump() for m in result.failed_models]
    if result.summary_key:
        metrics.add_metric(name="RunsPublished", unit=MetricUnit.Count, value=1)
    if message.get("published") is False:
        logger.warning("no model succeeded: nothing published", extra={"failed": failed_models})
    if not result.failed:
        metrics.add_metric(name="RunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info(
        "published",
        extra={
            "summary_key": result.summary_key,
            "notified": result.notified,
            "failed": failed_models,
        },
    )
    return result.model_dump()
