"""What a whole training and inference run asks AWS to authorize stays inside tests/least_privilege.py.

The embedded stack records every request it allowed (principal, action, resource ARN). Each must
fall under an entry of its role's table, and each entry marked ``normal`` must be used: a grant
the code no longer needs, or a call the table forgot, fails here (the unit test holds the
template to the same table).
"""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase

import pytest
from least_privilege import NEEDS, Grant
from pipeline_stack import jsonl, pipeline_stack, run_upload

from radimpress_workstation.embedded.stack import UPLOADER_ROLE
from radimpress_workstation.job_backend.backend import local_job_backend, reset_local_job_backend
from radimpress_workstation.synthetic import generate_reports


@pytest.fixture(scope="module")
def run_requests():
    """(role logical id -> {(action, resource)}) of a training run, then an inference run."""
    with pipeline_stack("lp", {"DeployEndpoint": "true"}) as stack:  # every role at work
        for key, rows in (
            ("incoming/train/lp/train.jsonl", generate_reports(40, seed=1, prefix="T")),
            ("incoming/infer/lp/infer.jsonl", generate_reports(8, seed=2, prefix="I")),
        ):
            run_upload(stack, key, jsonl(rows))
        stack.wait_for_events()  # the approval's endpoint deployment
        local_job_backend().wait()
        roles = {
            stack.resources[logical].attributes["Arn"]: (
                logical.removesuffix("Role") if logical.endswith("FunctionRole") else logical
            )
            for logical in stack.resources
            if stack.resources[logical].type == "AWS::IAM::Role"
        }
        values = {
            "${DataBucket.Arn}": f"arn:aws:s3:::{stack.bucket}",
            "${DataKey.Arn}": stack.resources["DataKey"].attributes["Arn"],
            "${RunOutcomeTopic}": stack.physical_id("RunOutcomeTopic"),
            "${SageMakerExecutionRole.Arn}": stack.resources["SageMakerExecutionRole"].attributes[
                "Arn"
            ],
            "${AWS::Partition}": "aws",
            "${AWS::Region}": stack.region,
            "${AWS::AccountId}": stack.resources["DataKey"].attributes["Arn"].split(":")[4],
            "${AWS::StackName}": stack.stack_name,
        }
        made: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for principal, action, resource in stack.authorizer.granted:
            if principal != UPLOADER_ROLE:
                made[roles[principal]].add((action, resource))
    reset_local_job_backend()
    return made, values


def pattern(grant: Grant, values: dict[str, str]) -> str:
    text = grant.resource
    for name, value in values.items():
        text = text.replace(name, value)
    assert "${" not in text, f"unresolved placeholder in {grant}"
    return text


def covers(grant: Grant, action: str, resource: str, values) -> bool:
    return grant.action == action and fnmatchcase(resource, pattern(grant, values))


def test_every_request_of_the_run_is_in_its_roles_table(run_requests):
    made, values = run_requests
    outside = {
        role: sorted(
            (action, resource)
            for action, resource in requests
            if not any(covers(g, action, resource, values) for g in NEEDS[role])
        )
        for role, requests in made.items()
    }
    assert {role: found for role, found in outside.items() if found} == {}


def test_every_normal_entry_of_the_table_is_used_by_the_run(run_requests):
    made, values = run_requests
    unused = {
        role: sorted(
            (g.action, g.resource)
            for g in grants
            if g.normal and not any(covers(g, a, r, values) for a, r in made.get(role, ()))
        )
        for role, grants in NEEDS.items()
    }
    assert {role: found for role, found in unused.items() if found} == {}
