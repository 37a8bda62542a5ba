"""`radimpress models`, offline: its requests pinned (matched whole) and its answers given by
botocore's Stubber, which checks both against the SageMaker and CloudFormation service models.

Shapes from the SageMaker API reference: ListModelPackages (ModelPackageSummaryList, newest
created first with SortBy=CreationTime / SortOrder=Descending), DescribeModelPackage
(ModelApprovalStatus, ApprovalDescription, CustomerMetadataProperties), UpdateModelPackage,
DescribeModelPackageGroup, DescribeEndpoint / DescribeEndpointConfig; a missing group or
endpoint is a ValidationException ("... does not exist." / "Could not find endpoint ...");
CloudFormation DescribeStacks lists the stack's parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aws_stubs import ACCOUNT, REGION, StubbedAws, patched_session

from radimpress_workstation.cli import main
from radimpress_workstation.commands import models

STACK = "radimpress"
GROUP = "radimpress-fine-tuned"
SPEC = "jumpstart-flan-t5-xl"
MODEL_ID = "huggingface-text2text-flan-t5-xl"
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ENDPOINT = "radimpress-endpoint"


def arn(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{version}"


def job(version: int) -> str:
    return f"radimpress-ft-{version:020d}"


def metadata(version: int, trained: str, **more: str) -> dict[str, str]:
    return {
        "training_job": job(version),
        "training_run_id": f"run-{version}",
        "dataset": "openi",
        "spec": SPEC,
        "model_id": MODEL_ID,
        "sagemaker_model": job(version),
        "trained_at": trained,
        "train_records": "1084",
        **more,
    }


# Three versions: v1 approved first, v2 approved by the gate, v3 left pending by it.
GATE_V2 = {
    "gate_metric": "rouge_l",
    "gate_margin": "0.0",
    "gate_candidate": "0.4712",
    "gate_baseline": "0.4501",
    "gate_baseline_package": arn(1),
    "gate_verdict": "Approved",
}
GATE_V3 = {
    **GATE_V2,
    "gate_candidate": "0.3",
    "gate_baseline": "0.4712",
    "gate_verdict": "PendingManualApproval",
}
PACKAGES = {
    1: (
        "Approved",
        "first fine-tuned model; AutoApprove is on",
        metadata(1, "2026-12-01T10:00:00.000000+00:00"),
    ),
    2: (
        "Approved",
        "not worse than the approved model: rouge_l 0.4712 vs approved 0.4501",
        metadata(2, "2026-12-03T10:00:00.000000+00:00", **GATE_V2),
    ),
    3: (
        "PendingManualApproval",
        "worse than the approved model: rouge_l 0.3000 vs 0.4712",
        metadata(3, "2026-12-05T10:00:00.000000+00:00", **GATE_V3),
    ),
}


@pytest.fixture
def aws(monkeypatch) -> Iterator[StubbedAws]:
    fake = patched_session(monkeypatch, models)
    yield fake
    fake.close()


def run(*argv: str) -> int:
    return main(["models", *argv, "--stack-name", STACK, "--region", REGION])


def group(aws: StubbedAws) -> None:
    aws.add(
        "sagemaker",
        "describe_model_package_group",
        {
            "ModelPackageGroupName": GROUP,
            "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP}",
            "CreationTime": WHEN,
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        },
        {"ModelPackageGroupName": GROUP},
    )


def stack_spec(aws: StubbedAws, spec: str = SPEC) -> None:
    aws.add(
        "cloudformation",
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": STACK,
                    "CreationTime": WHEN,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [
                        {"ParameterKey": "PollSeconds", "ParameterValue": "60"},
                        {"ParameterKey": "ModelSpec", "ParameterValue": spec},
                    ],
                }
            ]
        },
        {"StackName": STACK},
    )


def listed(aws: StubbedAws, versions: list[int], status: str = "", **statuses: str) -> None:
    """One ListModelPackages page, newest created first; ``status``: the filter asked for."""
    expected = {"ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Descending"}
    if status:
        expected["ModelApprovalStatus"] = status
    aws.add(
        "sagemaker",
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageGroupName": GROUP,
                    "ModelPackageVersion": v,
                    "ModelPackageArn": arn(v),
                    "CreationTime": WHEN,
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": statuses.get(f"v{v}", PACKAGES[v][0]),
                }
                for v in versions
            ]
        },
        expected,
    )


def described(
    aws: StubbedAws, version: int, status: str = "", why: str = "", meta: dict | None = None
) -> None:
    default_status, default_why, default_meta = PACKAGES[version]
    aws.add(
        "sagemaker",
        "describe_model_package",
        {
            "ModelPackageName": GROUP,
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn(version),
            "CreationTime": WHEN,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ModelApprovalStatus": status or default_status,
            "ApprovalDescription": why or default_why,
            "CustomerMetadataProperties": meta or default_meta,
        },
        {"ModelPackageName": arn(version)},
    )


def no_endpoint(aws: StubbedAws) -> None:
    aws.error(
        "sagemaker",
        "describe_endpoint",
        "ValidationException",
        f'Could not find endpoint "arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}".',
        {"EndpointName": ENDPOINT},
    )


def endpoint_serving(aws: StubbedAws, model: str) -> None:
    config = "radimpress-ep-v1-0a1b2c3d"
    aws.add(
        "sagemaker",
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
            "EndpointConfigName": config,
            "EndpointStatus": "InService",
            "CreationTime": WHEN,
            "LastModifiedTime": WHEN,
        },
        {"EndpointName": ENDPOINT},
    )
    aws.add(
        "sagemaker",
        "describe_endpoint_config",
        {
            "EndpointConfigName": config,
            "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{config}",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
            "CreationTime": WHEN,
        },
        {"EndpointConfigName": config},
    )


def every_version(aws: StubbedAws) -> None:
    group(aws)
    stack_spec(aws)
    listed(aws, [3, 2, 1])
    for version in (3, 2, 1):
        described(aws, version)


# ---- list --------------------------------------------------------------------------------------


def test_list_marks_the_next_run_and_the_endpoint(aws, capsys) -> None:
    every_version(aws)
    endpoint_serving(aws, job(1))  # the endpoint has not caught up with v2's approval yet
    assert run("list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        f"{GROUP} in {REGION}: 3 versions, newest first",
        f"next inference run: v2 ({job(2)})",
        f"endpoint {ENDPOINT}: InService, serves v1 (radimpress-ep-v1-0a1b2c3d)",
    ]
    assert out[3:9] == [
        "v3  PendingManualApproval",
        f"    trained 2026-12-05T10:00:00.000000+00:00  job {job(3)}  run run-3",
        "    dataset openi  train records 1084",
        "    gate rouge_l: candidate 0.3000, approved 0.4712 -> PendingManualApproval",
        "    why: worse than the approved model: rouge_l 0.3000 vs 0.4712",
        "v2  Approved  <- next inference run",
    ]
    assert "v1  Approved  <- endpoint" in out
    v1 = out[out.index("v1  Approved  <- endpoint") :]
    assert not any(line.startswith("    gate") for line in v1)  # the first one had no gate


def test_list_json_for_scripts(aws, capsys) -> None:
    every_version(aws)
    no_endpoint(aws)
    assert run("list", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["group"] == GROUP and report["endpoint"] is None
    assert report["spec"] == {"spec": SPEC, "model_id": MODEL_ID}
    assert report["next_inference_run"] == {"version": 2, "arn": arn(2), "training_job": job(2)}
    assert [v["version"] for v in report["versions"]] == [3, 2, 1]
    v3 = report["versions"][0]
    assert v3["train_records"] == 1084 and v3["dataset"] == "openi"
    assert v3["gate"] == {
        "metric": "rouge_l",
        "margin": 0.0,
        "candidate": 0.3,
        "baseline": 0.4712,
        "baseline_package": arn(1),
        "verdict": "PendingManualApproval",
    }
    assert [v["next_inference_run"] for v in report["versions"]] == [False, True, False]
    assert not any(v["endpoint"] for v in report["versions"])


def test_next_run_is_the_newest_finished_training_not_the_newest_version(aws, capsys) -> None:
    """ResolveModels' order: a version registered later whose training finished earlier loses."""
    group(aws)
    stack_spec(aws)
    listed(aws, [2, 1])
    described(aws, 2)
    described(aws, 1, meta=metadata(1, "2026-12-09T00:00:00.000000+00:00"))
    no_endpoint(aws)
    assert run("list") == 0
    assert f"next inference run: v1 ({job(1)})" in capsys.readouterr().out


