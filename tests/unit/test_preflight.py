"""`radimpress preflight`, offline: every AWS call answered by botocore's Stubber, its request
pinned (``expected``), so a check that asks the wrong question fails here.

Request and response shapes are written by hand from the API references: STS GetCallerIdentity;
CloudFormation DescribeStacks (a missing stack is a ``ValidationError`` "Stack with id ... does
not exist") and ListStackResources; Service Quotas ListServiceQuotas / ListAWSDefaultServiceQuotas
(SageMaker quota names "<type> for training job usage" / "<type> for transform job usage");
SSM GetParameter (``ParameterNotFound``); IAM SimulatePrincipalPolicy (``EvalDecision``
``allowed | explicitDeny | implicitDeny``, ``ContextEntries``). The pandas layer parameter and
ARN are aws/aws-sdk-pandas docs/source/install.rst and layers.rst (3.17.0, us-east-1, python3.13
x86_64), as copied in ../shared/aws-public/aws-sdk-pandas-layers.json.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_stubs import ACCOUNT, REGION, StubbedAws, patched_session

from radimpress_training.jumpstart_resolver import MANIFEST_ENV
from radimpress_workstation.aws_checks import (
    account_checks,
    calls,
    live_spec,
    local_checks,
    permissions,
    template_facts,
)
from radimpress_workstation.aws_checks.aws import Clients
from radimpress_workstation.aws_checks.target import Check, Target
from radimpress_workstation.cli import main
from radimpress_workstation.commands import preflight

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SPEC = REPO / "functions/radimpress/specs/jumpstart-flan-t5-xl.json"
STACK = "radimpress"
PANDAS_PARAMETER = "/aws/service/aws-sdk-pandas/3.17.0/py3.13/x86_64/layer-arn"
PANDAS_LAYER = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:14"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/newcomer"
# The physical ids a deployed stack would have (CloudFormation-generated names).
BUCKET = "radimpress-databucket-1a2b3c4d5e6f"
KEY_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:radimpress-RunOutcomeTopic-Q1w2E3r4T5y6"
PUBLISH_ROLE = "radimpress-PublishFunctionRole-AbCdEf123456"
SAGEMAKER_ROLE = "radimpress-SageMakerExecutionRole-ZxCvBn098765"
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch) -> Iterator[StubbedAws]:
    fake = patched_session(monkeypatch, preflight)
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def template() -> dict:
    return template_facts.load_template(TEMPLATE)


def shipped_spec() -> dict:
    return json.loads(SPEC.read_text(encoding="utf-8"))


def target(aws: StubbedAws, template: dict, **changes) -> Target:
    values = {
        "template_path": TEMPLATE,
        "template": template,
        "spec_path": SPEC,
        "spec": shipped_spec(),
        "region": REGION,
        "stack_name": STACK,
        "clients": Clients(aws, changes.get("region", REGION)),
        "account": ACCOUNT,
    }
    return Target(**(values | changes))


def lines(checks) -> list[str]:
    return [check.line() for check in checks]


def caller_identity(aws: StubbedAws) -> None:
    aws.add(
        "sts",
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": CALLER},
        {},
    )


def quota_listing(aws: StubbedAws, operation: str, quotas: dict[str, float]) -> None:
    aws.add(
        "service-quotas",
        operation,
        {
            "Quotas": [
                {"ServiceCode": "sagemaker", "QuotaName": name, "Value": value}
                for name, value in quotas.items()
            ]
        },
        {"ServiceCode": "sagemaker"},
    )


# ---- region, stack name, spec file (no AWS) ---------------------------------------------------


def test_unsupported_region_fails_naming_the_supported_ones(aws, template) -> None:
    (check,) = local_checks.region(target(aws, template, region="ap-south-1"))
    assert check.status == "FAIL"
    assert "ap-south-1 is not in the template's SupportedRegion rule" in check.message
    assert "eu-west-1, us-east-1, us-west-2" in check.message


def test_supported_region_passes_and_a_region_without_images_fails(aws, template) -> None:
    assert next(local_checks.region(target(aws, template))).status == "PASS"
    spec = shipped_spec()
    del spec["regions"]["us-east-1"]
    (check,) = local_checks.region(target(aws, template, spec=spec))
    assert check.status == "FAIL"
    assert "has no images for us-east-1" in check.message
    assert "make resolve-jumpstart REGION=us-east-1" in check.message


@pytest.mark.parametrize("name", ["Radimpress", "r" * 40, "1radimpress", "radim_press"])
def test_stack_names_sagemaker_cannot_use_fail(aws, template, name) -> None:
    check = local_checks.stack_name(target(aws, template, stack_name=name))
    assert check.status == "FAIL" and "at most 39 characters" in check.message


def test_a_usable_stack_name_says_the_resource_prefix_to_pass(aws, template) -> None:
    check = local_checks.stack_name(target(aws, template, stack_name="r" * 39))
    assert check.status == "PASS" and f"ResourcePrefix={'r' * 39}" in check.message


def test_an_offline_spec_warns_with_the_command_that_refreshes_it(aws, template) -> None:
    assert shipped_spec()["resolved_offline"] is True  # what the repository ships today
    check = local_checks.jumpstart_spec(target(aws, template))
    assert check.status == "WARN"
    assert "resolved_offline: true" in check.message
    assert "make resolve-jumpstart REGION=us-east-1" in check.message


def test_a_spec_for_another_model_version_fails(aws, template) -> None:
    spec = shipped_spec() | {"model_version": "2.2.3", "resolved_offline": False}
    check = local_checks.jumpstart_spec(target(aws, template, spec=spec))
    assert check.status == "FAIL"
    assert "model_version '2.2.3'" in check.message and "JumpStartModelVersion" in check.message


# ---- the template's function policies (offline, the embedded stack's IAM evaluator) ---------


def test_the_shipped_template_allows_every_call_the_functions_make(aws, template) -> None:
    checks = list(local_checks.template_policies(target(aws, template)))
    assert [c.status for c in checks] == ["PASS"], lines(checks)


def test_a_policy_missing_a_call_fails_naming_function_and_action(aws, template) -> None:
    """Defect 3 of issue 17 put back: Publish without s3:DeleteObject cannot roll back."""
    broken = copy.deepcopy(template)
    statements = broken["Resources"]["PublishFunction"]["Properties"]["Policies"][0]["Statement"]
    for statement in statements:
        if isinstance(statement["Action"], list) and "s3:DeleteObject" in statement["Action"]:
            statement["Action"].remove("s3:DeleteObject")
    checks = list(local_checks.template_policies(target(aws, broken)))
    assert [c.status for c in checks] == ["FAIL"]
    assert "PublishFunction's Policies do not allow s3:DeleteObject on " in checks[0].message
    assert "arn:aws:s3:::<DataBucket>/results/" in checks[0].message


# ---- credentials -------------------------------------------------------------------------------


def test_no_credentials_is_one_clear_failure_and_exit_1(no_aws_credentials, capsys) -> None:
    """A real boto3 session with nothing to find: botocore raises NoCredentialsError when it
    would sign GetCallerIdentity (no network: the instance metadata lookup is off)."""
    code = main(["preflight", "--region", REGION, "--template", str(TEMPLATE), "--spec", str(SPEC)])
    out = capsys.readouterr().out
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("FAIL credentials: no usable AWS credentials (NoCredentialsError")
    assert "aws configure" in first and "aws sso login" in first
    assert "WARN quotas: not checked: no usable AWS credentials" in out
    assert "WARN permissions: not checked" in out


def test_credentials_pass_names_account_and_caller(aws, template) -> None:
    caller_identity(aws)
    checked = target(aws, template, account=None)
    check = account_checks.credentials(checked)
    assert check.line() == f"PASS credentials: account {ACCOUNT} as {CALLER}"
    assert checked.account == ACCOUNT and checked.partition == "aws"


# ---- the stack ---------------------------------------------------------------------------------


def described_stack(aws: StubbedAws, status: str, parameters: list | None = None) -> None:
    stack = {"StackName": STACK, "CreationTime": WHEN, "StackStatus": status}
    stack |= {"Parameters": parameters} if parameters else {}
    aws.add("cloudformation", "describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})


def test_a_stack_not_deployed_yet_passes_and_says_to_run_again(aws, template) -> None:
    aws.error(
        "cloudformation",
        "describe_stacks",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
        {"StackName": STACK},
    )
    check = account_checks.stack_status(target(aws, template))
    assert check.status == "PASS" and "not deployed in us-east-1 yet" in check.message


def test_a_rolled_back_stack_fails_with_how_to_start_again(aws, template) -> None:
    described_stack(aws, "ROLLBACK_COMPLETE")
    check = account_checks.stack_status(target(aws, template))
    assert check.status == "FAIL"
    assert "ROLLBACK_COMPLETE" in check.message and f"make delete STACK={STACK}" in check.message


# ---- quotas ------------------------------------------------------------------------------------


def test_quotas_below_what_a_run_needs_fail(aws, template) -> None:
    quota_listing(
        aws,
        "list_service_quotas",
        {
            "ml.p3.16xlarge for training job usage": 0.0,
            "ml.g5.2xlarge for transform job usage": 1.0,
            "ml.g5.2xlarge for endpoint usage": 4.0,
        },
    )
    training, transform = account_checks.quotas(target(aws, template))
    assert training.line().startswith(
        "FAIL quota training: 'ml.p3.16xlarge for training job usage' is 0, need 1: request 1 "
        "in the Service Quotas console (Amazon SageMaker, us-east-1)"
    )
    assert transform.status == "FAIL"
    assert "'ml.g5.2xlarge for transform job usage' is 1, need 2" in transform.message
    assert "run in parallel" in transform.message


def test_a_quota_never_raised_is_read_from_the_defaults(aws, template) -> None:
    quota_listing(aws, "list_service_quotas", {"ml.g5.2xlarge for transform job usage": 2.0})
    quota_listing(
        aws, "list_aws_default_service_quotas", {"ml.p3.16xlarge for training job usage": 1.0}
    )
    training, transform = account_checks.quotas(target(aws, template))
    assert training.line() == (
        "PASS quota training: 'ml.p3.16xlarge for training job usage' is 1 (need 1)"
    )
    assert transform.status == "PASS"


def test_quotas_follow_the_instance_type_given(aws, template) -> None:
    quota_listing(aws, "list_service_quotas", {"ml.g5.12xlarge for transform job usage": 2.0})
    quota_listing(
        aws, "list_aws_default_service_quotas", {"ml.p3.8xlarge for training job usage": 1.0}
    )
    overrides = {"TrainingInstanceType": "ml.p3.8xlarge", "TransformInstanceType": "ml.g5.12xlarge"}
    checked = list(account_checks.quotas(target(aws, template, overrides=overrides)))
    assert [c.status for c in checked] == ["PASS", "PASS"], lines(checked)


def test_unreadable_quotas_warn_with_the_quota_to_check_by_hand(aws, template) -> None:
    aws.error(
        "service-quotas",
        "list_service_quotas",
        "AccessDeniedException",
        "not authorized to perform: servicequotas:ListServiceQuotas",
        {"ServiceCode": "sagemaker"},
    )
    checked = list(account_checks.quotas(target(aws, template)))
    assert [c.status for c in checked] == ["WARN", "WARN"]
    assert "'ml.p3.16xlarge for training job usage' (need >= 1)" in checked[0].message


# ---- the pandas layer parameter ---------------------------------------------------------------


def pandas_parameter(aws: StubbedAws) -> None:
    aws.add(
        "ssm",
        "get_parameter",
        {"Parameter": {"Name": PANDAS_PARAMETER, "Type": "String", "Value": PANDAS_LAYER}},
        {"Name": PANDAS_PARAMETER},
    )


def test_missing_ssm_parameter_fails_naming_it(aws, template) -> None:
    aws.error("ssm", "get_parameter", "ParameterNotFound", "", {"Name": PANDAS_PARAMETER})
    check = account_checks.pandas_layer(target(aws, template))
    assert check.status == "FAIL"
    assert f"SSM parameter {PANDAS_PARAMETER} does not exist in us-east-1" in check.message
    assert "PandasLayerVersion" in check.message


def test_the_documented_parameter_resolves_to_a_layer(aws, template) -> None:
    pandas_parameter(aws)
    check = account_checks.pandas_layer(target(aws, template))
    assert check.line() == f"PASS pandas-layer: {PANDAS_PARAMETER} -> {PANDAS_LAYER}"


def test_a_template_with_a_region_segment_fails_before_asking_ssm(aws, template) -> None:
    """Defect 2 of issue 17 put back: the parameter with a region segment does not exist."""
    old = copy.deepcopy(template)
    layers = old["Resources"]["PublishFunction"]["Properties"]["Layers"]
    text = layers[0]["Fn::If"][2]["Fn::Sub"]
    layers[0]["Fn::If"][2]["Fn::Sub"] = text.replace("}/py3.13", "}/${AWS::Region}/py3.13")
    check = account_checks.pandas_layer(target(aws, old))
    assert check.status == "FAIL"
    assert "/aws/service/aws-sdk-pandas/3.17.0/us-east-1/py3.13/x86_64/layer-arn" in check.message
    assert "(no region segment)" in check.message


# ---- the live JumpStart spec -------------------------------------------------------------------


def live(monkeypatch, answer: dict) -> None:
    monkeypatch.delenv(MANIFEST_ENV, raising=False)
    monkeypatch.setattr(live_spec, "resolve_live", lambda target: answer)


def test_a_live_spec_that_differs_fails_naming_the_field(monkeypatch, aws, template) -> None:
    shipped = shipped_spec() | {"resolved_offline": False, "source": "sagemaker 2.257.7 ..."}
    now = copy.deepcopy(shipped) | {"source": "sagemaker 2.258.0, resolved today"}
    now["training"]["hyperparameters"]["epochs"] = "1"
    live(monkeypatch, now)
    check = live_spec.live_spec(target(aws, template, spec=shipped))
    assert check.status == "FAIL"
    assert 'training.hyperparameters.epochs: "3" -> "1"' in check.message
    assert "in 1 fields" in check.message  # the source note is not a difference
    assert "make resolve-jumpstart REGION=us-east-1" in check.message


def test_an_offline_spec_that_differs_only_warns(monkeypatch, aws, template) -> None:
    now = shipped_spec() | {"resolved_offline": False}
    now["training"] = now["training"] | {"image_uri": "763104351884.dkr.ecr.example/live:1"}
    live(monkeypatch, now)
    check = live_spec.live_spec(target(aws, template))
    assert check.status == "WARN" and "training.image_uri: " in check.message


def test_a_live_spec_equal_to_the_shipped_one_passes(monkeypatch, aws, template) -> None:
    live(monkeypatch, shipped_spec() | {"source": "another day", "resolved_offline": False})
    assert live_spec.live_spec(target(aws, template)).status == "PASS"


def test_no_live_comparison_against_a_fixture(monkeypatch, aws, template) -> None:
    monkeypatch.setenv(MANIFEST_ENV, "/somewhere/fixture")
    monkeypatch.setattr(live_spec, "resolve_live", lambda target: pytest.fail("resolved"))
    assert live_spec.live_spec(target(aws, template)).status == "WARN"


# ---- permissions of the deployed roles ---------------------------------------------------------


def stack_listing(aws: StubbedAws) -> None:
    physical = {
        ("DataBucket", "AWS::S3::Bucket"): BUCKET,
        ("DataKey", "AWS::KMS::Key"): KEY_ID,
        ("RunOutcomeTopic", "AWS::SNS::Topic"): TOPIC,
        ("SageMakerExecutionRole", "AWS::IAM::Role"): SAGEMAKER_ROLE,
        ("PublishFunctionRole", "AWS::IAM::Role"): PUBLISH_ROLE,
    }
    summaries = [
        {
            "LogicalResourceId": logical,
            "PhysicalResourceId": value,
            "ResourceType": kind,
            "LastUpdatedTimestamp": WHEN,
            "ResourceStatus": "CREATE_COMPLETE",
        }
        for (logical, kind), value in physical.items()
    ]
    aws.add(
        "cloudformation",
        "list_stack_resources",
        {"StackResourceSummaries": summaries},
        {"StackName": STACK},
    )


SSE_CONTEXT = [
    {
        "ContextKeyName": "s3:x-amz-server-side-encryption",
        "ContextKeyValues": ["aws:kms"],
        "ContextKeyType": "string",
    },
    {
        "ContextKeyName": "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "ContextKeyValues": [KEY_ARN],
        "ContextKeyType": "string",
    },
]
RESULTS = f"arn:aws:s3:::{BUCKET}/results/scores/run_date=2026-01-01/preflight.parquet"
STAGED = f"arn:aws:s3:::{BUCKET}/results/staging/preflight/scores.parquet"
# PublishFunction's calls (calls.py) as IAM is asked about them: one request per resource.
PUBLISH_SIMULATIONS = [
    (["s3:GetObject"], f"arn:aws:s3:::{BUCKET}/runs/preflight/scores/pre-trained.jsonl", None),
    (["s3:GetObject"], f"arn:aws:s3:::{BUCKET}/runs/preflight/ingest/rejected.jsonl", None),
    (
        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:DeleteObject"],
        STAGED,
        SSE_CONTEXT,
    ),
    (["s3:PutObject"], RESULTS, SSE_CONTEXT),
    (
        ["s3:PutObject"],
        f"arn:aws:s3:::{BUCKET}/results/reports/preflight/report.html",
        SSE_CONTEXT,
    ),
    (["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{BUCKET}/claims/preflight.json", SSE_CONTEXT),
    (["sns:Publish"], TOPIC, None),
    (["kms:Decrypt", "kms:GenerateDataKey"], KEY_ARN, None),
]


def simulations(aws: StubbedAws, refuse: dict[str, str]) -> None:
    """Answer PublishFunction's simulations: ``refuse`` maps an action to its decision."""
    for actions, resource, context in PUBLISH_SIMULATIONS:
        expected = {
            "PolicySourceArn": f"arn:aws:iam::{ACCOUNT}:role/{PUBLISH_ROLE}",
            "ActionNames": actions,
            "ResourceArns": [resource],
        }
        if context:
            expected["ContextEntries"] = context
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": refuse.get(action, "allowed"),
            }
            for action in actions
        ]
        aws.add(
            "iam",
            "simulate_principal_policy",
            {"EvaluationResults": results, "IsTruncated": False},
            expected,
        )


