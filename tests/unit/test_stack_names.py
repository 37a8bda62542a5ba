"""Two stacks in one account and region get different names for everything that must be unique.

The template goes through the SAM transform (aws-sam-translator, as `sam deploy` does); the names
are then evaluated for two stack names. A Glue database, Athena workgroup, log group, KMS alias or
SageMaker model named the same in both stacks would make the second deployment (or its first
run) fail, or worse, share the first stack's pre-trained model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from radimpress import jumpstart
from radimpress.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("radimpress", "radimpress-prod")


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    # As `sam package` leaves it: local code and definition paths replaced by S3 URIs.
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/functions.zip"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            resource["Properties"]["DefinitionUri"] = "s3://artifacts/pipeline.asl.json"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    try:
        return translator.translate(template, parameter_values={}, get_managed_policy_map=dict)
    finally:
        translator.metrics.publish()


def evaluate(value: Any, stack: str) -> Any:
    """The few intrinsics names are built with, for one stack name."""
    if isinstance(value, str):
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        return {"AWS::StackName": stack, "AWS::Region": "us-east-1"}[arg]
    if key == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        return text.replace("${AWS::StackName}", stack).replace("${AWS::Region}", "us-east-1")
    if key == "Fn::Join":
        return arg[0].join(evaluate(v, stack) for v in evaluate_list(arg[1], stack))
    raise AssertionError(f"unexpected intrinsic {key} in a name")


def evaluate_list(value: Any, stack: str) -> list[str]:
    if isinstance(value, list):
        return [evaluate(v, stack) for v in value]
    ((key, arg),) = value.items()
    assert key == "Fn::Split", key
    return evaluate(arg[1], stack).split(arg[0])


def names(resources: dict[str, Any], stack: str) -> dict[str, str]:
    found = {
        "glue database": evaluate(
            resources["ResultsDatabase"]["Properties"]["DatabaseInput"]["Name"], stack
        ),
        "athena workgroup": evaluate(resources["AthenaWorkGroup"]["Properties"]["Name"], stack),
        "kms alias": evaluate(resources["DataKeyAlias"]["Properties"]["AliasName"], stack),
        "state machine logs": evaluate(
            resources["StateMachineLogGroup"]["Properties"]["LogGroupName"], stack
        ),
    }
    prefixes = {
        evaluate(r["Properties"]["Environment"]["Variables"]["RADIMPRESS_RESOURCE_PREFIX"], stack)
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    (prefix,) = prefixes
    spec = load_spec("jumpstart-flan-t5-xl", region="us-east-1")
    found["pre-trained model"] = jumpstart.pretrained_model_name(spec, prefix)
    found["training job"] = jumpstart.resource_name(prefix, "ft", "run-1")
    return found


def test_two_stacks_get_different_names(transformed):
    resources = transformed["Resources"]
    first, second = (names(resources, stack) for stack in STACKS)
    for what, name in first.items():
        assert name != second[what], what
    assert first["glue database"] == "radimpress"
    assert second["glue database"] == "radimpress_prod"  # Glue names take no hyphens
    assert first["pre-trained model"].startswith("radimpress-pt-")
    assert second["pre-trained model"].startswith("radimpress-prod-pt-")


def test_sagemaker_iam_is_scoped_to_the_stacks_own_names(transformed):
    text = str(transformed["Resources"])
    assert "${AWS::StackName}-*" in text
    assert "ResourcePrefix" not in text  # one fixed prefix would let stacks share jobs/models


def test_a_39_character_stack_name_still_gives_valid_sagemaker_names():
    prefix = "s" * 39
    assert len(jumpstart.resource_name(prefix, "ft", "x" * 80)) == 63
