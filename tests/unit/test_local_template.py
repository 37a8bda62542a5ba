"""radimpress_workstation.embedded.template: parameters, conditions and intrinsics resolved as CloudFormation does."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from radimpress_workstation.embedded.template import (
    NO_VALUE,
    Resolver,
    TemplateError,
    expand,
    load,
    references,
)


def _resolver(**refs) -> Resolver:
    params = {"Env": "prod", "Count": "3", "AWS::Region": "eu-west-1", "AWS::AccountId": "1"}
    attrs = {("Bucket", "Arn"): "arn:aws:s3:::b"}
    conditions = {"IsProd": True, "IsDev": False}
    return Resolver(
        params,
        refs={"Bucket": "b", **refs},
        attribute=lambda logical, name: attrs.get((logical, name)),
        condition=conditions.__getitem__,
        mappings={"Sizes": {"prod": {"Memory": 1024}}},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "Bucket"}, "b"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::b"),
        ({"Fn::GetAtt": "Bucket.Arn"}, "arn:aws:s3:::b"),
        ({"Fn::Sub": "${Bucket.Arn}/runs/*"}, "arn:aws:s3:::b/runs/*"),
        ({"Fn::Sub": "${AWS::Region}-${Env}-${!Literal}"}, "eu-west-1-prod-${Literal}"),
        ({"Fn::Sub": ["${x}/${Bucket}", {"x": {"Ref": "Env"}}]}, "prod/b"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}, "a-prod-3"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsDev", "big", "small"]}, "small"),
        ({"Fn::Equals": [{"Ref": "Count"}, 3]}, True),
        ({"Fn::Not": [{"Fn::Equals": ["a", "a"]}]}, False),
        ({"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["x", "x"]}]}, True),
        ({"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsDev"}]}, False),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, 1024),
        ({"Fn::ToJsonString": {"a": [1]}}, '{"a":[1]}'),
    ],
)
def test_intrinsics(value, expected):
    assert _resolver().resolve(value, "T") == expected


def test_no_value_removes_keys_and_items():
    value = {"keep": 1, "drop": {"Ref": "AWS::NoValue"}, "list": [1, {"Ref": "AWS::NoValue"}]}
    assert _resolver().resolve(value, "T") == {"keep": 1, "list": [1]}
    assert _resolver().resolve({"Ref": "AWS::NoValue"}, "T") is NO_VALUE


def test_unknown_references_name_where_they_are():
    with pytest.raises(TemplateError, match=r"Props\.Env\.Ref.*'Missing'"):
        _resolver().resolve({"Env": {"Ref": "Missing"}}, "Props")
    with pytest.raises(TemplateError, match=r"GetAtt Bucket\.Nope"):
        _resolver().resolve({"Fn::GetAtt": "Bucket.Nope"}, "Props")
    with pytest.raises(TemplateError, match="Fn::Transform is not supported"):
        _resolver().resolve({"Fn::Transform": {}}, "Props")


def test_references_find_ref_getatt_and_sub_names():
    value = {
        "a": {"Ref": "A"},
        "b": [{"Fn::GetAtt": "B.Arn"}],
        "c": {"Fn::Sub": "${C.Arn}/${D}/${!E}"},
        "d": {"Fn::Sub": ["${x}", {"x": {"Ref": "F"}}]},
    }
    assert references(value) == {"A", "B", "C", "D", "F"}


def _template(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_expand_applies_globals_conditions_and_keeps_local_paths(tmp_path):
    path = _template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Email: {Type: String, Default: ""}
        Conditions:
          HasEmail: !Not [!Equals [!Ref Email, ""]]
        Globals:
          Function:
            Runtime: python3.11
            CodeUri: src/
            Environment: {Variables: {A: "1"}}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Environment: {Variables: {B: !Ref Email}}
          Subscription:
            Type: AWS::SNS::Subscription
            Condition: HasEmail
            Properties: {Protocol: email, Endpoint: !Ref Email, TopicArn: x}
        """,
    )
    expanded = expand(path, region="us-east-1", account_id="1", stack_name="s")
    assert expanded.conditions == {"HasEmail": False}
    assert "Subscription" not in expanded.resources
    fn = expanded.resources["Fn"]
    assert fn["Type"] == "AWS::Lambda::Function"
    assert fn["Properties"]["Environment"]["Variables"] == {"A": "1", "B": {"Ref": "Email"}}
    assert expanded.code_dirs == {"Fn": tmp_path / "src"}
    with_email = expand(
        path, region="us-east-1", account_id="1", stack_name="s", parameters={"Email": "a@b"}
    )
    assert "Subscription" in with_email.resources


def test_missing_code_folder_and_parameter_without_default_are_named(tmp_path):
    path = _template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Needed: {Type: String}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Handler: a.b, Runtime: python3.11, CodeUri: nowhere/}
        """,
    )
    with pytest.raises(TemplateError, match="Needed has no Default"):
        expand(path, region="us-east-1", account_id="1", stack_name="s")
    with pytest.raises(TemplateError, match=r"Fn\.CodeUri 'nowhere/' is not a folder"):
        expand(path, region="us-east-1", account_id="1", stack_name="s", parameters={"Needed": "x"})


def test_load_refuses_what_is_not_a_template(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("just: text\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load(path)
    path.write_text("Resources: {A: !Ref [unclosed\n")
    with pytest.raises(TemplateError, match="cannot read template"):
        load(path)