@pytest.fixture
def publish_only(monkeypatch) -> None:
    """The call table cut to PublishFunction's, so one role's requests can be pinned whole."""
    monkeypatch.setattr(
        calls, "FUNCTION_CALLS", {"PublishFunction": calls.FUNCTION_CALLS["PublishFunction"]}
    )


def deployed(aws: StubbedAws, template: dict) -> Target:
    return target(aws, template, stack={"StackName": STACK, "StackStatus": "UPDATE_COMPLETE"})


def test_a_denied_call_fails_naming_the_role_and_the_action(publish_only, aws, template) -> None:
    stack_listing(aws)
    simulations(aws, {"s3:DeleteObject": "implicitDeny"})
    checks = list(permissions.permissions(deployed(aws, template)))
    assert lines(checks) == [
        f"FAIL permissions PublishFunction: s3:DeleteObject on {STAGED} is implicitDeny for "
        f"role {PUBLISH_ROLE}; add the action to PublishFunction's Policies in template.yaml "
        "and deploy again"
    ]


def test_every_call_allowed_passes_per_function(publish_only, aws, template) -> None:
    stack_listing(aws)
    simulations(aws, {})
    checks = list(permissions.permissions(deployed(aws, template)))
    assert lines(checks) == [
        f"PASS permissions PublishFunction: 13 calls allowed for role {PUBLISH_ROLE}"
    ]


