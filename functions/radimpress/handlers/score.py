"""Score Lambda: ROUGE of one model's generated impressions against the references."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import ScoreEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.steps.score import score_model
from radimpress.steps.score_bedrock import score_bedrock


@lambda_handler(ScoreEvent)
def handler(request: ScoreEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id, model_key=request.model.model_key)
    where = {
        "run_id": request.run_id,
        "dataset": request.dataset,
        "records_key": request.records_key,
        "output_key": request.output_key,
        "model": request.model,
    }
    if request.model.role == "bedrock":
        # The job's usage comes back with its token counts and cost (Publish's lineage).
        result = score_bedrock(clients.s3(), request.bucket, **where, job_usage=request.job_usage)
        metrics.add_metric(name="ReportsRejected", unit=MetricUnit.Count, value=result.rejected)
    else:
        result = score_model(clients.s3(), request.bucket, **where)
        # The transform job's usage passes through to Publish, which reports it in the lineage.
        result = result.model_copy(update={"job_usage": request.job_usage})
    metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=result.generated)
    metrics.add_metric(name="ReportsScored", unit=MetricUnit.Count, value=result.scored)
    logger.info("scored", extra=result.model_dump(include={"generated", "scored", "rejected"}))
    return result.model_dump()
