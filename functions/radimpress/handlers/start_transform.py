"""StartTransform Lambda: write one model's input and start its job (Batch Transform for a
SageMaker model, a Bedrock batch inference job or per-record calls for a Bedrock model)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import StartTransformEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.start_bedrock import start_bedrock
from radimpress.steps.start_transform import start_transform


@lambda_handler(StartTransformEvent)
def handler(request: StartTransformEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id, model_key=request.model.model_key)
    if request.model.role == "bedrock":
        result = start_bedrock(
            clients.bedrock(),
            clients.bedrock_runtime(),
            clients.s3(),
            request.bucket,
            Settings.from_env(),
            run_id=request.run_id,
            records_key=request.records_key,
            model=request.model,
        )
    else:
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
    logger.info("transform job started", extra={"job_name": result.job_name, "kind": result.kind})
    return result.model_dump()