def test_a_caller_who_may_not_simulate_gets_a_warning(publish_only, aws, template) -> None:
    stack_listing(aws)
    aws.error(
        "iam",
        "simulate_principal_policy",
        "AccessDenied",
        "not authorized to perform: iam:SimulatePrincipalPolicy",
        None,
    )
    (check,) = permissions.permissions(deployed(aws, template))
    assert check.status == "WARN" and "you need iam:SimulatePrincipalPolicy" in check.message


def test_a_stack_without_a_function_role_fails(aws, template, monkeypatch) -> None:
    monkeypatch.setattr(calls, "FUNCTION_CALLS", {"ScoreFunction": []})
    stack_listing(aws)
    (check,) = permissions.permissions(deployed(aws, template))
    assert check.status == "FAIL" and "has no ScoreFunctionRole" in check.message


def test_a_function_behind_a_false_condition_is_not_missing(aws, template, monkeypatch) -> None:
    """DeployEndpointFunction exists only with DeployEndpoint=true (its template Condition): a
    stack deployed without it is not one "deployed from another template"."""
    assert "Condition" in template["Resources"]["DeployEndpointFunction"]
    monkeypatch.setattr(calls, "FUNCTION_CALLS", {"DeployEndpointFunction": []})
    stack_listing(aws)
    assert list(permissions.permissions(deployed(aws, template))) == []


