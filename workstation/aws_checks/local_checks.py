"""The preflight checks that read only files: region, stack name, the JumpStart spec and the
template's function policies. No AWS call is made here."""

from __future__ import annotations

import re
from collections.abc import Iterator

from radimpress_workstation.aws_checks import calls, template_facts
from radimpress_workstation.aws_checks.stack import StackResources, placeholder_values
from radimpress_workstation.aws_checks.target import FAIL, PASS, WARN, Check, Target

# The template's ResourcePrefix AllowedPattern: lowercase (SageMaker ARNs are), a letter first,
# and "<stack>-<kind>-<20 hex>" within SageMaker's 63 characters.
STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,38}")
# A stand-in stack for reading the template's policies offline (documentation account id).
SAMPLE_STACK = StackResources(
    "example",
    {
        "DataBucket": "example-data-bucket",
        "DataKey": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "RunOutcomeTopic": "arn:aws:sns:us-east-1:111122223333:example-RunOutcomeTopic",
        "SageMakerExecutionRole": "example-SageMakerExecutionRole",
    },
)


# How a resource reads in a message: the placeholders named for what they stand for.
SHOWN = {
    "bucket": "<DataBucket>",
    "key_arn": "<DataKey ARN>",
    "topic_arn": "<RunOutcomeTopic ARN>",
    "role_arn": "<SageMakerExecutionRole ARN>",
    "region": "<region>",
    "account": "<account>",
    "stack": "<stack>",
}


def region(target: Target) -> Iterator[Check]:
    """The template's SupportedRegion rule and the spec's per-region images both cover it."""
    rule = template_facts.supported_regions(target.template)
    spec_regions = sorted(target.spec.get("regions") or {})
    if rule is not None and target.region not in rule:
        yield Check(
            FAIL,
            "region",
            f"{target.region} is not in the template's SupportedRegion rule ({', '.join(rule)}): "
            "CloudFormation would refuse the deploy; use --region (make REGION=...) with one "
            "of them",
        )
    elif target.region not in spec_regions:
        yield Check(
            FAIL,
            "region",
            f"the JumpStart spec {target.spec_path} has no images for {target.region} (it has "
            f"{', '.join(spec_regions) or 'none'}); run {target.refresh} or pick one of those",
        )
    elif rule is None:
        yield Check(WARN, "region", f"{target.template_path} has no SupportedRegion rule")
    else:
        yield Check(PASS, "region", f"{target.region}: in the template's rule and the spec")


def stack_name(target: Target) -> Check:
    name = target.stack_name
    if STACK_NAME.fullmatch(name):
        return Check(
            PASS,
            "stack-name",
            f"{name} ({len(name)} characters); the deploy must pass ResourcePrefix={name}",
        )
    return Check(
        FAIL,
        "stack-name",
        f"{name!r} is not usable: lowercase letters, digits and hyphens, a letter first, at most "
        "39 characters (SageMaker names '<stack>-<kind>-<20 hex>' must fit 63 characters and "
        "SageMaker ARNs are lowercase); choose another (make STACK=...)",
    )


def jumpstart_spec(target: Target) -> Check:
    """The shipped spec names the template's model and was resolved from live metadata."""
    spec, path = target.spec, target.spec_path
    for field_name, parameter in (
        ("model_id", "JumpStartModelId"),
        ("model_version", "JumpStartModelVersion"),
    ):
        wanted = template_facts.parameter_default(target.template, parameter)
        if wanted is not None and str(spec.get(field_name)) != wanted:
            return Check(
                FAIL,
                "jumpstart-spec",
                f"{path} has {field_name} {spec.get(field_name)!r} but the template's "
                f"{parameter} is {wanted!r}: run {target.refresh} (or change {parameter})",
            )
    label = f"{spec.get('model_id')} {spec.get('model_version')}"
    if spec.get("resolved_offline"):
        return Check(
            WARN,
            "jumpstart-spec",
            f"{path} ({label}) was resolved from an offline fixture (resolved_offline: true); "
            "`make deploy` resolves it live first, or run "
            f"{target.refresh} now and commit the result",
        )
    return Check(PASS, "jumpstart-spec", f"{label}, resolved live ({spec.get('source', '?')})")


def _allowed(policy: dict, function: str, action: str, resource: str, values: dict) -> bool:
    from radimpress_workstation.embedded.iam_policy import AuthzRequest, evaluate

    context = {k: calls.fill(v, values) for k, v in calls.CALL_CONTEXT.get(action, {}).items()}
    principal = f"arn:aws:iam::{values['account']}:role/{values['stack']}-{function}Role"
    request = AuthzRequest(principal, action, calls.fill(resource, values), context)
    return evaluate(request, [(f"{function} Policies", policy)]).allowed


def _function_gaps(target: Target, function: str, values: dict) -> list[str]:
    """What the function's Policies in the template do not allow of the calls its code makes."""
    try:
        policy = template_facts.function_policy(target.template, function, values)
        return [
            f"{function}'s Policies do not allow {action} on "
            f"{calls.fill(resource, SHOWN)}, which "
            "its code calls; add it to the function's Policies in the template"
            for action, resource in calls.FUNCTION_CALLS[function]
            if not _allowed(policy, function, action, resource, values)
        ]
    except ValueError as err:  # TemplateError, or a statement iam_policy cannot read
        return [f"cannot read {function}'s Policies ({err})"]


def template_policies(target: Target) -> Iterator[Check]:
    """Offline: the template's function policies allow every call of ``FUNCTION_CALLS``, decided
    by the embedded stack's IAM evaluator (``embedded/iam_policy.py``)."""
    declared = template_facts.functions(target.template)
    values = placeholder_values(SAMPLE_STACK, region="us-east-1", account="111122223333")
    gaps = [
        f"{target.template_path} has no function {function} (workstation/aws_checks/calls.py "
        "lists one)"
        for function in calls.FUNCTION_CALLS
        if function not in declared
    ]
    for function in calls.FUNCTION_CALLS:
        if function in declared:
            gaps += _function_gaps(target, function, values)
    yield from (Check(FAIL, "template-policies", gap) for gap in gaps)
    for function in sorted(set(declared) - set(calls.FUNCTION_CALLS)):
        yield Check(
            WARN,
            "template-policies",
            f"no call table for {function} in workstation/aws_checks/calls.py: not checked",
        )
    if not gaps:
        count = sum(len(pairs) for pairs in calls.FUNCTION_CALLS.values())
        yield Check(
            PASS,
            "template-policies",
            f"the Policies of {len(calls.FUNCTION_CALLS)} functions allow the {count} calls "
            "their code makes",
        )
