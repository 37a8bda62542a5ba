"""DeployEndpoint Lambda: on a model package approval or rejection, point the stack's real-time
endpoint at the newest Approved fine-tuned version (steps/deploy_endpoint.py says how)."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from radimpress import clients, registry
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.deploy_endpoint import deploy_endpoint


class ModelPackageStateChange(BaseModel):
    """The EventBridge event ("SageMaker Model Package State Change"); its detail is the
    package's description. Only the fields the rule filters on are read."""

    model_config = ConfigDict(extra="ignore")
    detail: dict[str, Any] = {}


@lambda_handler(ModelPackageStateChange)
def handler(request: ModelPackageStateChange) -> dict[str, Any]:
    settings = Settings.from_env()
    started = time.monotonic()
    budget = float(os.environ.get("RADIMPRESS_ENDPOINT_WAIT_SECONDS", "780"))
    group = registry.group_name(settings.resource_prefix)
    if request.detail.get("ModelPackageGroupName") != group:
        logger.info("not this stack's model package group; nothing to do")
        return {"action": "none", "reason": "another model package group"}
    logger.append_keys(package_version=request.detail.get("ModelPackageVersion"))
    capture = os.environ.get("RADIMPRESS_ENDPOINT_CAPTURE", "false") == "true"
    result = deploy_endpoint(
        clients.sagemaker(),
        load_spec(),
        prefix=settings.resource_prefix,
        instance_type=os.environ.get("RADIMPRESS_ENDPOINT_INSTANCE_TYPE", "ml.g5.2xlarge"),
        capture_uri=f"s3://{settings.bucket}/endpoint-capture/" if capture else "",
        kms_key=settings.kms_key_arn,
        seconds_left=lambda: budget - (time.monotonic() - started),
    )
    if result.action in ("created", "updated"):
        metrics.add_metric(name="EndpointDeployments", unit=MetricUnit.Count, value=1)
    logger.info("endpoint deployment", extra=result.model_dump(exclude={"deleted_configs"}))
    return result.model_dump()
