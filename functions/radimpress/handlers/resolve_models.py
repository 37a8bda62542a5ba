"""ResolveModels Lambda: the models an inference run compares (pre-trained, Approved fine-tuned)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import ResolveModelsEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.resolve_models import resolve_models


@lambda_handler(ResolveModelsEvent)
def handler(request: ResolveModelsEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    result = resolve_models(
        clients.sagemaker(),
        load_spec(),
        prefix=settings.resource_prefix,
        role_arn=settings.require_role(),
        records_key=request.records_key,
        has_references=request.has_references,
        bedrock_model_id=settings.bedrock_model_id,
    ).model_copy(update={"max_wait_seconds": request.max_wait_seconds})
    metrics.add_metric(name="ModelsCompared", unit=MetricUnit.Count, value=len(result.models))
    logger.info("models to compare", extra={"models": [m.model_key for m in result.models]})
    return result.model_dump()
