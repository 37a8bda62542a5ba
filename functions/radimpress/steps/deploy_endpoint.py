"""The optional real-time endpoint: it serves the newest Approved fine-tuned version.

Driven by the Model Registry's "SageMaker Model Package State Change" event (an approval or a
rejection, by the promotion gate or by an operator), so a manual approval deploys too and a
rejection of the served version rolls the endpoint back to the newest remaining Approved one.
Whatever event arrives, the endpoint is set to what the registry says *now*: a late or repeated
event cannot put an older model back.

Each version gets its own endpoint config (``<stack>-ep-v<N>-<hash of model, instance type and
capture>``); the endpoint is created once and then updated in place (UpdateEndpoint: "the endpoint
... remains available during the update"). Configs no longer needed are deleted, except the one an
update in flight may still be using (DeleteEndpointConfig API reference: "You must not delete an
EndpointConfig in use by an endpoint that is live or while the UpdateEndpoint or CreateEndpoint
operations are being performed on the endpoint") - it goes at the next deployment.

An endpoint still Creating or Updating cannot be updated (UpdateEndpoint refuses it); the step
waits for InService while its Lambda has time, then raises EndpointBusy so the asynchronous
invocation is retried.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from radimpress import registry
from radimpress.errors import JobFailed, RadimpressError, aws_call, error_code
from radimpress.events import EndpointDeployment
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec

BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")
POLL_SECONDS = 30


class EndpointBusy(RadimpressError):
    """The endpoint is being created or updated: retry the deployment later."""


def endpoint_name(prefix: str) -> str:
    return f"{prefix}-endpoint"


def config_name(prefix: str, version: int, model: str, instance_type: str, capture: str) -> str:
    digest = hashlib.sha256(f"{model}\n{instance_type}\n{capture}".encode()).hexdigest()[:8]
    return f"{prefix}-ep-v{version}-{digest}"


def _describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    try:
        with aws_call(f"endpoint {name}: describe"):
            return dict(sagemaker.describe_endpoint(EndpointName=name))
    except ClientError as err:
        if error_code(err) == "ValidationException" and "Could not find" in str(err):
            return None
        raise


def _config_request(
    name: str, model: str, instance_type: str, capture_uri: str, kms_key: str
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": instance_type,
                "InitialInstanceCount": 1,
            }
        ],
    }
    if kms_key:
        request["KmsKeyId"] = kms_key  # the ML storage volume of the endpoint's instance
    if capture_uri:  # off by default: captured requests hold report text
        request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture_uri,
            "KmsKeyId": kms_key,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    return request


def _wait_until_settled(
    sagemaker: Any,
    name: str,
    *,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    while True:
        endpoint = _describe_endpoint(sagemaker, name) or {}
        status = endpoint.get("EndpointStatus", "")
        if status not in BUSY:
            return endpoint
        if seconds_left() < POLL_SECONDS * 2:
            raise EndpointBusy(f"endpoint {name} is {status}; the deployment will be retried")
        sleep(POLL_SECONDS)


def deploy_endpoint(
    sagemaker: Any,
    spec: ModelSpec,
    *,
    prefix: str,
    instance_type: str,
    capture_uri: str = "",
    kms_key: str = "",
    seconds_left: Callable[[], float] = lambda: 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> EndpointDeployment:
    """Point ``<prefix>-endpoint`` at the newest Approved version (create it the first time)."""
    name = endpoint_name(prefix)
    target = registry.latest_approved(
        sagemaker,
        registry.group_name(prefix),
        matching=registry.trained_with(spec),
    )
    if target is None:
        return EndpointDeployment(endpoint=name, action="none", reason="no Approved version")
    model = target.metadata.get("sagemaker_model", "")
    config = config_name(prefix, target.version, model, instance_type, capture_uri)
    create_once(
        sagemaker.create_endpoint_config,
        _config_request(config, model, instance_type, capture_uri, kms_key),
        f"endpoint config {config}: create",
    )
    current = _wait_until_settled(sagemaker, name, seconds_left=seconds_left, sleep=sleep)
    if current.get("EndpointStatus") == "Failed":
        # UpdateEndpoint cannot repair a Failed endpoint; only deleting it can (API reference,
        # DescribeEndpoint: "Failed: Endpoint could not be created, updated, or re-scaled").
        raise JobFailed(
            f"endpoint {name} is Failed ({current.get('FailureReason', 'no reason given')}); "
            f"delete it (aws sagemaker delete-endpoint --endpoint-name {name}) and the next "
            "approval or rejection creates it again"
        )
    previous = str(current.get("EndpointConfigName", ""))
    if not current:
        with aws_call(f"endpoint {name}: create"):
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
        action = "created"
    elif previous == config:
        action = "unchanged"
    else:
        with aws_call(f"endpoint {name}: update to {config}"):
            sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config)
        action = "updated"
    deleted = _delete_unused_configs(sagemaker, prefix, keep={config, previous})
    return EndpointDeployment(
        endpoint=name,
        action=action,
        endpoint_config=config,
        package_arn=target.arn,
        package_version=target.version,
        previous_config=previous,
        deleted_configs=deleted,
    )


def _delete_unused_configs(sagemaker: Any, prefix: str, keep: set[str]) -> list[str]:
    """The stack's endpoint configs other than ``keep`` (this one, and the one an update may
    still use), deleted; one that cannot be deleted now is left for the next deployment."""
    deleted = []
    request: dict[str, Any] = {"NameContains": f"{prefix}-ep-v"}
    while True:
        with aws_call("endpoint configs: list"):
            page = sagemaker.list_endpoint_configs(**request)
        for summary in page.get("EndpointConfigs", []):
            name = summary["EndpointConfigName"]
            if name in keep or not name.startswith(f"{prefix}-ep-v"):
                continue
            try:
                with aws_call(f"endpoint config {name}: delete"):
                    sagemaker.delete_endpoint_config(EndpointConfigName=name)
            except ClientError:
                continue
            deleted.append(name)
        if not page.get("NextToken"):
            return deleted
        request["NextToken"] = page["NextToken"]
