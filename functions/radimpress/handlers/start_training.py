"""StartTraining Lambda: start the JumpStart fine-tune built from the resolved spec."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients, jumpstart
from radimpress.events import StartTrainingEvent
from radimpress.ingest import RunKeys
from radimpress.jobs import create_once
from radimpress.settings import Settings
from radimpress.spec import load_spec

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartTrainingEvent)
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    spec = load_spec()
    keys = RunKeys(request.run_id)
    job_name = jumpstart.resource_name(settings.resource_prefix, "ft", request.run_id)
    training = jumpstart.build_training_request(
        spec,
        job_name=job_name,
        role_arn=settings.require_role(),
        train_uri=f"s3://{request.bucket}/{keys.train_data_prefix}",
        output_uri=f"s3://{request.bucket}/{keys.train_output_prefix}",
        region=settings.region,
        instance_type=settings.training_instance_type,
        epochs=settings.epochs,
        kms_key_arn=settings.kms_key_arn,
        tags={"radimpress:run-id": request.run_id, "radimpress:dataset": request.dataset},
    )
    created = create_once(
        clients.sagemaker().create_training_job, training, f"training job {job_name}: create"
    )
    metrics.add_metric(name="TrainingJobsStarted", unit=MetricUnit.Count, value=int(created))
    logger.info(
        "training job started" if created else "training job already existed",
        extra={"job_name": job_name, "records": request.records, "spec": spec.name},
    )
    return {"kind": "training", "job_name": job_name, "started_epoch": int(time.time())}
