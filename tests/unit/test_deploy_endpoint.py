"""The optional endpoint: it follows the newest Approved version through approvals, rejections
(roll back) and repeated events, waits for an endpoint in flight, cleans up configs; and the
endpoints double refuses what SageMaker refuses (API reference: UpdateEndpoint on an endpoint
that is not InService, DeleteEndpointConfig of a config in use)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from radimpress import registry
from radimpress.spec import load_spec
from radimpress.steps.deploy_endpoint import EndpointBusy, config_name, deploy_endpoint
from radimpress_workstation.job_backend.endpoints import EndpointsDouble
from radimpress_workstation.job_backend.registry import WithRegistryDouble

PREFIX = "radimpress"


class Sagemaker(WithRegistryDouble):
    """moto's registry behind the registry double, endpoints behind the endpoints double."""

    def __init__(self, client, settle_seconds: float = 0.0):
        super().__init__(client)
        self.endpoints = EndpointsDouble(lambda name: name.startswith("job-"), settle_seconds)

    def __getattr__(self, name):
        if "endpoint" in name:
            return getattr(self.endpoints, name)
        return super().__getattr__(name)


@pytest.fixture
def sagemaker():
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=registry.group_name(PREFIX))
        yield Sagemaker(client)


def version(sagemaker, job: str, trained_at: str, status: str = "Approved") -> str:
    spec = load_spec("jumpstart-flan-t5-xl")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=registry.group_name(PREFIX),
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": f"s3://b/models/{job}.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={
            "sagemaker_model": job,
            "training_job": job,
            "trained_at": trained_at,
            "spec": spec.name,
            "model_id": spec.model_id,
        },
    )["ModelPackageArn"]
    if status != "PendingManualApproval":
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
    return arn


def deploy(sagemaker, **extra):
    return deploy_endpoint(
        sagemaker, load_spec("jumpstart-flan-t5-xl"), prefix=PREFIX, instance_type="ml.g5.2xlarge",
        **extra,
    )  # fmt: skip


def serving(sagemaker) -> str:
    endpoint = sagemaker.describe_endpoint(EndpointName=f"{PREFIX}-endpoint")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return config["ProductionVariants"][0]["ModelName"]


def test_nothing_approved_means_no_endpoint(sagemaker):
    version(sagemaker, "job-1", "2026-12-01T00:00:00", status="PendingManualApproval")
    assert deploy(sagemaker).action == "none"
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName=f"{PREFIX}-endpoint")


def test_the_endpoint_follows_approvals_and_rolls_back_on_a_rejection(sagemaker):
    version(sagemaker, "job-1", "2026-12-01T00:00:00")
    first = deploy(sagemaker)
    assert (first.action, first.package_version, serving(sagemaker)) == ("created", 1, "job-1")
    assert deploy(sagemaker).action == "unchanged"  # a repeated event changes nothing

    second = version(sagemaker, "job-2", "2026-12-02T00:00:00")
    updated = deploy(sagemaker)
    assert (updated.action, updated.previous_config) == ("updated", first.endpoint_config)
    assert serving(sagemaker) == "job-2"

    # An older version approved late does not replace the newer one.
    version(sagemaker, "job-0", "2026-11-30T00:00:00")
    assert deploy(sagemaker).action == "unchanged"

    # Rejecting the served version rolls the endpoint back to the newest remaining Approved one.
    sagemaker.update_model_package(ModelPackageArn=second, ModelApprovalStatus="Rejected")
    rolled = deploy(sagemaker)
    assert rolled.action == "updated" and serving(sagemaker) == "job-1"
    assert rolled.endpoint_config == first.endpoint_config  # the same config, reused


def test_configs_no_longer_used_are_deleted_but_not_the_one_an_update_may_use(sagemaker):
    for n in (1, 2, 3):
        version(sagemaker, f"job-{n}", f"2026-12-0{n}T00:00:00")
        deploy(sagemaker)
    names = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    v2 = config_name(PREFIX, 2, "job-2", "ml.g5.2xlarge", "")
    v3 = config_name(PREFIX, 3, "job-3", "ml.g5.2xlarge", "")
    assert sorted(names) == sorted([v2, v3])  # v1's is gone; v2's kept (the update's previous)


def test_an_endpoint_in_flight_is_waited_for_then_left_to_a_retry(sagemaker):
    slow = Sagemaker(sagemaker._client, settle_seconds=3600)
    version(slow, "job-1", "2026-12-01T00:00:00")
    assert deploy(slow).action == "created"  # status Creating for an hour
    version(slow, "job-2", "2026-12-02T00:00:00")
    sleeps: list[float] = []
    budget = iter([600.0, 300.0, 30.0])
    with pytest.raises(EndpointBusy, match="Creating"):
        deploy(slow, seconds_left=lambda: next(budget), sleep=sleeps.append)
    assert sleeps == [30, 30]  # polled while the Lambda had time


def test_the_double_refuses_what_sagemaker_refuses(sagemaker):
    endpoints = EndpointsDouble(lambda name: name == "m", settle_seconds=3600)
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.g5.2xlarge"}
    endpoints.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[variant])
    endpoints.create_endpoint_config(EndpointConfigName="c2", ProductionVariants=[variant])
    with pytest.raises(ClientError, match="Could not find model"):
        endpoints.create_endpoint_config(
            EndpointConfigName="c3", ProductionVariants=[{**variant, "ModelName": "x"}]
        )
    with pytest.raises(ClientError, match="already existing endpoint configuration"):
        endpoints.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[variant])
    endpoints.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        endpoints.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    with pytest.raises(ClientError, match="in use"):
        endpoints.delete_endpoint_config(EndpointConfigName="c1")
    endpoints.delete_endpoint_config(EndpointConfigName="c2")


def test_a_failed_endpoint_is_reported_with_what_to_do(sagemaker):
    version(sagemaker, "job-1", "2026-12-01T00:00:00")
    deploy(sagemaker)
    sagemaker.endpoints._endpoints[f"{PREFIX}-endpoint"].update(
        EndpointStatus="Failed", FailureReason="capacity"
    )
    version(sagemaker, "job-2", "2026-12-02T00:00:00")
    with pytest.raises(Exception, match="delete-endpoint --endpoint-name radimpress-endpoint"):
        deploy(sagemaker)
