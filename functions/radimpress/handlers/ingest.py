"""Ingest Lambda: validate the uploaded file as a stream, write the run's files, pick the route."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import IngestEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.ingest import ingest


@lambda_handler(IngestEvent)
def handler(request: IngestEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    result = ingest(
        clients.s3(),
        request.bucket,
        request.key,
        request.run_id,
        load_spec(),
        started_at=request.started_at,
        version_id=request.version_id,
        holdout_percent=Settings.from_env().holdout_percent,
    )
    if result.route == "duplicate":
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery", extra={"duplicate_of": result.duplicate_of})
        return result.model_dump()
    metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=result.records)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=result.rejected)
    logger.info(
        "ingested",
        extra=result.model_dump(
            include={"route", "dataset", "records", "rejected", "format", "holdout_records"}
        ),
    )
    return result.model_dump()
