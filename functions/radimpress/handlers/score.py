"""Score Lambda: ROUGE of one model's generated impressions against the references."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import ScoreEvent
from radimpress.steps.score import score_model

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ScoreEvent)
    logger.append_keys(run_id=request.run_id, model_key=request.model.model_key)
    result = score_model(
        clients.s3(),
        request.bucket,
        run_id=request.run_id,
        dataset=request.dataset,
        records_key=request.records_key,
        output_key=request.output_key,
        model=request.model,
    )
    metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=result.generated)
    metrics.add_metric(name="ReportsScored", unit=MetricUnit.Count, value=result.scored)
    logger.info("scored", extra=result.model_dump(include={"generated", "scored"}))
    return result.model_dump()
