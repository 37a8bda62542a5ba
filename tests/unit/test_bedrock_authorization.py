"""The Bedrock calls, decided against template.yaml's own statements (resolved offline as
preflight reads them) with the embedded stack's evaluator: StartTransform may create a batch job,
pass BedrockBatchRole to Bedrock only and invoke only the chosen model; JobStatus may get and
stop jobs and nothing else of Bedrock's. Requests as aws_authorization.bedrock_requests builds
them (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
Bedrock")."""

from __future__ import annotations

from pathlib import Path

import pytest

from radimpress_workstation.aws_checks.local_checks import SAMPLE_STACK
from radimpress_workstation.aws_checks.stack import placeholder_values
from radimpress_workstation.aws_checks.template_facts import function_policy
from radimpress_workstation.embedded.aws_authorization import (
    Authorizer,
    StackPolicies,
    _Denied,
    bedrock_job_arn,
    bedrock_model_arn,
    bedrock_requests,
)
from radimpress_workstation.embedded.template import load

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ACCOUNT, REGION = "111122223333", "us-east-1"


@pytest.fixture(scope="module")
def stack():
    template = load(TEMPLATE)
    template["Parameters"]["BedrockModelId"]["Default"] = MODEL  # as deployed with a model
    values = placeholder_values(SAMPLE_STACK, region=REGION, account=ACCOUNT)
    policies = StackPolicies(account=ACCOUNT, region=REGION)
    for function in ("StartTransformFunction", "JobStatusFunction"):
        policies.identity[function] = [("inline", function_policy(template, function, values))]
    role = f"arn:aws:iam::{ACCOUNT}:role/{values['stack']}-BedrockBatchRole"
    return Authorizer(policies, lambda service: None), policies, role


def _allowed(stack, principal, operation, resource, request=None) -> bool:
    authorizer, policies, _ = stack
    try:
        authorizer.require(
            bedrock_requests(policies, principal, operation, resource, request or {})
        )
    except _Denied:
        return False
    return True


def test_start_transform_creates_a_job_passing_the_bedrock_role_to_bedrock(stack):
    _, policies, role = stack
    job = bedrock_job_arn(policies, "abcdefgh1234")
    create = {"roleArn": role}
    assert _allowed(stack, "StartTransformFunction", "CreateModelInvocationJob", job, create)
    other_role = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/example-SageMakerExecutionRole"}
    assert not _allowed(
        stack, "StartTransformFunction", "CreateModelInvocationJob", job, other_role
    )
    assert not _allowed(stack, "StartTransformFunction", "GetModelInvocationJob", job)


def test_start_transform_invokes_the_chosen_model_only(stack):
    _, policies, _ = stack
    for operation in ("InvokeModel", "Converse"):
        chosen = bedrock_model_arn(policies, MODEL)
        assert chosen == f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"
        assert _allowed(stack, "StartTransformFunction", operation, chosen)
        other = bedrock_model_arn(policies, "anthropic.claude-3-5-sonnet-20240620-v1:0")
        assert not _allowed(stack, "StartTransformFunction", operation, other)
    profile = bedrock_model_arn(policies, f"us.{MODEL}")  # another id: not granted
    assert ":inference-profile/" in profile
    assert not _allowed(stack, "StartTransformFunction", "InvokeModel", profile)


def test_job_status_gets_and_stops_jobs_and_nothing_more(stack):
    _, policies, role = stack
    job = bedrock_job_arn(policies, "abcdefgh1234")
    assert _allowed(stack, "JobStatusFunction", "GetModelInvocationJob", job)
    assert _allowed(stack, "JobStatusFunction", "StopModelInvocationJob", job)
    create = {"roleArn": role}
    assert not _allowed(stack, "JobStatusFunction", "CreateModelInvocationJob", job, create)
    model = bedrock_model_arn(policies, MODEL)
    assert not _allowed(stack, "JobStatusFunction", "InvokeModel", model)


def test_an_unmapped_operation_is_refused_loudly(stack):
    _, policies, _ = stack
    with pytest.raises(NotImplementedError, match="no mapping for bedrock"):
        bedrock_requests(policies, "p", "CreateModelCustomizationJob", "*", {})
