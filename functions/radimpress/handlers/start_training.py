"""StartTraining Lambda: start the JumpStart fine-tune built from the resolved spec."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import StartTrainingEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.start_training import start_training


@lambda_handler(StartTrainingEvent)
def handler(request: StartTrainingEvent) -> dict[str, Any]:
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
