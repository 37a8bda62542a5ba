"""The preflight checks that read the account, all read-only: who the credentials are
(sts:GetCallerIdentity), the stack (cloudformation:DescribeStacks), SageMaker quotas
(servicequotas:ListServiceQuotas / ListAWSDefaultServiceQuotas) and the pandas layer's public
SSM parameter (ssm:GetParameter).

Sources: Service Quotas API reference, ListServiceQuotas ("If the applied quota value is not
available for a quota, the quota is not retrieved") and ListAWSDefaultServiceQuotas; SageMaker's
per-instance-type quotas are named "<type> for training job usage" and "<type> for transform job
usage" (the names a ResourceLimitExceeded error quotes); aws/aws-sdk-pandas
docs/source/install.rst for the layer parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from radimpress_workstation.aws_checks import template_facts
from radimpress_workstation.aws_checks.aws import AWS_ERRORS, aws_error, error_line
from radimpress_workstation.aws_checks.target import FAIL, PASS, WARN, Check, Target

# Instances each kind needs at once: Batch Transform runs the pre-trained and the fine-tuned
# model side by side (the Map's MaxConcurrency 2), one instance each.
QUOTA_NEED = {"training": 1, "transform": 2}
QUOTA_PARAMETER = {"training": "TrainingInstanceType", "transform": "TransformInstanceType"}
SPEC_SECTION = {"training": "training", "transform": "inference"}
CFN_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
# A stack in these states cannot be updated: it has to be deleted first.
DEAD_STACK = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED")


def credentials(target: Target) -> Check:
    try:
        identity = target.clients("sts").get_caller_identity()
    except AWS_ERRORS as err:
        return Check(
            FAIL,
            "credentials",
            f"no usable AWS credentials ({error_line(err)}): run `aws configure` or "
            "`aws sso login`, or set AWS_PROFILE, then run this again",
        )
    target.account = str(identity["Account"])
    arn = str(identity.get("Arn", ""))
    target.partition = arn.split(":")[1] if arn.count(":") >= 2 else "aws"
    return Check(PASS, "credentials", f"account {target.account} as {arn}")


def stack_status(target: Target) -> Check:
    name = target.stack_name
    if not CFN_STACK_NAME.fullmatch(name):
        return Check(WARN, "stack", f"{name!r} is not a CloudFormation stack name; not looked up")
    try:
        stacks = target.clients("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except AWS_ERRORS as err:
        code, message = aws_error(err)
        if code == "ValidationError" and "does not exist" in message:
            return Check(
                PASS,
                "stack",
                f"{name} is not deployed in {target.region} yet; after `make deploy`, run this "
                "again to check each function's permissions",
            )
        return Check(WARN, "stack", f"cannot read stack {name} ({error_line(err)})")
    target.stack = stacks[0] if stacks else None
    status = str((target.stack or {}).get("StackStatus", ""))
    if status in DEAD_STACK or status.endswith("_FAILED"):
        return Check(
            FAIL,
            "stack",
            f"{name} is {status}: read its events in the CloudFormation console, then "
            f"`make delete STACK={name}` and deploy again",
        )
    if status.endswith("_IN_PROGRESS"):
        return Check(WARN, "stack", f"{name} is {status}; run this again when it settles")
    return Check(PASS, "stack", f"{name} is {status}")


def instance_types(target: Target) -> Iterator[Check]:
    """The instance types the runs would use, against the types the spec supports."""
    for kind, section in SPEC_SECTION.items():
        chosen = target.parameter(QUOTA_PARAMETER[kind])
        supported = (target.spec.get(section) or {}).get("supported_instance_types")
        if supported and chosen not in supported:
            yield Check(
                FAIL,
                f"instance-type {kind}",
                f"{chosen} is not among the spec's supported {section} types "
                f"({', '.join(supported)}); set {QUOTA_PARAMETER[kind]} to one of them",
            )
        else:
            yield Check(PASS, f"instance-type {kind}", f"{chosen} ({QUOTA_PARAMETER[kind]})")


def quota_name(instance_type: str, kind: str) -> str:
    return f"{instance_type} for {kind} job usage"


def quota_values(client: Any, operation: str, names: set[str]) -> dict[str, float]:
    """Values of the named SageMaker quotas from one listing (all pages)."""
    found: dict[str, float] = {}
    for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
        for quota in page.get("Quotas", []):
            if quota.get("QuotaName") in names and "Value" in quota:
                found[quota["QuotaName"]] = float(quota["Value"])
    return found


def _quota_check(target: Target, kind: str, name: str, value: float | None) -> Check:
    need, parameter = QUOTA_NEED[kind], QUOTA_PARAMETER[kind]
    if value is None:
        return Check(
            WARN,
            f"quota {kind}",
            f"no SageMaker quota named '{name}' in {target.region}: is the instance type "
            f"offered there? Check {parameter}",
        )
    if value < need:
        why = " (pre-trained and fine-tuned transforms run in parallel)" if need > 1 else ""
        return Check(
            FAIL,
            f"quota {kind}",
            f"'{name}' is {value:g}, need {need}{why}: request {need} in the Service Quotas "
            f"console (Amazon SageMaker, {target.region}), or set {parameter} to a type you "
            "have quota for",
        )
    return Check(PASS, f"quota {kind}", f"'{name}' is {value:g} (need {need})")


def quotas(target: Target) -> Iterator[Check]:
    wanted = {
        kind: quota_name(target.parameter(QUOTA_PARAMETER[kind]), kind) for kind in QUOTA_NEED
    }
    client = target.clients("service-quotas")
    try:
        values = quota_values(client, "list_service_quotas", set(wanted.values()))
        missing = set(wanted.values()) - set(values)
        if missing:  # never changed from the default: only the defaults list has it
            values |= quota_values(client, "list_aws_default_service_quotas", missing)
    except AWS_ERRORS as err:
        for kind, name in wanted.items():
            yield Check(
                WARN,
                f"quota {kind}",
                f"cannot read quotas ({error_line(err)}); check '{name}' (need "
                f">= {QUOTA_NEED[kind]}) in the Service Quotas console, Amazon SageMaker",
            )
        return
    for kind, name in wanted.items():
        yield _quota_check(target, kind, name, values.get(name))


def _given_layer(target: Target, arn: str) -> Check:
    if f":lambda:{target.region}:" not in arn:
        return Check(
            FAIL,
            "pandas-layer",
            f"PandasLayerArn {arn} is not a layer in {target.region}; use that region's ARN "
            "(aws-sdk-pandas docs, 'AWS Lambda Managed Layers')",
        )
    return Check(PASS, "pandas-layer", f"PandasLayerArn {arn} given (no SSM lookup)")


def pandas_layer(target: Target) -> Check:
    """The public SSM parameter the template resolves at deploy time exists in this region."""
    if arn := target.parameter("PandasLayerArn"):
        return _given_layer(target, arn)
    version = target.parameter("PandasLayerVersion")
    name = template_facts.pandas_layer_parameter(version)
    resolved = template_facts.pandas_layer_parameters(target.template, version, target.region)
    if wrong := [r for r in resolved if r != name]:
        return Check(
            FAIL,
            "pandas-layer",
            f"{target.template_path} resolves {wrong[0]}, but the public parameter is {name} "
            "(no region segment): the deploy would fail; fix the template's {{resolve:ssm:...}}",
        )
    try:
        value = target.clients("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except AWS_ERRORS as err:
        if aws_error(err)[0] != "ParameterNotFound":
            return Check(WARN, "pandas-layer", f"cannot read {name} ({error_line(err)})")
        return Check(
            FAIL,
            "pandas-layer",
            f"SSM parameter {name} does not exist in {target.region}: AWS SDK for pandas "
            f"{version} has no python3.13 x86_64 layer there; set PandasLayerVersion to a "
            "release that has one, or PandasLayerArn to a layer ARN",
        )
    if f":lambda:{target.region}:" not in value:
        return Check(WARN, "pandas-layer", f"{name} is {value}, not a layer in {target.region}")
    return Check(PASS, "pandas-layer", f"{name} -> {value}")