def test_a_version_of_another_spec_is_never_the_next_run(aws, capsys) -> None:
    group(aws)
    stack_spec(aws, "local-retrieval")  # the stack now runs another spec than v1-v3 were
    listed(aws, [3, 2, 1])
    for version in (3, 2, 1):
        described(aws, version)
    no_endpoint(aws)
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "next inference run: no Approved version of spec local-retrieval" in out
    assert "<- next inference run" not in out


def test_an_endpoint_serving_a_model_of_no_version_says_so(aws, capsys) -> None:
    """With --spec the stack is not read (no DescribeStacks queued: a call would fail)."""
    group(aws)
    listed(aws, [3, 2, 1])
    for version in (3, 2, 1):
        described(aws, version)
    endpoint_serving(aws, "someone-elses-model")
    assert run("list", "--spec", SPEC) == 0
    out = capsys.readouterr().out
    assert (
        f"endpoint {ENDPOINT}: InService, serves someone-elses-model (no version of this group) "
        "(radimpress-ep-v1-0a1b2c3d)"
    ) in out
    assert "<- endpoint" not in out


# ---- approve / reject --------------------------------------------------------------------------


def update(aws: StubbedAws, version: int, status: str, why: str) -> None:
    aws.add(
        "sagemaker",
        "update_model_package",
        {"ModelPackageArn": arn(version)},
        {
            "ModelPackageArn": arn(version),
            "ModelApprovalStatus": status,
            "ApprovalDescription": why,
        },
    )


