"""RegisterModel Lambda: CreateModel from the fine-tune's model.tar.gz, move the latest pointer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import RegisterModelEvent
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.register_model import register_fine_tuned

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=RegisterModelEvent)
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
