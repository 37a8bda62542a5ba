"""ResolveModels Lambda: the models an inference run compares (pre-trained, Approved fine-tuned)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients, history_budget
from radimpress.events import ResolveModelsEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.resolve_models import resolve_models


@lambda_handler(ResolveModelsEvent)
def handler(request: ResolveModelsEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    found = resolve_models(
        clients.sagemaker(),
        load_spec(),
        prefix=settings.resource_prefix,
        role_arn=settings.require_role(),
        records_key=request.records_key,
        has_references=request.has_references,
        bedrock_model_id=settings.bedrock_model_id,
    )
    wait = request.max_wait_seconds
    if wait is not None and request.poll_seconds is not None:
        bound = history_budget.map_wait_bound(len(found.models), request.poll_seconds, wait)
        if bound < wait:
            logger.info(
                "wait bound lowered to fit the history budget",
                extra={"models": len(found.models), "max_wait_seconds": bound},
            )
        wait = bound
    result = found.model_copy(update={"max_wait_seconds": wait})
    metrics.add_metric(name="ModelsCompared", unit=MetricUnit.Count, value=len(result.models))
    logger.info("models to compare", extra={"models": [m.model_key for m in result.models]})
    return result.model_dump()
