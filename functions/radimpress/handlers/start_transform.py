"""StartTransform Lambda: write one model's transform input and start its Batch Transform job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import StartTransformEvent
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.start_transform import start_transform

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartTransformEvent)
    logger.append_keys(run_id=request.run_id, model_key=request.model.model_key)
    result = start_transform(
        clients.sagemaker(),
        clients.s3(),
        request.bucket,
        load_spec(),
        Settings.from_env(),
        run_id=request.run_id,
        records_key=request.records_key,
        model=request.model,
    )
    metrics.add_metric(name="TransformLines", unit=MetricUnit.Count, value=result.lines)
    logger.info("transform job started", extra={"job_name": result.job_name})
    return result.model_dump()
