"""What template.yaml says that a deployment depends on, read without AWS.

The template is parsed, and function policies resolved, with the embedded runtime's own
CloudFormation loader and intrinsic resolver (``embedded/template.py``), so preflight reads the
template exactly as the embedded stack does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.aws_checks import walk

PANDAS_PREFIX = "/aws/service/aws-sdk-pandas/"
# Lazy up to the closing braces: the name itself holds ${...} before Fn::Sub substitutes them.
_RESOLVE_SSM = re.compile(r"\{\{resolve:ssm:(.+?)\}\}")


def load_template(path: Path) -> dict[str, Any]:
    """The template as data (short tags become their long forms); TemplateError (a ValueError)
    when it is not a template."""
    from radimpress_workstation.embedded.template import load

    return load(path)


def parameter_default(template: Mapping[str, Any], name: str) -> str | None:
    spec = (template.get("Parameters") or {}).get(name) or {}
    return None if "Default" not in spec else str(spec["Default"])


def supported_regions(template: Mapping[str, Any]) -> list[str] | None:
    """The region list of the ``SupportedRegion`` rule's ``Fn::Contains`` assertion, if any."""
    rule = (template.get("Rules") or {}).get("SupportedRegion") or {}
    for assertion in rule.get("Assertions") or []:
        contains = (assertion or {}).get("Assert", {}).get("Fn::Contains")
        if isinstance(contains, list) and contains and isinstance(contains[0], list):
            return [str(region) for region in contains[0]]
    return None


def pandas_layer_parameters(template: Mapping[str, Any], version: str, region: str) -> list[str]:
    """The SSM parameter names the template resolves for the pandas layer, for ``version``."""
    found = []
    for text in walk(template.get("Resources") or {}):
        if not isinstance(text, str):
            continue
        for name in _RESOLVE_SSM.findall(text):
            if name.startswith(PANDAS_PREFIX):
                name = name.replace("${PandasLayerVersion}", version)
                found.append(name.replace("${AWS::Region}", region))
    return found


def pandas_layer_parameter(version: str) -> str:
    """The documented public parameter, read in the stack's region (no region segment):
    aws/aws-sdk-pandas docs/source/install.rst, "AWS Lambda Layer" / SSM public parameters."""
    return f"{PANDAS_PREFIX}{version}/py3.13/x86_64/layer-arn"


def functions(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the template's Lambda functions (SAM or plain)."""
    kinds = ("AWS::Serverless::Function", "AWS::Lambda::Function")
    return [
        name
        for name, resource in (template.get("Resources") or {}).items()
        if (resource or {}).get("Type") in kinds
    ]


def conditional(template: Mapping[str, Any], logical_id: str) -> bool:
    """True when the resource exists only where a template Condition holds (DeployEndpoint's
    function, for one): a stack may lawfully lack it."""
    return "Condition" in ((template.get("Resources") or {}).get(logical_id) or {})


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolver(template: Mapping[str, Any], values: Mapping[str, str]) -> Any:
    """Intrinsics resolved to the ``calls.py`` placeholder values (a sample or a real stack's)."""
    from radimpress_workstation.embedded.template import Resolver, TemplateError

    bucket, key_arn = values["bucket"], values["key_arn"]
    parameters: dict[str, Any] = {
        name: (spec or {}).get("Default")
        for name, spec in (template.get("Parameters") or {}).items()
    }
    parameters |= {
        "AWS::Partition": key_arn.split(":")[1],
        "AWS::Region": values["region"],
        "AWS::AccountId": values["account"],
        "AWS::StackName": values["stack"],
        "AWS::URLSuffix": "amazonaws.com",
    }
    refs = {
        "DataBucket": bucket,
        "DataKey": key_arn.rsplit("/", 1)[-1],
        "RunOutcomeTopic": values["topic_arn"],
    }
    attributes = {
        ("DataBucket", "Arn"): f"arn:{parameters['AWS::Partition']}:s3:::{bucket}",
        ("DataKey", "Arn"): key_arn,
        ("SageMakerExecutionRole", "Arn"): values["role_arn"],
        # Passed to Bedrock only (no call of calls.py names it yet): an example ARN in the
        # stack's account, so StartTransform's policy reads offline.
        ("BedrockBatchRole", "Arn"): (
            f"arn:{parameters['AWS::Partition']}:iam::{values['account']}:role/"
            f"{values['stack']}-BedrockBatchRole"
        ),
    }

    def no_conditions(name: str) -> bool:
        raise TemplateError(f"condition {name} in a function policy is not evaluated here")

    return Resolver(parameters, refs, lambda *attribute: attributes.get(attribute), no_conditions)


def function_policy(
    template: Mapping[str, Any], function: str, values: Mapping[str, str]
) -> dict[str, Any]:
    """The function's inline ``Policies`` statements as one policy document, intrinsics resolved.

    SAM policy templates (``S3ReadPolicy: ...``) and managed policy names are not expanded: our
    functions use inline statements only, and a call such a policy would allow shows as not
    allowed. An intrinsic this cannot resolve raises TemplateError (a ValueError).
    """
    properties = (template.get("Resources") or {}).get(function, {}).get("Properties") or {}
    resolver = _resolver(template, values)
    statements: list[Any] = []
    for index, policy in enumerate(_listed(properties.get("Policies") or [])):
        if isinstance(policy, dict) and "Statement" in policy:
            where = f"{function}.Properties.Policies[{index}]"
            statements += _listed(resolver.resolve(policy["Statement"], where))
    return {"Version": "2012-10-17", "Statement": statements}
