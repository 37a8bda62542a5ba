"""StartTraining Lambda: start the JumpStart fine-tune built from the resolved spec."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients
from radimpress.events import StartTrainingEvent
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.start_training import start_training

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartTrainingEvent)
    logger.append_keys(run_id=request.run_id)
    spec = load_spec()
    started, created = start_training(
        clients.sagemaker(),
        request.bucket,
        spec,
        Settings.from_env(),
        run_id=request.run_id,
        dataset=request.dataset,
        max_wait_seconds=request.max_wait_seconds,
    )
    metrics.add_metric(name="TrainingJobsStarted", unit=MetricUnit.Count, value=int(created))
    logger.info(
        "training job started" if created else "training job already existed",
        extra={"job_name": started.job_name, "records": request.records, "spec": spec.name},
    )
    return started.model_dump()