def test_approve_sets_the_status_with_the_reason_and_says_what_runs_next(aws, capsys) -> None:
    group(aws)
    stack_spec(aws)
    listed(aws, [3, 2, 1])
    described(aws, 3)
    update(aws, 3, "Approved", "reviewed the 12 worse studies: all templated normals")
    listed(aws, [3, 2, 1], status="Approved", v3="Approved")
    described(aws, 3, status="Approved", why="reviewed")
    described(aws, 2)
    described(aws, 1)
    code = run("approve", "v3", "--reason", "reviewed the 12 worse studies: all templated normals")
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "v3 Approved (was PendingManualApproval): reviewed the 12 worse studies: all templated "
        "normals",
        f"next inference run: v3 ({job(3)})",
    ]


def test_rejecting_the_version_in_use_rolls_back_to_the_newest_other_approved(aws, capsys):
    group(aws)
    stack_spec(aws)
    listed(aws, [3, 2, 1])
    described(aws, 2)
    update(aws, 2, "Rejected", "rejected with radimpress models")
    listed(aws, [1], status="Approved")
    described(aws, 1)
    assert run("reject", "2", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "version": 2,
        "arn": arn(2),
        "status": "Rejected",
        "previous_status": "Approved",
        "reason": "rejected with radimpress models",
        "next_inference_run": {"version": 1, "arn": arn(1), "training_job": job(1)},
    }


def test_a_version_that_does_not_exist_is_refused_before_any_update(aws, capsys) -> None:
    group(aws)
    stack_spec(aws)
    listed(aws, [3, 2, 1])
    assert run("approve", "7") == 2  # no UpdateModelPackage queued: a call would fail the stub
    err = capsys.readouterr().err.strip()
    assert err == (
        f"radimpress models: error: model package group {GROUP} has no version 7 "
        f"(versions: v1, v2, v3), stack {STACK} in {REGION}"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["approve", "three"], "VERSION 'three': a version number such as 3 (or v3)"),
        (["reject", "0"], "VERSION '0': a version number such as 3 (or v3)"),
        (["approve", "1", "--reason", "x" * 1025], "--reason: 1025 characters (at most 1024)"),
    ],
)
def test_unusable_arguments_exit_2_before_any_call(aws, capsys, argv, message) -> None:
    assert run(*argv) == 2
    assert capsys.readouterr().err.strip() == f"radimpress models: error: {message}"


def test_unusable_stack_name_exits_2(aws, capsys) -> None:
    code = main(["models", "list", "--stack-name", "Radimpress", "--region", REGION])
    assert code == 2
    assert "--stack-name 'Radimpress': lowercase letters" in capsys.readouterr().err


# ---- errors ------------------------------------------------------------------------------------


def test_no_such_group_is_one_line_and_exit_2(aws, capsys) -> None:
    aws.error(
        "sagemaker",
        "describe_model_package_group",
        "ValidationException",
        f"ModelPackageGroup arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP} "
        "does not exist.",
        {"ModelPackageGroupName": GROUP},
    )
    assert run("list") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"radimpress models: error: no model package group {GROUP}, stack {STACK} in {REGION}\n"
    )


def test_a_stack_cloudformation_does_not_know_asks_for_the_spec(aws, capsys) -> None:
    group(aws)
    aws.error(
        "cloudformation",
        "describe_stacks",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
        {"StackName": STACK},
    )
    assert run("list") == 2
    assert "(pass --spec NAME, e.g. for the embedded stack)" in capsys.readouterr().err


def test_access_denied_is_one_line_and_exit_1(aws, capsys) -> None:
    group(aws)
    stack_spec(aws)
    listed(aws, [3, 2, 1])
    described(aws, 3)
    aws.error(
        "sagemaker",
        "update_model_package",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/analyst is not authorized to perform: "
        "sagemaker:UpdateModelPackage",
        {
            "ModelPackageArn": arn(3),
            "ModelApprovalStatus": "Rejected",
            "ApprovalDescription": "rejected with radimpress models",
        },
    )
    assert run("reject", "3") == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "radimpress models: AWS call failed: AccessDeniedException: User: "
        "arn:aws:iam::123456789012:user/analyst is not authorized to perform: "
        "sagemaker:UpdateModelPackage\n"
    )


def test_no_credentials_is_one_line_and_exit_1(no_aws_credentials, capsys) -> None:
    """A real boto3 session with nothing to find: NoCredentialsError before anything is sent."""
    assert run("list") == 1
    assert capsys.readouterr().err == (
        "radimpress models: AWS call failed: NoCredentialsError: Unable to locate credentials\n"
    )


def test_no_region_exits_2(monkeypatch, capsys) -> None:
    class NoRegion(StubbedAws):
        region_name = None

    monkeypatch.setattr(models, "make_session", lambda region: NoRegion())
    assert main(["models", "list", "--stack-name", STACK]) == 2
    assert "no region: pass --region" in capsys.readouterr().err
