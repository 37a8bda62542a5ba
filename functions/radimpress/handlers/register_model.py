"""RegisterModel Lambda: CreateModel from the fine-tune's archive, register a package version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients, registry
from radimpress.events import RegisterModelEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.register_model import register_fine_tuned


@lambda_handler(RegisterModelEvent)
def handler(request: RegisterModelEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    result = register_fine_tuned(
        clients.sagemaker(),
        clients.s3(),
        request.bucket,
        load_spec(),
        job_name=request.job_name,
        role_arn=settings.require_role(),
        run_id=request.run_id,
        dataset=request.dataset,
        group=registry.group_name(settings.resource_prefix),
        train_records=request.train_records,
        holdout_key=request.holdout_key,
        max_wait_seconds=request.max_wait_seconds,
    )
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    logger.info(
        "model registered",
        extra={"model_name": result.model_name, "package_version": result.package_version},
    )
    return result.model_dump()
