"""A deployed stack's resources, found by logical id (what template.yaml calls them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StackResources:
    """Physical ids by logical id: a bucket's name, a key's id, a role's name, an ARN..."""

    stack_name: str
    physical: dict[str, str]

    def get(self, logical_id: str) -> str | None:
        return self.physical.get(logical_id)


def stack_resources(cloudformation: Any, stack_name: str) -> StackResources:
    """Every resource of the stack (ListStackResources, all pages)."""
    physical: dict[str, str] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page.get("StackResourceSummaries", []):
            if summary.get("PhysicalResourceId"):
                physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return StackResources(stack_name, physical)


def placeholder_values(
    resources: StackResources, *, region: str, account: str, partition: str = "aws"
) -> dict[str, str]:
    """Values for the ``calls.py`` placeholders, from the stack's own resources."""
    values = {"region": region, "account": account, "stack": resources.stack_name}
    if bucket := resources.get("DataBucket"):
        values["bucket"] = bucket
    if key_id := resources.get("DataKey"):
        values["key_arn"] = f"arn:{partition}:kms:{region}:{account}:key/{key_id}"
    if topic := resources.get("RunOutcomeTopic"):
        values["topic_arn"] = topic
    if role := resources.get("SageMakerExecutionRole"):
        values["role_arn"] = f"arn:{partition}:iam::{account}:role/{role}"
    return values
