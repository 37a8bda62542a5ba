"""The optional endpoint through the embedded stack (DeployEndpoint=true): the registry's
"SageMaker Model Package State Change" event reaches the DeployEndpoint function through the
template's own EventBridge rule, which creates the endpoint for the first approved fine-tune and
moves it when an operator approves another version (issue 20 item 3)."""

from __future__ import annotations

import pytest
from pipeline_stack import jsonl, pipeline_stack, run_upload

from radimpress import registry
from radimpress_workstation.job_backend.backend import local_job_backend
from radimpress_workstation.synthetic import generate_reports


@pytest.fixture(scope="module")
def stack():
    with pipeline_stack(
        "ep", {"ModelSpec": "local-retrieval", "DeployEndpoint": "true"}
    ) as running:
        yield running


def train(stack, name: str, seed: int) -> str:
    key = f"incoming/train/ep/{name}.jsonl"
    rows = generate_reports(40, seed=seed, prefix=name)  # too few to hold any out: no gate
    result = run_upload(stack, key, jsonl(rows))
    return str(result.output["model"]["model_name"])


def served_model(stack) -> str:
    backend = local_job_backend()
    endpoint = backend.describe_endpoint(EndpointName="ep-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    config = backend.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return str(config["ProductionVariants"][0]["ModelName"])


def test_an_approval_deploys_and_a_manual_approval_switches_the_endpoint(stack):
    first = train(stack, "a", 1)  # the first fine-tune: approved by the gate (AutoApprove)
    results = stack.wait_for_events()
    assert results and all(r["error"] is None for r in results), results
    assert served_model(stack) == first

    second = train(stack, "b", 2)  # nothing held out and a model approved: stays pending
    stack.wait_for_events()
    assert served_model(stack) == first

    group = registry.group_name("ep")
    summaries = local_job_backend().list_model_packages(ModelPackageGroupName=group)
    pending = [
        s["ModelPackageArn"]
        for s in summaries["ModelPackageSummaryList"]
        if s["ModelApprovalStatus"] == "PendingManualApproval"
    ]
    assert len(pending) == 1
    local_job_backend().update_model_package(  # an operator approves it
        ModelPackageArn=pending[0], ModelApprovalStatus="Approved"
    )
    stack.wait_for_events()
    assert served_model(stack) == second
    assert not stack.authorizer.denied  # every call the function made was allowed
