"""template.yaml: security properties, least privilege, wiring, and the handler import paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radimpress_workstation.embedded.template import expand, load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FORBIDDEN_IN_HANDLERS = ("sagemaker", "numpy", "pyarrow", "torch", "moto", "pandas")
# functions/Makefile's NOT_FOR_LAMBDA, as module names.
NOT_IN_LAMBDA_PACKAGES = ("radimpress_workstation", "radimpress_training")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template) -> dict[str, Any]:
    return template["Resources"]


def functions(resources) -> dict[str, dict]:
    return {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def statements(document: Any) -> list[dict]:
    """A policy's statements; a conditional one (``!If [cond, statement, !Ref AWS::NoValue]``)
    counts with each statement branch."""
    found = document.get("Statement", []) if isinstance(document, dict) else []
    out = []
    for item in [found] if isinstance(found, dict) else list(found):
        branches = item["Fn::If"][1:] if isinstance(item, dict) and "Fn::If" in item else [item]
        out += [b for b in branches if b != {"Ref": "AWS::NoValue"}]
    return out


def all_iam_statements(resources) -> list[tuple[str, dict]]:
    out = []
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []) or []:
            if isinstance(policy, dict):
                doc = policy.get("PolicyDocument", policy)
                out += [(name, s) for s in statements(doc)]
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            out += [(name, s) for s in statements(props.get(key, {}))]
    return out


def test_bucket_is_encrypted_versioned_private_and_notifies_eventbridge(resources):
    bucket = resources["DataBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": ["DataKey", "Arn"]
    }
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True
    }
    assert "BucketName" not in bucket  # no hard-coded bucket names
    assert resources["DataKey"]["Properties"]["EnableKeyRotation"] is True


def test_bucket_policy_is_exactly_tls_only_and_data_key_only(resources):
    """The whole policy, statement by statement: a narrowed Action, a Resource pointed elsewhere
    or an ...IfExists operator (true when the header is absent, so every plain write would be
    refused: IAM User Guide, "Condition operators", "...IfExists condition operators") fails here.
    What these statements decide for real requests is tests/unit/test_policy_decisions.py."""
    policy = resources["DataBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "DataBucket"}
    objects = {"Fn::Sub": "${DataBucket.Arn}/*"}
    key_arn = {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert policy["PolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [{"Fn::GetAtt": ["DataBucket", "Arn"]}, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyObjectsNotEncryptedWithKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            },
            {
                "Sid": "DenyObjectsUnderAnotherKmsKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
                    },
                },
            },
            {
                "Sid": "DenyReportTextToOtherPrincipals",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [
                    {"Fn::Sub": "${DataBucket.Arn}/incoming/*"},
                    {"Fn::Sub": "${DataBucket.Arn}/runs/*/ingest/*"},
                    {"Fn::Sub": "${DataBucket.Arn}/runs/*/train/*"},
                    {"Fn::Sub": "${DataBucket.Arn}/runs/*/transform/*"},
                    {"Fn::Sub": "${DataBucket.Arn}/runs/*/scores/*"},
                ],
                "Condition": {
                    "ArnNotEquals": {
                        "aws:PrincipalArn": [
                            {"Fn::GetAtt": ["IngestFunctionRole", "Arn"]},
                            {"Fn::GetAtt": ["StartTransformFunctionRole", "Arn"]},
                            {"Fn::GetAtt": ["ScoreFunctionRole", "Arn"]},
                            {"Fn::GetAtt": ["PublishFunctionRole", "Arn"]},
                            {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]},
                            # a Bedrock batch job reads its input, writes its output
                            {"Fn::GetAtt": ["BedrockBatchRole", "Arn"]},
                        ]
                    }
                },
            },
            {  # with QuickSight: its role never opens the results that hold report text
                "Fn::If": [
                    "HasQuickSightUser",
                    {
                        "Sid": "DenyReportTextToQuickSight",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                        "Resource": [
                            {"Fn::Sub": "${DataBucket.Arn}/results/texts/*"},
                            {"Fn::Sub": "${DataBucket.Arn}/results/reports/*"},
                            {"Fn::Sub": "${DataBucket.Arn}/results/staging/*"},
                        ],
                        "Condition": {
                            "ArnEquals": {
                                "aws:PrincipalArn": {"Fn::GetAtt": ["QuickSightAthenaRole", "Arn"]}
                            }
                        },
                    },
                    {"Ref": "AWS::NoValue"},
                ]
            },
        ],
    }


def test_access_logging_lifecycle_and_log_bucket(resources):
    bucket = resources["DataBucket"]["Properties"]
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireRunData"]["Prefix"] == "runs/"
    assert rules["ExpireRunData"]["ExpirationInDays"] == {"Ref": "RunDataRetentionDays"}
    assert rules["ExpireAthenaResults"]["Prefix"] == "athena-results/"
    logs = resources["AccessLogsBucket"]["Properties"]
    assert all(logs["PublicAccessBlockConfiguration"].values())
    (grant,) = [
        s
        for s in statements(resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"])
        if s["Effect"] == "Allow"
    ]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::GetAtt": ["DataBucket", "Arn"]}}
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_key_policy_service_principals_are_scoped_to_this_account(resources):
    for statement in statements(resources["DataKey"]["Properties"]["KeyPolicy"]):
        if "Service" in statement["Principal"]:
            conditions = json.dumps(statement["Condition"])
            assert "aws:SourceAccount" in conditions or "EncryptionContext" in conditions, (
                statement["Sid"]
            )
            assert "AWS::AccountId" in conditions, statement["Sid"]


def test_log_groups_have_retention_and_the_data_key(resources):
    groups = {k: r for k, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    names = {json.dumps(g["Properties"]["LogGroupName"]) for g in groups.values()}
    for function in functions(resources):
        assert json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"}) in names, function
    for name, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, name
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_upload_rule_skips_empty_objects_and_has_a_dead_letter_queue(resources):
    event = resources["PipelineStateMachine"]["Properties"]["Events"]["ReportUploaded"]
    props = event["Properties"]
    assert props["Pattern"]["detail"]["object"]["size"] == [{"numeric": [">", 0]}]
    assert props["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["StartExecutionDeadLetterQueue", "Arn"]}
    }
    assert props["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue = resources["StartExecutionDeadLetterQueue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    (allow,) = statements(
        resources["StartExecutionDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    )
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["PipelineStateMachineReportUploaded", "Arn"]
    }


def test_region_rule_matches_the_specs_regions(template):
    from radimpress.spec import load_spec

    (assertion,) = template["Rules"]["SupportedRegion"]["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert sorted(regions) == load_spec("jumpstart-flan-t5-xl", region="").regions


def test_version_is_pinned_to_the_shipped_spec(template):
    from radimpress.spec import load_spec

    version = template["Parameters"]["JumpStartModelVersion"]
    spec = load_spec("jumpstart-flan-t5-xl", region="")
    assert version["Default"] == spec.model_version == "1.2.2"
    import re

    assert not re.fullmatch(version["AllowedPattern"], "*")


def test_no_wildcard_actions_are_allowed(resources):
    allowed = [(n, s) for n, s in all_iam_statements(resources) if s.get("Effect") == "Allow"]
    assert len(allowed) > 20
    for name, statement in allowed:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action != "*" and not action.endswith(":*"), (name, action)


def test_pass_role_only_to_sagemaker(resources):
    """Each role is passed only to its own service: the SageMaker role to SageMaker, the Bedrock
    batch role (by StartTransform, for a batch inference job) to Bedrock."""
    passes = [
        (n, s)
        for n, s in all_iam_statements(resources)
        if "iam:PassRole" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert {n for n, _ in passes} == {
        "StartTrainingFunction",
        "RegisterModelFunction",
        "ResolveModelsFunction",
        "StartTransformFunction",
    }
    services = {"SageMakerExecutionRole": "sagemaker", "BedrockBatchRole": "bedrock"}
    for name, statement in passes:
        role = statement["Resource"]["Fn::GetAtt"][0]
        if name == "StartTransformFunction":
            assert role == "BedrockBatchRole", name
        else:
            assert role == "SageMakerExecutionRole", name
        condition = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        assert condition == f"{services[role]}.amazonaws.com", name


def test_functions_share_runtime_code_and_powertools_globals(template, resources):
    globals_ = template["Globals"]["Function"]
    # python3.13: deprecated 2029-06-30, function create blocked 2029-07-31, update 2029-08-31
    # (AWS Lambda Developer Guide, "Lambda runtimes", supported runtimes table).
    assert globals_["Runtime"] == "python3.13"
    assert globals_["CodeUri"] == "functions/"
    assert globals_["Tracing"] == "Active"
    env = globals_["Environment"]["Variables"]
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
        assert env[name], name
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"  # events are ids only, but never log
    assert env["RADIMPRESS_MODEL_SPEC"] == {"Ref": "ModelSpec"}
    for name, function in functions(resources).items():
        props = function["Properties"]
        assert "Runtime" not in props and "CodeUri" not in props, name
        assert props["Handler"].startswith("radimpress.handlers."), name
    layered = {n for n, f in functions(resources).items() if "Layers" in f["Properties"]}
    assert layered == {"PublishFunction"}
    (layer,) = resources["PublishFunction"]["Properties"]["Layers"]
    condition, override, ssm = layer["Fn::If"]
    assert (condition, override) == ("HasPandasLayerArn", {"Ref": "PandasLayerArn"})
    # The AWS SDK for pandas public SSM parameter, per release, runtime and architecture, read in
    # the stack's region: no region segment (aws/aws-sdk-pandas docs/source/install.rst). That
    # each name the template can produce exists is tests/unit/test_deploy_rehearsal.py.
    assert ssm["Fn::Sub"] == (
        "{{resolve:ssm:/aws/service/aws-sdk-pandas/${PandasLayerVersion}/py3.13/x86_64/layer-arn}}"
    )
    makefile = (ROOT / "functions" / "Makefile").read_text()
    assert "LAMBDA_PYTHON_VERSION ?= 3.13" in makefile  # wheels for the runtime, not for us
    assert "--python-version $(LAMBDA_PYTHON_VERSION)" in makefile


def test_functions_build_without_the_runtimes_own_boto3(resources):
    """functions/Makefile installs requirements.txt minus what the python3.13 runtime ships."""
    for name, function in functions(resources).items():
        assert function.get("Metadata") == {"BuildMethod": "makefile"}, name
    makefile = (ROOT / "functions" / "Makefile").read_text()
    assert "build-%:" in makefile and "-r requirements.txt" in makefile
    assert "botocore" in makefile.split("RUNTIME_PROVIDED :=", 1)[1].splitlines()[0]
    assert "--platform manylinux2014_x86_64" in makefile  # Lambda's binaries, not this machine's


def test_lambda_requirements_leave_heavy_packages_out():
    lines = (ROOT / "functions" / "requirements.txt").read_text().splitlines()
    packages = {line.split("==")[0].split("[")[0].strip().lower() for line in lines if "==" in line}
    assert packages.isdisjoint({"pyarrow", "numpy", "sagemaker", "torch", "pandas", "moto"})


def test_handlers_import_without_heavy_packages(resources):
    """Importing every handler (and radimpress.results, which Publish imports when it runs) must not
    load the SageMaker SDK, numpy, pyarrow, torch or moto, nor the parts of the package that
    functions/Makefile leaves out of the Lambda packages."""
    modules = sorted(
        f["Properties"]["Handler"].rsplit(".", 1)[0] for f in functions(resources).values()
    )
    code = (
        "import importlib, json, sys\n"
        f"mods = {modules!r}\n"
        "missing = [m for m in mods if not callable(getattr(importlib.import_module(m), 'handler'))]\n"
        "importlib.import_module('radimpress.results')\n"
        f"bad = sorted({{n.split('.')[0] for n in sys.modules}} & set({FORBIDDEN_IN_HANDLERS!r}))\n"
        f"left_out = {NOT_IN_LAMBDA_PACKAGES!r}\n"
        "bad += sorted(n for n in sys.modules if any(n == m or n.startswith(m + '.') for m in left_out))\n"
        "print(json.dumps({'missing': missing, 'bad': bad}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT / "functions",
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"missing": [], "bad": []}


def test_state_machine_logging_tracing_and_definition(resources):
    machine = resources["PipelineStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/pipeline.asl.json"
    assert "Definition" not in machine
    assert machine["Logging"]["IncludeExecutionData"] is False
    assert machine["Tracing"] == {"Enabled": True}
    substituted = set(machine["DefinitionSubstitutions"])
    # DeployEndpoint runs on the registry's approval events, ReleaseStoppedRun on the machine's
    # own status changes: both outside the state machine.
    in_machine = set(functions(resources)) - {"DeployEndpointFunction", "ReleaseStoppedRunFunction"}
    assert substituted == {f"{name}Arn" for name in in_machine}


def test_eventbridge_rule_starts_the_state_machine_with_a_small_input():
    expanded = expand(
        TEMPLATE, region="us-east-1", account_id="123456789012", stack_name="radimpress"
    )
    rules = [r for r in expanded.resources.values() if r["Type"] == "AWS::Events::Rule"]
    # Uploads, and the machine's stopped executions; DeployEndpoint is off by default: its
    # rule is not deployed.
    assert len(rules) == 2
    (rule,) = [
        r["Properties"] for r in rules if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]
    ]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "DataBucket"}]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "PipelineStateMachine"}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "bucket": "$.detail.bucket.name",
        "key": "$.detail.object.key",
        "version_id": "$.detail.object.version-id",
    }
    rendered = expanded.parameters
    template_text = transformer["InputTemplate"]["Fn::Sub"]
    for name in ("PollSeconds", "MaxWaitSeconds"):
        template_text = template_text.replace("${" + name + "}", str(rendered[name]))
    sample = template_text.replace("<bucket>", '"b"').replace("<key>", '"incoming/x"')
    sample = sample.replace("<version_id>", '"v1"')
    assert json.loads(sample) == {
        "bucket": "b",
        "key": "incoming/x",
        "version_id": "v1",
        "poll_seconds": 60,
        "max_wait_seconds": 172800,
    }


def test_stopped_executions_of_this_machine_reach_release_stopped_run():
    """ABORTED, TIMED_OUT and FAILED executions run no RecordFailure (a Catch cannot see them):
    their status change event (Step Functions developer guide, cw-events.html) goes to
    ReleaseStoppedRun, for this stack's state machine only; the event is passed whole."""
    expanded = expand(
        TEMPLATE, region="us-east-1", account_id="123456789012", stack_name="radimpress"
    )
    rule = expanded.resources["ReleaseStoppedRunFunctionExecutionStopped"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [{"Ref": "PipelineStateMachine"}],
            "status": ["ABORTED", "TIMED_OUT", "FAILED"],
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReleaseStoppedRunFunction", "Arn"]}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    function = expanded.resources["ReleaseStoppedRunFunction"]["Properties"]
    assert function["Handler"] == "radimpress.handlers.release_stopped_run.handler"


def test_outcomes_topic_alarm_glue_and_athena(resources):
    alarm = resources["FailedExecutionsAlarm"]["Properties"]
    stats = {q["Id"]: q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q}
    assert {m["MetricName"] for m in stats.values()} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    assert all(m["Namespace"] == "AWS/States" for m in stats.values())
    (expression,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
    assert set(expression["Expression"].replace("+", " ").split()) == set(stats)
    assert alarm["AlarmActions"] == [{"Ref": "RunOutcomeTopic"}]
    assert resources["RunOutcomeTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert resources["ResultsDatabase"]["Type"] == "AWS::Glue::Database"
    workgroup = resources["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    encryption = workgroup["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption["EncryptionOption"] == "SSE_KMS"


def test_parameters_the_issue_asks_for(template):
    params = template["Parameters"]
    for name in (
        "JumpStartModelId",
        "JumpStartModelVersion",
        "TrainingInstanceType",
        "TransformInstanceType",
        "Epochs",
        "PollSeconds",
        "MaxWaitSeconds",
        "GenerationMaxLength",
        "GenerationNumBeams",
        "ModelSpec",
        "PandasLayerArn",
        "PandasLayerVersion",
    ):
        assert name in params, name
    assert params["Epochs"]["Default"] == 3
    assert params["TrainingInstanceType"]["Default"] == "ml.p3.16xlarge"


def test_results_layer_block_closes_the_resources_section(template, resources):
    """The results layer (Glue tables, Athena named queries, QuickSight and its role) is the last
    block of Resources, in one piece: nothing else follows or interrupts it."""

    def in_results_layer(resource: dict[str, Any]) -> bool:
        kind = resource["Type"]
        return (
            kind in ("AWS::Glue::Table", "AWS::Athena::NamedQuery")
            or kind.startswith("AWS::QuickSight::")
            or resource.get("Condition") == "HasQuickSightUser"
        )

    names = list(resources)
    first = next(i for i, n in enumerate(names) if in_results_layer(resources[n]))
    tail = names[first:]
    assert [n for n in tail if not in_results_layer(resources[n])] == []
    kinds = {resources[n]["Type"] for n in tail}
    assert {"AWS::Glue::Table", "AWS::Athena::NamedQuery", "AWS::QuickSight::Dashboard"} <= kinds
    keys = list(template)
    assert keys.index("Resources") + 1 == keys.index("Outputs")


def test_key_policy_is_exactly_iam_delegation_and_three_scoped_services(resources):
    """The whole key policy, statement by statement (what it decides for real requests is in
    tests/unit/test_policy_decisions.py). Each service may use the key only for this stack:
    alarms of this account, this stack's log groups by exact ARN, the upload rule by exact ARN."""
    arn = "arn:${AWS::Partition}"
    steps = ["ingest", "start-training", "job-status", "register-model", "resolve-models"]
    steps += ["promote", "deploy-endpoint"]
    steps += ["start-transform", "score", "publish", "record-failure"]
    steps += ["release-stopped-run"]
    groups = [f"/aws/lambda/${{AWS::StackName}}-{step}" for step in steps]
    groups.append("/aws/vendedlogs/states/${AWS::StackName}-pipeline")
    log = f"{arn}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:"
    account = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert resources["DataKey"]["Properties"]["KeyPolicy"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": f"{arn}:iam::${{AWS::AccountId}}:root"}},
                "Action": [
                    "kms:Create*",
                    "kms:Describe*",
                    "kms:Enable*",
                    "kms:List*",
                    "kms:Put*",
                    "kms:Update*",
                    "kms:Revoke*",
                    "kms:Disable*",
                    "kms:Get*",
                    "kms:Delete*",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion",
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                ],
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": account,
                    "ArnLike": {
                        "aws:SourceArn": {
                            "Fn::Sub": f"{arn}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:*"
                        }
                    },
                },
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisStacksLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            {"Fn::Sub": f"{log}{group}"} for group in groups
                        ]
                    }
                },
            },
            {
                "Sid": "EventBridgeWritesUndeliveredEventsToEncryptedQueue",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": account,
                    "ArnEquals": {
                        "aws:SourceArn": {
                            "Fn::Sub": f"{arn}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/"
                            "${AWS::StackName}-uploads"
                        }
                    },
                },
            },
        ],
    }


def test_the_key_policy_names_every_log_group_the_stack_creates(resources):
    """Each function is named <stack>-<step>, so its log group's ARN is in the key policy."""
    names = {
        logical: r["Properties"]["FunctionName"]["Fn::Sub"]
        for logical, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    (logs,) = [
        s
        for s in statements(resources["DataKey"]["Properties"]["KeyPolicy"])
        if s["Sid"] == "CloudWatchLogsEncryptsThisStacksLogGroups"
    ]
    allowed = {
        entry["Fn::Sub"].split(":log-group:", 1)[1]
        for entry in logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    }
    for group in (r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"):
        name = group["Properties"]["LogGroupName"]["Fn::Sub"]
        for logical, function_name in names.items():
            name = name.replace(f"${{{logical}}}", function_name)
        assert name in allowed
    assert len(allowed) == len(names) + 1  # and the state machine's
