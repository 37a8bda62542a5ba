"""RegisterModel Lambda: CreateModel from the fine-tune's model.tar.gz, move the latest pointer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import RegisterModelEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.register_model import register_fine_tuned


@lambda_handler(RegisterModelEvent)
def handler(request: RegisterModelEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    result = register_fine_tuned(
        clients.sagemaker(),
        clients.s3(),
        request.bucket,
        load_spec(),
        job_name=request.job_name,
        role_arn=Settings.from_env().require_role(),
        run_id=request.run_id,
        dataset=request.dataset,
    )
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    logger.info("model registered", extra={"model_name": result.model_name})
    return result.model_dump()
