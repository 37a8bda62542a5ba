"""What each CloudFormation resource type becomes in moto: one creator per type, in a table.

``CREATORS`` maps a resource type to the function that creates it with boto3 against moto and
returns its physical id and GetAtt attributes: KMS keys and aliases, IAM roles, the bucket, SNS
topics, SQS queues, log groups, Lambda functions (Handler, Environment, code folder handed to the
seam), the state machine (its DefinitionUri file with DefinitionSubstitutions resolved), the Glue
database and tables, Athena workgroups and named queries. EventBridge rules are kept (pattern,
targets) for ``eventbridge`` to apply, not created. Any other type (policies, alarms,
subscriptions, permissions) gets a local physical id so Ref/GetAtt to it resolve, and nothing is
created. ``creation_order`` puts dependencies first.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radimpress_workstation.embedded import lambda_seam, public_parameters
from radimpress_workstation.embedded.aws_authorization import StackPolicies
from radimpress_workstation.embedded.moto_config import ACCOUNT_ID
from radimpress_workstation.embedded.template import Expanded, references

_PLACEHOLDER_ZIP: bytes | None = None


class StackError(RuntimeError):
    """The stack cannot be built or used; the message names the resource and field."""


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    created: bool = False  # False: only named locally (no moto resource behind it)


@dataclass
class FunctionInfo:
    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    code_dir: Path | None


@dataclass
class BuildContext:
    """What a creator needs from the stack being built."""

    client: Callable[[str], Any]  # a boto3 client bound to the embedded AWS, by service
    region: str
    stack_name: str
    environment: Mapping[str, str]  # added to every function's environment
    expanded: Expanded
    functions: dict[str, FunctionInfo]  # filled in as functions are created
    policies: StackPolicies  # roles, bucket, key and topic policies, filled in as created

    def name(self, logical: str, limit: int = 64, lower: bool = False) -> str:
        """CloudFormation-style generated name: stack-LogicalId-suffix, within service limits."""
        suffix = hashlib.sha1(f"{self.stack_name}/{logical}".encode()).hexdigest()[:8]
        stem = f"{self.stack_name}-{logical}"
        if lower:
            stem = re.sub(r"[^a-z0-9-]", "-", stem.lower())
        return f"{stem[: limit - len(suffix) - 1]}-{suffix}"


Creator = Callable[[BuildContext, str, str, dict[str, Any]], Resource]


def create(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    """Create one resource (its Properties resolved) by its type's creator, or name it only."""
    creator = CREATORS.get(kind)
    if creator is not None:
        return creator(ctx, logical, kind, props)
    # Not needed to run the pipeline locally: named, so Ref/GetAtt to it still resolve.
    name = ctx.name(logical)
    return Resource(logical, kind, name, {"Arn": f"arn:aws:local:{ctx.region}:{ACCOUNT_ID}:{name}"})


def _kms_key(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    meta = ctx.client("kms").create_key(Description=props.get("Description", ""))["KeyMetadata"]
    if "KeyPolicy" not in props:
        raise StackError("KeyPolicy is missing (KMS would apply its default key policy)")
    ctx.policies.keys[meta["Arn"]] = props["KeyPolicy"]
    ctx.policies.key_names[meta["KeyId"]] = meta["Arn"]
    return Resource(
        logical, kind, meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}, True
    )


def _kms_alias(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    ctx.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    ctx.policies.key_names[props["AliasName"]] = ctx.policies.key_arn(props["TargetKeyId"])
    return Resource(logical, kind, props["AliasName"], {}, True)


def _iam_role(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("RoleName") or ctx.name(logical)
    role = ctx.client("iam").create_role(
        RoleName=name,
        Path=props.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
    )["Role"]
    ctx.policies.identity[role["Arn"]] = _role_policies(props)
    return Resource(logical, kind, name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}, True)


# AWS managed policies SAM attaches to function roles; none grants an S3, SNS, KMS, SageMaker or
# PassRole action, so leaving them out of the evaluation changes no decision. Any other managed
# policy is refused: its grants would be invisible to the authorization check.
_MANAGED_WITHOUT_CHECKED_ACTIONS = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # logs:*
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # xray:Put*, xray:Get*
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",  # xray:Put*, xray:Get*
}


