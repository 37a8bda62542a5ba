"""After deploy: each function's role, asked of IAM for the calls its code makes.

``iam:SimulatePrincipalPolicy`` (IAM API reference) evaluates the role's identity policies,
permissions boundary and the organization's SCPs for each action on each resource ARN, with the
request context we pass (``ContextEntries``: the SSE-KMS headers of our writes, the service a
role is passed to). ``EvalDecision`` is ``allowed``, ``explicitDeny`` or ``implicitDeny``; a
result may list ``MissingContextValues``. Resource policies (the bucket policy, the key policy)
are not part of this simulation: the embedded stack evaluates those offline
(``embedded/aws_authorization.py``), and ``template-policies`` checks the template itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from radimpress_workstation.aws_checks import calls, template_facts
from radimpress_workstation.aws_checks.account_checks import DEAD_STACK
from radimpress_workstation.aws_checks.aws import AWS_ERRORS, DENIED_CODES, aws_error, error_line
from radimpress_workstation.aws_checks.stack import placeholder_values, stack_resources
from radimpress_workstation.aws_checks.target import FAIL, PASS, WARN, Check, Target


def context_entries(actions: list[str], values: dict[str, str]) -> list[dict[str, Any]]:
    """The request context of ``actions`` (calls.CALL_CONTEXT), one entry a key."""
    entries: dict[str, dict[str, Any]] = {}
    for action in actions:
        for key, value in calls.CALL_CONTEXT.get(action, {}).items():
            entries[key] = {
                "ContextKeyName": key,
                "ContextKeyValues": [calls.fill(value, values)],
                "ContextKeyType": "string",
            }
    return list(entries.values())


def simulation_requests(
    role_arn: str, pairs: list[tuple[str, str]], values: dict[str, str]
) -> list[dict[str, Any]]:
    """One SimulatePrincipalPolicy request per resource: its actions and their context."""
    by_resource: dict[str, list[str]] = {}
    for action, resource in pairs:
        actions = by_resource.setdefault(calls.fill(resource, values), [])
        if action not in actions:
            actions.append(action)
    requests = []
    for resource, actions in by_resource.items():
        request: dict[str, Any] = {
            "PolicySourceArn": role_arn,
            "ActionNames": actions,
            "ResourceArns": [resource],
        }
        if context := context_entries(actions, values):
            request["ContextEntries"] = context
        requests.append(request)
    return requests


def _refusal(result: dict[str, Any], resource: str) -> str:
    missing = result.get("MissingContextValues") or [
        key
        for specific in result.get("ResourceSpecificResults") or []
        for key in specific.get("MissingContextValues") or []
    ]
    text = f"{result['EvalActionName']} on {result.get('EvalResourceName', resource)} is "
    text += str(result.get("EvalDecision"))
    return text + (f" (missing context: {', '.join(missing)})" if missing else "")


def simulate(
    iam: Any, role_arn: str, pairs: list[tuple[str, str]], values: dict[str, str]
) -> list[str]:
    """One line for every pair the role's policies do not allow; none when all are allowed."""
    refused = []
    paginator = iam.get_paginator("simulate_principal_policy")
    for request in simulation_requests(role_arn, pairs, values):
        for page in paginator.paginate(**request):
            for result in page.get("EvaluationResults", []):
                if result.get("EvalDecision") != "allowed":
                    refused.append(_refusal(result, request["ResourceArns"][0]))
    return refused


def _function_checks(target: Target, function: str, role: str, values: dict) -> Iterator[Check]:
    name, pairs = f"permissions {function}", calls.FUNCTION_CALLS[function]
    role_arn = f"arn:{target.partition}:iam::{target.account}:role/{role}"
    try:
        refused = simulate(target.clients("iam"), role_arn, pairs, values)
    except AWS_ERRORS as err:
        hint = (
            " (you need iam:SimulatePrincipalPolicy)" if aws_error(err)[0] in DENIED_CODES else ""
        )
        yield Check(WARN, name, f"not simulated ({error_line(err)}){hint}")
        return
    for line in refused:
        yield Check(
            FAIL,
            name,
            f"{line} for role {role}; add the action to {function}'s Policies in template.yaml "
            "and deploy again",
        )
    if not refused:
        yield Check(PASS, name, f"{len(pairs)} calls allowed for role {role}")


def permissions(target: Target) -> Iterator[Check]:
    """Each function role of the deployed stack, simulated (nothing when not deployed)."""
    if target.stack is None or str(target.stack.get("StackStatus")) in DEAD_STACK:
        return
    assert target.account is not None
    try:
        resources = stack_resources(target.clients("cloudformation"), target.stack_name)
    except AWS_ERRORS as err:
        yield Check(WARN, "permissions", f"cannot list the stack's resources ({error_line(err)})")
        return
    values = placeholder_values(
        resources, region=target.region, account=target.account, partition=target.partition
    )
    for function in calls.FUNCTION_CALLS:
        role = resources.get(f"{function}Role")
        if role is None and template_facts.conditional(target.template, function):
            continue  # deployed only where its template Condition holds
        if role is None:
            yield Check(
                FAIL,
                f"permissions {function}",
                f"{target.stack_name} has no {function}Role: was it deployed from this template?",
            )
        else:
            yield from _function_checks(target, function, role, values)
