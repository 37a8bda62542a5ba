"""ResolveModels Lambda: the models an inference run compares (pre-trained, latest fine-tuned)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import ResolveModelsEvent
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.resolve_models import resolve_models

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ResolveModelsEvent)
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    result = resolve_models(
        clients.sagemaker(),
        clients.s3(),
        request.bucket,
        load_spec(),
        prefix=settings.resource_prefix,
        role_arn=settings.require_role(),
    )
    metrics.add_metric(name="ModelsCompared", unit=MetricUnit.Count, value=len(result.models))
    logger.info("models to compare", extra={"models": [m.model_key for m in result.models]})
    return result.model_dump()
