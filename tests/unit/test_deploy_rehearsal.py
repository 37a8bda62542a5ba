"""The deploy rehearsed offline: every deploy-time lookup exists and the template's Rules hold.

CloudFormation resolves ``{{resolve:ssm:NAME}}`` and checks ``Rules`` before it creates anything;
a parameter that does not exist or a false assertion fails the deploy (CloudFormation User Guide,
"Get a plaintext value from AWS Systems Manager Parameter Store" and "Rules"). moto knows no AWS
public parameter, so these tests hold the template to workstation/embedded/public_parameters.json,
a copy of the publisher's list (aws/aws-sdk-pandas docs/source/layers.rst and install.rst, via
../shared/aws-public), and compare that copy with ../shared/aws-public when it is there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from radimpress_workstation.embedded import public_parameters
from radimpress_workstation.embedded.template import Resolver, TemplateError, expand, load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SHARED_LAYERS = ROOT.parent / "shared" / "aws-public" / "aws-sdk-pandas-layers.json"
ACCOUNT = "123456789012"


def supported_regions() -> list[str]:
    rule = load(TEMPLATE)["Rules"]["SupportedRegion"]["Assertions"][0]["Assert"]
    regions, _ = rule["Fn::Contains"]
    return regions


def expanded(region: str = "us-east-1", stack: str = "radimpress", **parameters: str):
    return expand(
        TEMPLATE,
        region=region,
        account_id=ACCOUNT,
        stack_name=stack,
        parameters={"ResourcePrefix": stack, **parameters},
    )


def resolver(exp) -> Resolver:
    return Resolver(
        exp.parameters,
        refs={logical: f"{logical}-id" for logical in exp.resources},
        attribute=lambda logical, name: f"{logical}.{name}",
        condition=lambda name: exp.conditions[name],
        mappings=exp.mappings,
    )


def dynamic_references(value: Any) -> list[str]:
    if isinstance(value, str):
        return re.findall(r"\{\{resolve:[^}]+\}\}", value)
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in dynamic_references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in dynamic_references(item)]
    return []


@pytest.mark.parametrize("region", supported_regions())
def test_every_ssm_reference_names_a_public_parameter_of_that_region(region):
    exp = expanded(region)
    resolved = resolver(exp).resolve(exp.resources, "Resources")
    references = dynamic_references(resolved)
    assert references == [
        "{{resolve:ssm:/aws/service/aws-sdk-pandas/3.17.0/py3.13/x86_64/layer-arn}}"
    ]
    layer = public_parameters.resolve_dynamic_reference(references[0], region)
    # The published layer for python3.13 on x86_64 in that region (layers.rst).
    assert re.fullmatch(
        rf"arn:aws:lambda:{region}:336392948345:layer:AWSSDKPandas-Python313:\d+", layer
    )


def test_a_layer_arn_given_as_parameter_skips_the_lookup():
    arn = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:14"
    exp = expanded(PandasLayerArn=arn)
    resolved = resolver(exp).resolve(exp.resources["PublishFunction"], "PublishFunction")
    assert resolved["Properties"]["Layers"] == [arn]
    assert dynamic_references(resolver(exp).resolve(exp.resources, "Resources")) == []


@pytest.mark.parametrize(
    "name",
    [
        # The path the template used before the review: a region segment the publisher never had.
        "/aws/service/aws-sdk-pandas/3.17.0/us-east-1/py3.13/x86_64/layer-arn",
        "/aws/service/aws-sdk-pandas/9.9.9/py3.13/x86_64/layer-arn",  # no such release
        "/aws/service/aws-sdk-pandas/3.17.0/py3.14/x86_64/layer-arn",  # no such runtime
    ],
)
def test_a_parameter_that_does_not_exist_fails_like_the_deploy(name):
    with pytest.raises(public_parameters.MissingPublicParameter, match="does not exist"):
        public_parameters.resolve_dynamic_reference("{{resolve:ssm:" + name + "}}", "us-east-1")


def test_a_region_the_layer_is_not_published_in_fails():
    name = "/aws/service/aws-sdk-pandas/3.17.0/py3.13/x86_64/layer-arn"
    with pytest.raises(public_parameters.MissingPublicParameter, match="not published in"):
        public_parameters.lookup(name, "xx-nowhere-1")


@pytest.mark.shared_data  # CI has ../shared beside the clone: a missing list fails strict runs
def test_the_shipped_parameter_table_equals_the_publishers_list():
    if not SHARED_LAYERS.is_file():
        pytest.skip("../shared/aws-public is not present (the publisher's list to compare with)")
    published = json.loads(SHARED_LAYERS.read_text(encoding="utf-8"))
    version = published["library_version"]
    expected: dict[str, dict[str, str]] = {}
    for row in published["layers"]:
        if row["python"] == "3.13":
            name = f"/aws/service/aws-sdk-pandas/{version}/py3.13/{row['arch']}/layer-arn"
            expected.setdefault(name, {})[row["region"]] = row["layer_arn"]
    assert public_parameters.table()["parameters"] == expected
    assert load(TEMPLATE)["Parameters"]["PandasLayerVersion"]["Default"] == version


@pytest.mark.parametrize("region", ["eu-central-1", "ap-southeast-2"])
def test_the_region_rule_refuses_a_region_the_spec_has_no_images_for(region):
    with pytest.raises(TemplateError, match=r"Rules\.SupportedRegion fails: The JumpStart"):
        expanded(region)


def test_the_supported_regions_are_the_specs():
    spec = json.loads(
        (ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json").read_text(encoding="utf-8")
    )
    assert sorted(supported_regions()) == sorted(spec["regions"])


def test_the_stack_name_rule_requires_the_resource_prefix_to_be_the_stack_name():
    with pytest.raises(TemplateError, match=r"Rules\.StackNameIsUsable fails: ResourcePrefix"):
        expand(
            TEMPLATE,
            region="us-east-1",
            account_id=ACCOUNT,
            stack_name="radimpress-prod",
            parameters={"ResourcePrefix": "radimpress"},
        )


@pytest.mark.parametrize(
    "name",
    [
        "Radimpress",  # SageMaker lowercases names in ARNs: IAM resources would never match
        "radimpress_prod",
        "1radimpress",
        "r" + "a" * 39,  # 40 characters: <prefix>-<kind>-<20 hex> would pass 63
    ],
)
def test_stack_names_sagemaker_cannot_carry_are_refused(name):
    with pytest.raises(TemplateError, match="ResourcePrefix"):
        expanded(stack=name)


def test_the_longest_allowed_stack_name_deploys():
    name = "r" + "a" * 38
    assert expanded(stack=name).parameters["ResourcePrefix"] == name


def test_the_dead_letter_key_condition_names_the_upload_rules_real_arn():
    exp = expanded(region="eu-west-1", stack="radimpress-prod")
    resolved = resolver(exp).resolve(exp.resources, "Resources")
    rules = [r for r in resolved.values() if r["Type"] == "AWS::Events::Rule"]
    # The upload rule (the one with the KMS dead-letter queue); the execution-status rule of
    # ReleaseStoppedRun has no dead-letter queue, so the key policy names only the upload rule.
    uploads = [r for r in rules if any("DeadLetterConfig" in t for t in r["Properties"]["Targets"])]
    assert len(uploads) == 1 and len(rules) == 2
    name = uploads[0]["Properties"]["Name"]
    assert name == "radimpress-prod-uploads"
    rule_arn = f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{name}"
    statements = resolved["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    (events,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"] == rule_arn