def _role_policies(props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A role's inline policies as (name, document), for the authorization check."""
    unknown = sorted(set(props.get("ManagedPolicyArns") or ()) - _MANAGED_WITHOUT_CHECKED_ACTIONS)
    if unknown:
        raise StackError(
            f"ManagedPolicyArns {unknown}: the embedded stack cannot see what they grant; "
            "write the statements inline (Policies) so authorization is checked"
        )
    return [(p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies") or ()]


def _bucket_policy(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    """Kept for the authorization check (moto would store it and enforce nothing)."""
    bucket = props["Bucket"]
    ctx.policies.buckets[bucket] = props["PolicyDocument"]
    return Resource(logical, kind, f"{bucket}-policy", {}, False)


def _s3_bucket(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("BucketName") or ctx.name(logical, 63, lower=True)
    s3 = ctx.client("s3")
    if ctx.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region})
    if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for rule in (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", []):
        default = rule.get("ServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") == "aws:kms":
            # No KMSMasterKeyID: S3 uses the account's AWS managed key aws/s3.
            ctx.policies.bucket_keys[name] = default.get("KMSMasterKeyID") or "alias/aws/s3"
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
    }
    return Resource(logical, kind, name, attributes, True)


def _sns_topic(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("TopicName") or ctx.name(logical, 256)
    arn = ctx.client("sns").create_topic(Name=name)["TopicArn"]
    if props.get("KmsMasterKeyId"):
        ctx.policies.topic_keys[arn] = props["KmsMasterKeyId"]
    return Resource(logical, kind, arn, {"TopicName": name, "TopicArn": arn}, True)


def _sqs_queue(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("QueueName") or ctx.name(logical, 80)
    attributes = {
        k: env_text(props[k])
        for k in ("DelaySeconds", "KmsMasterKeyId", "MessageRetentionPeriod", "VisibilityTimeout")
        if k in props
    }
    url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{ctx.region}:{ACCOUNT_ID}:{name}"
    return Resource(logical, kind, url, {"Arn": arn, "QueueName": name, "QueueUrl": url}, True)


def _log_group(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("LogGroupName") or f"/local/{ctx.stack_name}/{logical}"
    ctx.client("logs").create_log_group(logGroupName=name)
    arn = f"arn:aws:logs:{ctx.region}:{ACCOUNT_ID}:log-group:{name}:*"
    return Resource(logical, kind, name, {"Arn": arn}, True)


def _placeholder_zip() -> bytes:
    """moto insists on a code zip; the seam runs the CodeUri folder instead."""
    global _PLACEHOLDER_ZIP
    if _PLACEHOLDER_ZIP is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "code runs from the CodeUri folder (radimpress seam)\n")
        _PLACEHOLDER_ZIP = buffer.getvalue()
    return _PLACEHOLDER_ZIP


def _function(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("FunctionName") or ctx.name(logical)
    variables = {
        k: env_text(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
    }
    variables.update(ctx.environment)
    handler = props.get("Handler")
    if not handler:
        raise StackError("Handler is missing")
    for layer in props.get("Layers") or ():
        public_parameters.resolve_dynamic_reference(layer, ctx.region)
    config = ctx.client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "python3.11"),
        Role=props["Role"],
        Handler=handler,
        Code={"ZipFile": _placeholder_zip()},
        Description=props.get("Description", ""),
        Timeout=int(props.get("Timeout", 3)),
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": variables},
    )
    code_dir = ctx.expanded.code_dirs.get(logical)
    lambda_seam.register_code(name, code_dir)
    ctx.functions[logical] = FunctionInfo(
        logical, name, config["FunctionArn"], handler, variables, code_dir
    )
    return Resource(logical, kind, name, {"Arn": config["FunctionArn"]}, True)


def _state_machine(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    name = props.get("StateMachineName") or ctx.name(logical, 80)
    if logical in ctx.expanded.definitions:
        path = ctx.expanded.definitions[logical]
        text = path.read_text(encoding="utf-8")
        source = str(path)
    elif "Definition" in props:
        text, source = json.dumps(props["Definition"]), "Definition"
    elif "DefinitionString" in props:
        text, source = props["DefinitionString"], "DefinitionString"
    else:
        raise StackError("no DefinitionUri, Definition or DefinitionString")
    text = substitute_definition(text, props.get("DefinitionSubstitutions") or {}, source)
    arn = ctx.client("stepfunctions").create_state_machine(
        name=name,
        definition=text,
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return Resource(logical, kind, arn, {"Arn": arn, "Name": name, "Definition": text}, True)


def _events_rule(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    """Kept, not created: ``eventbridge`` applies the rule when an execution is started."""
    name = props.get("Name") or ctx.name(logical)
    arn = f"arn:aws:events:{ctx.region}:{ACCOUNT_ID}:rule/{name}"
    attributes = {
        "Arn": arn,
        "EventPattern": props.get("EventPattern"),
        "Targets": props.get("Targets") or [],
    }
    return Resource(logical, kind, name, attributes)


def _glue_database(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    database = props["DatabaseInput"]
    ctx.client("glue").create_database(DatabaseInput=database)
    return Resource(logical, kind, database["Name"], {}, True)


def _glue_table(ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]) -> Resource:
    table = props["TableInput"]
    ctx.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
    return Resource(logical, kind, table["Name"], {}, True)


def _model_package_group(
    ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]
) -> Resource:
    name = props["ModelPackageGroupName"]
    group_arn = ctx.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=name,
        ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", ""),
    )["ModelPackageGroupArn"]
    return Resource(logical, kind, group_arn, {"ModelPackageGroupArn": group_arn}, True)


def _athena_workgroup(
    ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]
) -> Resource:
    name = props["Name"]
    ctx.client("athena").create_work_group(Name=name, Description=props.get("Description", ""))
    return Resource(logical, kind, name, {}, True)


def _athena_named_query(
    ctx: BuildContext, logical: str, kind: str, props: dict[str, Any]
) -> Resource:
    kwargs = {
        k: props[k]
        for k in ("Name", "Database", "QueryString", "Description", "WorkGroup")
        if k in props
    }
    kwargs.setdefault("Name", logical)
    query_id = ctx.client("athena").create_named_query(**kwargs)["NamedQueryId"]
    return Resource(logical, kind, query_id, {"NamedQueryId": query_id}, True)


def creation_order(resources: Mapping[str, dict[str, Any]]) -> list[str]:
    """Dependencies first (Ref/GetAtt/Sub/DependsOn), template order otherwise."""
    deps: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        found = references(resource.get("Properties") or {})
        depends = resource.get("DependsOn") or []
        found |= {depends} if isinstance(depends, str) else set(depends)
        deps[logical] = {d for d in found if d in resources and d != logical}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise StackError(f"circular dependency: {' -> '.join((*path, node))}")
        state[node] = 1
        for dep in sorted(deps[node], key=list(resources).index):
            visit(dep, (*path, node))
        state[node] = 2
        order.append(node)

    for logical in resources:
        visit(logical, ())
    return order


CREATORS: dict[str, Creator] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::IAM::Role": _iam_role,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::Topic": _sns_topic,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _events_rule,
    "AWS::Glue::Database": _glue_database,
    "AWS::Glue::Table": _glue_table,
    "AWS::Athena::WorkGroup": _athena_workgroup,
    "AWS::SageMaker::ModelPackageGroup": _model_package_group,
    "AWS::Athena::NamedQuery": _athena_named_query,
}


def substitute_definition(text: str, substitutions: Mapping[str, Any], source: str) -> str:
    """Apply DefinitionSubstitutions like Step Functions; refuse any ``${...}`` left over."""
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", env_text(value))
    left = sorted(set(re.findall(r"\$\{([^}]*)\}", text)))
    if left:
        raise StackError(f"{source}: no DefinitionSubstitutions for {', '.join(left)}")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackError(f"{source}: not valid JSON after substitution: {exc}") from exc
    return text


def env_text(value: Any) -> str:
    """A template value as the text an environment variable or substitution holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