def test_no_stack_no_simulation(aws, template) -> None:
    assert list(permissions.permissions(target(aws, template))) == []


# ---- the whole command -------------------------------------------------------------------------


def test_a_ready_account_exits_0_with_one_line_per_check(publish_only, aws, capsys) -> None:
    caller_identity(aws)
    described_stack(
        aws,
        "CREATE_COMPLETE",
        [{"ParameterKey": "TransformInstanceType", "ParameterValue": "ml.g5.4xlarge"}],
    )
    quota_listing(
        aws,
        "list_service_quotas",
        {
            "ml.p3.16xlarge for training job usage": 1.0,
            "ml.g5.4xlarge for transform job usage": 2.0,
        },
    )
    pandas_parameter(aws)
    stack_listing(aws)
    simulations(aws, {})
    argv = ["preflight", "--region", REGION, "--template", str(TEMPLATE), "--spec", str(SPEC)]
    assert main([*argv, "--no-live-spec"]) == 0
    out = capsys.readouterr().out.splitlines()
    statuses = {line.split(":")[0] for line in out[:-1]}
    assert "PASS quota transform" in statuses  # the deployed stack's type, not the default
    assert "PASS permissions PublishFunction" in statuses
    assert {line.split()[0] for line in out[:-1]} <= {"PASS", "WARN"}
    assert out[-1].startswith(f"{len(out) - 1} checks: 0 failed")


def test_json_output_carries_every_check(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(preflight, "checks", lambda target, live: iter([Check("FAIL", "x", "y")]))
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    argv = ["preflight", "--region", "eu-west-1", "--template", str(TEMPLATE), "--spec", str(spec)]
    assert main([*argv, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 1 and report["region"] == "eu-west-1"
    assert report["checks"] == [{"status": "FAIL", "name": "x", "message": "y"}]


def test_unusable_arguments_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "spec.json"
    bad.write_text("[1, 2]")
    argv = ["preflight", "--template", str(TEMPLATE), "--spec", str(bad), "--region", REGION]
    assert main(argv) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"radimpress preflight: error: not a JSON model spec, {bad}"
    )
    argv = ["preflight", "--template", str(TEMPLATE), "--spec", str(SPEC), "--region", "Mars"]
    assert main(argv) == 2
    assert "'Mars' is not an AWS region name" in capsys.readouterr().err
