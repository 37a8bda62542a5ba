"""template.yaml grants each role exactly what tests/least_privilege.py says its code needs.

A grant widened (a prefix to the whole bucket, a job ARN to "*"), an action added or a needed one
removed (s3:DeleteObject for Publish's rollback) fails here, naming the role and the difference.
tests/integration/test_least_privilege_run.py holds the table itself to what a real run calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from least_privilege import NEEDS, granted, grants_call, role_statements, without_flags

from radimpress_workstation.aws_checks.calls import FUNCTION_CALLS, fill
from radimpress_workstation.embedded.template import load

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def resources():
    return load(TEMPLATE)["Resources"]


@pytest.mark.parametrize("role", sorted(NEEDS))
def test_the_template_grants_each_role_exactly_its_table(resources, role):
    grants = granted(role_statements(resources[role]))
    needs = without_flags(NEEDS[role])
    assert not grants - needs, f"{role} is granted more than it needs: {sorted(grants - needs)}"
    assert not needs - grants, f"{role} lacks what its code calls: {sorted(needs - grants)}"


def test_every_function_of_the_template_has_a_table(resources):
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions <= set(NEEDS)


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${DataBucket.Arn}/*"},
        },
        {"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"},
    ],
    ids=["object-grant-widened-to-the-bucket", "sagemaker-create-on-everything"],
)
def test_a_widened_grant_is_caught(resources, statement):
    policies = resources["PublishFunction"]["Properties"]["Policies"]
    widened = {"Properties": {"Policies": [*policies, {"Statement": [statement]}]}}
    assert granted(role_statements(widened)) - without_flags(NEEDS["PublishFunction"])


VALUES = {"bucket": "data", "key_arn": "arn:aws:kms:us-east-1:123456789012:key/k", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t", "role_arn": "arn:aws:iam::123456789012:role/sm", "region": "us-east-1", "account": "123456789012", "stack": "radimpress"}  # fmt: skip
TEMPLATE_VALUES = {
    "${DataBucket.Arn}": "arn:aws:s3:::data",
    "${DataKey.Arn}": VALUES["key_arn"],
    "${RunOutcomeTopic}": VALUES["topic_arn"],
    "${SageMakerExecutionRole.Arn}": VALUES["role_arn"],
    "${AWS::Partition}": "aws",
    "${AWS::Region}": "us-east-1",
    "${AWS::AccountId}": "123456789012",
    "${AWS::StackName}": "radimpress",
}


@pytest.mark.parametrize("function", sorted(FUNCTION_CALLS))
def test_preflights_call_table_stays_inside_the_least_privilege_table(function):
    """radimpress preflight simulates calls.py's examples against the deployed roles; each must
    be one the table (and so the template) grants, or preflight would test something else."""

    examples = [(action, fill(resource, VALUES)) for action, resource in FUNCTION_CALLS[function]]
    uncovered = [e for e in examples if not grants_call(function, *e, TEMPLATE_VALUES)]
    assert uncovered == []
