"""Least privilege as data: what each role of template.yaml needs, and why.

One entry per (action, resource, condition) a role's code makes AWS authorize, in the template's
own notation (``${DataBucket.Arn}/runs/*``). tests/unit/test_least_privilege.py fails when the
template grants more or less than this table; tests/integration/test_least_privilege_run.py runs
a whole training and inference through the embedded stack and fails when a call falls outside the
table, or when an entry marked ``normal`` is never exercised (so a stale entry cannot linger).

``normal=False`` marks what only error paths need (an aborted multipart upload, a job stopped at
its time limit, a rollback), or what the local job backend does not model (ECR, CloudWatch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True, order=True)
class Grant:
    action: str
    resource: str
    condition: str = ""  # the statement's Condition as sorted JSON, "" for none
    normal: bool = True  # exercised by a successful training + inference run


def condition(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


BUCKET = "${DataBucket.Arn}"
KEY = "${DataKey.Arn}"
SAGEMAKER = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}"
TRAINING_JOBS = f"{SAGEMAKER}:training-job/${{AWS::StackName}}-*"
TRANSFORM_JOBS = f"{SAGEMAKER}:transform-job/${{AWS::StackName}}-*"
MODELS = f"{SAGEMAKER}:model/${{AWS::StackName}}-*"
PACKAGES = f"{SAGEMAKER}:model-package/${{AWS::StackName}}-fine-tuned/*"
ENDPOINT = f"{SAGEMAKER}:endpoint/${{AWS::StackName}}-endpoint"
ENDPOINT_CONFIGS = f"{SAGEMAKER}:endpoint-config/${{AWS::StackName}}-ep-*"
PACKAGE_GROUP = f"{SAGEMAKER}:model-package-group/${{AWS::StackName}}-fine-tuned"
ATHENA = "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}"
GLUE = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
PASS_TO_SAGEMAKER = Grant(
    "iam:PassRole",
    "${SageMakerExecutionRole.Arn}",
    condition({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
)
USE_KEY = (Grant("kms:Decrypt", KEY), Grant("kms:GenerateDataKey", KEY))
# Bedrock (BedrockModelId set): jobs are named by Bedrock, so job grants take its ids' wildcard;
# model calls are scoped to the chosen model. Not exercised by a run without a Bedrock model
# (normal=False); tests/integration/test_bedrock_comparison.py runs every one but the profile's.
BEDROCK = "arn:${AWS::Partition}:bedrock:${AWS::Region}"
BEDROCK_JOBS = f"{BEDROCK}:${{AWS::AccountId}}:model-invocation-job/*"
BEDROCK_TRANSFORM = "${DataBucket.Arn}/runs/*/transform/bedrock"
ABORT_RUN_UPLOADS = Grant("s3:AbortMultipartUpload", f"{BUCKET}/runs/*", normal=False)
# What settling a failed run takes (steps.record_failure, which ReleaseStoppedRun reuses for a
# stopped execution): failure.json, the claim (read, PutObject If-Match), taking back a half-done
# commit, the notice. Not exercised by a run that ends well (normal=False).
SETTLES_A_FAILED_RUN = frozenset(
    {
        Grant("s3:PutObject", f"{BUCKET}/runs/*", normal=False),
        Grant("s3:GetObject", f"{BUCKET}/claims/*", normal=False),
        Grant("s3:PutObject", f"{BUCKET}/claims/*", normal=False),
        Grant("s3:DeleteObject", f"{BUCKET}/results/*", normal=False),
        Grant("sns:Publish", "${RunOutcomeTopic}", normal=False),
        Grant("kms:Decrypt", KEY, normal=False),
        Grant("kms:GenerateDataKey", KEY, normal=False),
    }
)

NEEDS: dict[str, frozenset[Grant]] = {
    # Reads the object version the event names; claims it (PutObject If-None-Match, reads the
    # claim when taken); writes the run's records (multipart beyond 8 MiB) and training channel.
    "IngestFunction": frozenset(
        {
            Grant("s3:GetObject", f"{BUCKET}/incoming/*", normal=False),  # an unversioned event
            Grant("s3:GetObjectVersion", f"{BUCKET}/incoming/*"),
            Grant("s3:GetObject", f"{BUCKET}/claims/*", normal=False),  # a duplicate delivery
            Grant("s3:PutObject", f"{BUCKET}/claims/*"),
            Grant("s3:PutObject", f"{BUCKET}/runs/*"),
            ABORT_RUN_UPLOADS,
            *USE_KEY,
        }
    ),
    "StartTrainingFunction": frozenset(
        {
            Grant("sagemaker:CreateTrainingJob", TRAINING_JOBS),
            Grant("sagemaker:AddTags", TRAINING_JOBS),  # CreateTrainingJob carries Tags
            PASS_TO_SAGEMAKER,
        }
    ),
    "JobStatusFunction": frozenset(
        {
            Grant("sagemaker:DescribeTrainingJob", TRAINING_JOBS),
            Grant("sagemaker:StopTrainingJob", TRAINING_JOBS, normal=False),  # past MaxWait
            Grant("sagemaker:DescribeTransformJob", TRANSFORM_JOBS),
            Grant("sagemaker:StopTransformJob", TRANSFORM_JOBS, normal=False),
            Grant("bedrock:GetModelInvocationJob", BEDROCK_JOBS, normal=False),
            Grant("bedrock:StopModelInvocationJob", BEDROCK_JOBS, normal=False),
        }
    ),
    # HEAD of the archive the training job wrote (never copied: HEAD needs no KMS), CreateModel
    # with Tags, a new package version (pending) and the approved versions read for the gate's
    # baseline. ListModelPackages has no resource-level permissions (AWS managed policy
    # AmazonSageMakerModelRegistryFullAccess grants it on "*"). The group's own ARN is granted
    # too in case CreateModelPackage is authorized on it; the embedded stack checks the
    # version's ARN only.
    "RegisterModelFunction": frozenset(
        {
            Grant("sagemaker:DescribeTrainingJob", TRAINING_JOBS),
            Grant("sagemaker:CreateModel", MODELS),
            Grant("sagemaker:AddTags", MODELS),
            PASS_TO_SAGEMAKER,
            Grant("sagemaker:CreateModelPackage", PACKAGES),
            Grant("sagemaker:DescribeModelPackage", PACKAGES),
            Grant("sagemaker:CreateModelPackage", PACKAGE_GROUP, normal=False),
            Grant("sagemaker:DescribeModelPackage", PACKAGE_GROUP, normal=False),
            Grant("sagemaker:ListModelPackages", "*"),
            Grant("s3:GetObject", f"{BUCKET}/models/*/output/model.tar.gz"),
        }
    ),
    # The pre-trained model (created once, no Tags) and the newest Approved package version.
    "ResolveModelsFunction": frozenset(
        {
            Grant("sagemaker:CreateModel", MODELS),
            PASS_TO_SAGEMAKER,
            Grant("sagemaker:DescribeModelPackage", PACKAGES),
            Grant("sagemaker:ListModelPackages", "*"),
        }
    ),
    # The optional endpoint (DeployEndpoint=true): the newest Approved version's model behind a
    # new endpoint config, the endpoint created or updated, configs no longer used deleted.
    "DeployEndpointFunction": frozenset(
        {
            Grant("sagemaker:DescribeModelPackage", PACKAGES),
            Grant("sagemaker:ListModelPackages", "*"),
            Grant("sagemaker:ListEndpointConfigs", "*"),
            Grant("sagemaker:CreateEndpointConfig", ENDPOINT_CONFIGS),
            # a second approved version: its update, and the first config's clean-up after
            Grant("sagemaker:DeleteEndpointConfig", ENDPOINT_CONFIGS, normal=False),
            Grant("sagemaker:CreateEndpoint", ENDPOINT),
            Grant("sagemaker:UpdateEndpoint", ENDPOINT, normal=False),
            Grant("sagemaker:DescribeEndpoint", ENDPOINT),
        }
    ),
    # The promotion gate: read the version's status, approve it or record why it waits.
    "PromoteFunction": frozenset(
        {
            Grant("sagemaker:DescribeModelPackage", PACKAGES),
            Grant("sagemaker:UpdateModelPackage", PACKAGES),
        }
    ),
    "StartTransformFunction": frozenset(
        {
            Grant("sagemaker:CreateTransformJob", TRANSFORM_JOBS),
            Grant("sagemaker:AddTags", TRANSFORM_JOBS),
            Grant("bedrock:CreateModelInvocationJob", BEDROCK_JOBS, normal=False),
            Grant(
                "iam:PassRole",
                "${BedrockBatchRole.Arn}",
                condition({"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}),
                normal=False,
            ),
            # The per-record calls below the batch minimum: the chosen model only.
            Grant(
                "bedrock:InvokeModel",
                f"{BEDROCK}::foundation-model/${{BedrockModelId}}",
                normal=False,
            ),
            Grant(
                "bedrock:InvokeModel",
                f"{BEDROCK}:${{AWS::AccountId}}:inference-profile/${{BedrockModelId}}",
                normal=False,
            ),
            Grant("s3:GetObject", f"{BUCKET}/runs/*"),
            Grant("s3:PutObject", f"{BUCKET}/runs/*"),
            ABORT_RUN_UPLOADS,
            *USE_KEY,
        }
    ),
    "ScoreFunction": frozenset(
        {
            Grant("s3:GetObject", f"{BUCKET}/runs/*"),
            Grant("s3:PutObject", f"{BUCKET}/runs/*"),
            ABORT_RUN_UPLOADS,
            *USE_KEY,
        }
    ),
    # Reads the run's scores and rejections; stages Parquet and the report under
    # results/staging/ (managed transfer: multipart when large), records the keys in the claim,
    # copies them to results/ (GetObject of the staged copy), deletes the staging, sweeps dead runs'.
    # results/* covers the report text it writes apart from the scores: results/texts/ (and
    # report.html), which the bucket policy keeps from QuickSight's role.
    "PublishFunction": frozenset(
        {
            Grant("s3:GetObject", f"{BUCKET}/runs/*"),
            Grant("s3:GetObject", f"{BUCKET}/results/*"),
            Grant("s3:PutObject", f"{BUCKET}/results/*"),
            Grant("s3:AbortMultipartUpload", f"{BUCKET}/results/*", normal=False),
            Grant("s3:DeleteObject", f"{BUCKET}/results/*"),
            Grant(
                "s3:ListBucket",
                BUCKET,
                condition({"StringLike": {"s3:prefix": "results/staging/*"}}),
            ),
            Grant("s3:GetObject", f"{BUCKET}/claims/*"),
            Grant("s3:PutObject", f"{BUCKET}/claims/*"),
            Grant("sns:Publish", "${RunOutcomeTopic}"),
            *USE_KEY,
        }
    ),
    # Writes failure.json, takes back a half-done commit, marks the claim failed-before-commit
    # (read, PutObject If-Match), notifies.
    "RecordFailureFunction": SETTLES_A_FAILED_RUN,
    # An execution stopped, timed out or failed outside RecordFailure (its status change event):
    # reads the claim, marks it failed-before-commit, takes back a half-done commit, creates
    # failure.json if absent, notifies. Not exercised by a run that ends well.
    "ReleaseStoppedRunFunction": SETTLES_A_FAILED_RUN,
    # QuickSight's data source: Athena in the stack's workgroup over the results tables; it
    # reads the scores and runs objects (no report text since schema version 3) and writes query
    # output; nothing under results/texts/, results/reports/ or results/staging/ (the bucket
    # policy denies it those explicitly). Not exercised locally (no QuickSight).
    "QuickSightAthenaRole": frozenset(
        {
            *(
                Grant(action, f"{ATHENA}:workgroup/${{AthenaWorkGroup}}", normal=False)
                for action in (
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetQueryResultsStream",
                    "athena:GetWorkGroup",
                )
            ),
            *(
                Grant(action, "*", normal=False)
                for action in (
                    "athena:ListWorkGroups",
                    "athena:ListDataCatalogs",
                    "athena:GetDataCatalog",
                )
            ),
            *(
                Grant(action, resource, normal=False)
                for action in (
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                )
                for resource in (
                    f"{GLUE}:catalog",
                    f"{GLUE}:database/${{ResultsDatabase}}",
                    f"{GLUE}:table/${{ResultsDatabase}}/*",
                )
            ),
            Grant("s3:GetBucketLocation", BUCKET, normal=False),
            Grant(
                "s3:ListBucket",
                BUCKET,
                condition(
                    {
                        "StringLike": {
                            "s3:prefix": ["results/scores/*", "results/runs/*", "athena-results/*"]
                        }
                    }
                ),
                normal=False,
            ),
            Grant("s3:GetObject", f"{BUCKET}/results/scores/*", normal=False),
            Grant("s3:GetObject", f"{BUCKET}/results/runs/*", normal=False),
            Grant("s3:GetObject", f"{BUCKET}/athena-results/*", normal=False),
            Grant("s3:PutObject", f"{BUCKET}/athena-results/*", normal=False),
            Grant("s3:AbortMultipartUpload", f"{BUCKET}/athena-results/*", normal=False),
            Grant("kms:Decrypt", KEY, normal=False),
            Grant("kms:GenerateDataKey", KEY, normal=False),
        }
    ),
    # The jobs: read their input under runs/ and the fine-tuned archive under models/, write
    # their output there, read JumpStart's public artifacts; pull the DLC images, log, measure.
    # A Bedrock batch job as its service role: lists and reads its input prefix, writes its
    # output prefix, both under the data key.
    "BedrockBatchRole": frozenset(
        {
            Grant("s3:GetObject", f"{BEDROCK_TRANSFORM}/input/*", normal=False),
            Grant(
                "s3:ListBucket",
                BUCKET,
                condition({"StringLike": {"s3:prefix": "runs/*/transform/bedrock/input/*"}}),
                normal=False,
            ),
            Grant("s3:PutObject", f"{BEDROCK_TRANSFORM}/output/*", normal=False),
            Grant("kms:Decrypt", KEY, normal=False),
            Grant("kms:GenerateDataKey", KEY, normal=False),
        }
    ),
    "SageMakerExecutionRole": frozenset(
        {
            Grant("s3:GetObject", f"{BUCKET}/runs/*"),
            Grant("s3:PutObject", f"{BUCKET}/runs/*"),
            Grant("s3:AbortMultipartUpload", f"{BUCKET}/runs/*", normal=False),
            Grant("s3:GetObject", f"{BUCKET}/models/*"),
            Grant("s3:PutObject", f"{BUCKET}/models/*"),
            Grant("s3:AbortMultipartUpload", f"{BUCKET}/models/*", normal=False),
            # the endpoint's data capture, only with EndpointDataCapture=true
            Grant("s3:PutObject", f"{BUCKET}/endpoint-capture/*", normal=False),
            Grant("s3:ListBucket", BUCKET, condition({"StringLike": {"s3:prefix": "runs/*"}})),
            # JumpStart's public artifacts: the training script and base weights (the "code" and
            # "model" channels), the pre-trained model's archive (ModelDataUrl).
            Grant(
                "s3:GetObject", "arn:${AWS::Partition}:s3:::jumpstart-cache-prod-${AWS::Region}/*"
            ),
            Grant(
                "s3:ListBucket", "arn:${AWS::Partition}:s3:::jumpstart-cache-prod-${AWS::Region}"
            ),
            Grant("kms:Decrypt", KEY),
            Grant("kms:GenerateDataKey", KEY),
            Grant("kms:Encrypt", KEY, normal=False),  # ML volume encryption (VolumeKmsKeyId)
            Grant("kms:CreateGrant", KEY, normal=False),  # the same, for the instance's volume
            *(
                Grant(
                    action,
                    "arn:${AWS::Partition}:ecr:${AWS::Region}:763104351884:repository/*",
                    normal=False,
                )
                for action in (
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                )
            ),
            Grant("ecr:GetAuthorizationToken", "*", normal=False),
            *(
                Grant(
                    action,
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/sagemaker/*",
                    normal=False,
                )
                for action in (
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                )
            ),
            Grant(
                "cloudwatch:PutMetricData",
                "*",
                condition({"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
                normal=False,
            ),
        }
    ),
}


def template_text(value: Any) -> str:
    """A Resource value of the raw template in the table's notation."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"${{{logical}.{attribute}}}"
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    raise ValueError(f"cannot read Resource {value!r}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants_call(role: str, action: str, resource: str, values: dict[str, str]) -> bool:
    """Whether the table grants ``role`` the call ``action`` on ``resource`` (a real ARN or key),
    its grants' ``${...}`` placeholders filled with ``values`` and matched as wildcards."""
    for grant in NEEDS[role]:
        pattern = grant.resource
        for name, value in values.items():
            pattern = pattern.replace(name, value)
        if grant.action == action and fnmatchcase(resource, pattern):
            return True
    return False


def granted(statements: list[dict[str, Any]]) -> frozenset[Grant]:
    """The (action, resource, condition) triples a list of Allow statements grants."""
    found = set()
    for statement in statements:
        if statement.get("Effect") != "Allow" or "NotAction" in statement:
            raise ValueError(f"only plain Allow statements are tabled: {statement}")
        when = condition(statement["Condition"]) if "Condition" in statement else ""
        for action in _listed(statement["Action"]):
            for resource in _listed(statement["Resource"]):
                found.add((action, template_text(resource), when))
    return frozenset(Grant(action, resource, when) for action, resource, when in found)


def role_statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline statements of a SAM function's Policies or an IAM role's Policies."""
    statements: list[dict[str, Any]] = []
    for policy in resource["Properties"].get("Policies") or ():
        document = policy.get("PolicyDocument", policy)
        if "Statement" not in document:
            raise ValueError(f"a SAM policy template is not tabled: {sorted(policy)}")
        statements.extend(document["Statement"])
    return statements


def without_flags(grants: frozenset[Grant]) -> frozenset[Grant]:
    return frozenset(Grant(g.action, g.resource, g.condition) for g in grants)
