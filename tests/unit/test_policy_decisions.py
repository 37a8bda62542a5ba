"""What template.yaml's policies decide for real requests, under IAM's evaluation logic.

Every row is a request someone makes (a hospital upload, each Lambda's writes, a non-TLS client,
a principal of another account) with the answer AWS documents for it, evaluated by
radimpress_workstation.embedded.iam_policy against the template's own role, bucket and key
policies (intrinsics resolved). Sources: IAM User Guide "Policy evaluation logic" and
"Cross-account policy evaluation logic" (another account needs the resource policy to allow);
"Condition operators" (...IfExists and negated operators on absent keys); S3 User Guide
"Specifying server-side encryption with AWS KMS" (default encryption applies after authorization
to a request without the header); AWS KMS "Key policies" (the account root statement delegates
to IAM policies of that account only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from radimpress_workstation.embedded.iam_policy import AuthzRequest, Decision, evaluate
from radimpress_workstation.embedded.template import Resolver, expand

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "radimpress"
BUCKET = "radimpress-databucket-0a1b2c3d"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e0d0c-0b0a-4909-8807-060504030201"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:radimpress-RunOutcomeTopic-1"
FOREIGN = "arn:aws:iam::999999999999:role/someone"
UPLOADER = f"arn:aws:iam::{ACCOUNT}:role/hospital-uploader"
QUICKSIGHT_USER = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/analyst"
ALLOWED, IMPLICIT, EXPLICIT = (
    Decision.ALLOWED,
    Decision.IMPLICITLY_DENIED,
    Decision.EXPLICITLY_DENIED,
)


def role_arn(logical: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical}"


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    """The expanded template with every intrinsic resolved to realistic names and ARNs."""
    exp = expand(
        ROOT / "template.yaml",
        region=REGION,
        account_id=ACCOUNT,
        stack_name=STACK,
        # With the optional QuickSight part, so its role and the bucket policy's Deny exist.
        parameters={"ResourcePrefix": STACK, "QuickSightUserArn": QUICKSIGHT_USER},
    )
    refs = {logical: logical for logical in exp.resources}
    refs |= {"DataBucket": BUCKET, "DataKey": KEY_ID, "RunOutcomeTopic": TOPIC}
    arns = {"DataBucket": f"arn:aws:s3:::{BUCKET}", "DataKey": KEY}

    def attribute(logical: str, name: str) -> str:
        if name != "Arn":
            return f"{logical}.{name}"
        if exp.resources[logical]["Type"] == "AWS::IAM::Role":
            return role_arn(logical)
        return arns.get(logical, f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}")

    resolver = Resolver(
        exp.parameters,
        refs=refs,
        attribute=attribute,
        condition=lambda name: exp.conditions[name],
        mappings=exp.mappings,
    )
    return resolver.resolve(exp.resources, "Resources")


def identity(stack, logical: str) -> list[tuple[str, dict]]:
    if logical == "uploader":  # what docs/first-deployment.md asks a hospital uploader to have
        statements = [
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/incoming/*",
            },
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": KEY},
        ]
        return [("uploader", {"Version": "2012-10-17", "Statement": statements})]
    if logical in ("foreign", "admin"):  # everything, in its own account
        return [
            (
                "admin",
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                },
            )
        ]
    return [
        (p["PolicyName"], p["PolicyDocument"]) for p in stack[logical]["Properties"]["Policies"]
    ]


def principal(logical: str) -> str:
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    services = {"logs": f"logs.{REGION}.amazonaws.com", "events": "events.amazonaws.com"}
    named = {"uploader": UPLOADER, "foreign": FOREIGN, "admin": admin, **services}
    return named.get(logical) or role_arn(logical)


def decide(stack, who: str, action: str, resource: str, **context: Any) -> Decision:
    caller = principal(who)
    service = not caller.startswith("arn:")  # an AWS service acting for the stack
    always = {"aws:SecureTransport": True}
    always |= {"aws:PrincipalServiceName": caller} if service else {"aws:PrincipalArn": caller}
    request = AuthzRequest(caller, action, resource, {**always, **context})
    if action.startswith("kms:"):
        key_policy = ("key policy", stack["DataKey"]["Properties"]["KeyPolicy"])
        if service or caller.split(":")[4] != ACCOUNT:  # only the key policy can grant
            return evaluate(request, [], key_policy, resource_kind="kms").decision
        return evaluate(request, identity(stack, who), key_policy, resource_kind="kms").decision
    bucket_policy = ("bucket policy", stack["DataBucketPolicy"]["Properties"]["PolicyDocument"])
    if caller.split(":")[4] != ACCOUNT:  # cross-account: the bucket policy must allow too
        own = evaluate(request, identity(stack, who)).decision
        theirs = evaluate(request, [], bucket_policy).decision
        return (
            EXPLICIT
            if EXPLICIT in (own, theirs)
            else (ALLOWED if own == theirs == ALLOWED else IMPLICIT)
        )
    return evaluate(request, identity(stack, who), bucket_policy).decision


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"
WITH_KEY = {SSE: "aws:kms", SSE_KEY: KEY}
INGEST, PUBLISH = "IngestFunctionRole", "PublishFunctionRole"
QUICKSIGHT = "QuickSightAthenaRole"
SCORES_OBJ = obj("results/scores/run_date=2026-01-01/r.parquet")
TEXTS_OBJ = obj("results/texts/run_date=2026-01-01/r.parquet")

# (why, who, action, resource, context, expected)
ROWS = [
    ("plain upload: aws s3 cp without --sse", "uploader", "s3:PutObject", obj("incoming/infer/a/f.jsonl"), {}, ALLOWED),
    ("upload naming the data key", "uploader", "s3:PutObject", obj("incoming/infer/a/f.jsonl"), WITH_KEY, ALLOWED),
    ("upload asking for SSE-S3", "uploader", "s3:PutObject", obj("incoming/infer/a/f.jsonl"), {SSE: "AES256"}, EXPLICIT),
    ("upload asking for aws/s3 (aws:kms, no key id)", "uploader", "s3:PutObject", obj("incoming/infer/a/f.jsonl"), {SSE: "aws:kms"}, EXPLICIT),
    ("upload naming another key", "uploader", "s3:PutObject", obj("incoming/infer/a/f.jsonl"), {SSE: "aws:kms", SSE_KEY: OTHER_KEY}, EXPLICIT),
    ("uploader writing results", "uploader", "s3:PutObject", obj("results/x.parquet"), {}, IMPLICIT),
    ("Ingest claims the version", INGEST, "s3:PutObject", obj("claims/abc.json"), WITH_KEY, ALLOWED),
    ("Ingest writes the run's records", INGEST, "s3:PutObject", obj("runs/r/ingest/records.jsonl"), WITH_KEY, ALLOWED),
    ("Ingest reads the version the event names", INGEST, "s3:GetObjectVersion", obj("incoming/infer/a/f.jsonl"), {}, ALLOWED),
    ("Ingest uses the data key", INGEST, "kms:Decrypt", KEY, {}, ALLOWED),
    ("Ingest writing results", INGEST, "s3:PutObject", obj("results/x.parquet"), WITH_KEY, IMPLICIT),
    ("StartTransform writes a transform input", "StartTransformFunctionRole", "s3:PutObject", obj("runs/r/transform/m/input.jsonl"), WITH_KEY, ALLOWED),
    ("Score writes score rows", "ScoreFunctionRole", "s3:PutObject", obj("runs/r/scores/m.jsonl"), WITH_KEY, ALLOWED),
    ("Score writing results", "ScoreFunctionRole", "s3:PutObject", obj("results/x.parquet"), WITH_KEY, IMPLICIT),
    ("Publish writes Parquet", PUBLISH, "s3:PutObject", obj("results/scores/run_date=2026-01-01/r.parquet"), WITH_KEY, ALLOWED),
    ("Publish rolls back what it wrote", PUBLISH, "s3:DeleteObject", obj("results/scores/run_date=2026-01-01/r.parquet"), {}, ALLOWED),
    ("Publish deleting an upload", PUBLISH, "s3:DeleteObject", obj("incoming/infer/a/f.jsonl"), {}, IMPLICIT),
    ("Publish notifies the topic", PUBLISH, "sns:Publish", TOPIC, {}, ALLOWED),
    ("RegisterModel cannot write under models/ any more", "RegisterModelFunctionRole", "s3:PutObject", obj("models/latest-fine-tuned.json"), WITH_KEY, IMPLICIT),
    ("RegisterModel writing another models/ key", "RegisterModelFunctionRole", "s3:PutObject", obj("models/x/output/model.tar.gz"), WITH_KEY, IMPLICIT),
    ("ResolveModels reads only the pointer", "ResolveModelsFunctionRole", "s3:GetObject", obj("models/x/output/model.tar.gz"), {}, IMPLICIT),
    ("RecordFailure writes failure.json", "RecordFailureFunctionRole", "s3:PutObject", obj("runs/r/failure.json"), WITH_KEY, ALLOWED),
    ("RecordFailure marks the claim failed-before-commit", "RecordFailureFunctionRole", "s3:PutObject", obj("claims/abc.json"), WITH_KEY, ALLOWED),
    ("RecordFailure deleting a claim (a committed run's must stay)", "RecordFailureFunctionRole", "s3:DeleteObject", obj("claims/abc.json"), {}, IMPLICIT),
    ("RecordFailure takes back a half-done commit", "RecordFailureFunctionRole", "s3:DeleteObject", obj("results/runs/run_date=2026-01-01/r.parquet"), {}, ALLOWED),
    ("ReleaseStoppedRun marks a stopped run's claim failed-before-commit", "ReleaseStoppedRunFunctionRole", "s3:PutObject", obj("claims/abc.json"), WITH_KEY, ALLOWED),
    ("ReleaseStoppedRun writes failure.json", "ReleaseStoppedRunFunctionRole", "s3:PutObject", obj("runs/r/failure.json"), WITH_KEY, ALLOWED),
    ("ReleaseStoppedRun deleting a claim (a committed run's must stay)", "ReleaseStoppedRunFunctionRole", "s3:DeleteObject", obj("claims/abc.json"), {}, IMPLICIT),
    ("ReleaseStoppedRun reading an upload", "ReleaseStoppedRunFunctionRole", "s3:GetObject", obj("incoming/infer/a/f.jsonl"), {}, EXPLICIT),
    ("Publish records its lifecycle in the claim", PUBLISH, "s3:PutObject", obj("claims/abc.json"), WITH_KEY, ALLOWED),
    ("Publish sweeps the staging", PUBLISH, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "results/staging/"}, ALLOWED),
    ("Publish listing uploads", PUBLISH, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "incoming/"}, IMPLICIT),
    ("a training job writes its archive", "SageMakerExecutionRole", "s3:PutObject", obj("models/j/output/model.tar.gz"), WITH_KEY, ALLOWED),
    ("a job lists its input prefix", "SageMakerExecutionRole", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "runs/r/train/data/"}, ALLOWED),
    ("a job listing uploads", "SageMakerExecutionRole", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "incoming/"}, IMPLICIT),
    ("a job reading uploads", "SageMakerExecutionRole", "s3:GetObject", obj("incoming/infer/a/f.jsonl"), {}, IMPLICIT),
    ("a client without TLS", INGEST, "s3:GetObjectVersion", obj("incoming/infer/a/f.jsonl"), {"aws:SecureTransport": False}, EXPLICIT),
    ("an account administrator reads an upload", "admin", "s3:GetObject", obj("incoming/infer/a/f.jsonl"), {}, EXPLICIT),
    ("an account administrator reads a run's records", "admin", "s3:GetObject", obj("runs/r/ingest/records.jsonl"), {}, EXPLICIT),
    ("an account administrator reads a failure notice (ids only)", "admin", "s3:GetObject", obj("runs/r/failure.json"), {}, ALLOWED),
    ("an account administrator reads results", "admin", "s3:GetObject", obj("results/scores/run_date=2026-01-01/r.parquet"), {}, ALLOWED),
    ("RegisterModel reading a run's records", "RegisterModelFunctionRole", "s3:GetObject", obj("runs/r/ingest/records.jsonl"), {}, EXPLICIT),
    ("CloudWatch Logs encrypts this stack's Ingest log group", "logs", "kms:GenerateDataKey", KEY, {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-ingest"}, ALLOWED),
    ("CloudWatch Logs encrypts another log group of the account", "logs", "kms:GenerateDataKey", KEY, {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other"}, IMPLICIT),
    ("EventBridge writes the upload rule's undelivered event", "events", "kms:GenerateDataKey", KEY, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-uploads"}, ALLOWED),
    ("EventBridge for another rule", "events", "kms:GenerateDataKey", KEY, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other"}, IMPLICIT),
    ("another account's administrator reads a run", "foreign", "s3:GetObject", obj("runs/r/ingest/records.jsonl"), {}, EXPLICIT),
    ("another account's administrator uses the key", "foreign", "kms:Decrypt", KEY, {}, IMPLICIT),
    # Report text lives in results/texts/ (schema version 3), never in the scores QuickSight reads.
    ("QuickSight reads the scores", QUICKSIGHT, "s3:GetObject", SCORES_OBJ, {}, ALLOWED),
    ("QuickSight reads the run summaries", QUICKSIGHT, "s3:GetObject", obj("results/runs/run_date=2026-01-01/r.parquet"), {}, ALLOWED),
    ("QuickSight reads report text", QUICKSIGHT, "s3:GetObject", TEXTS_OBJ, {}, EXPLICIT),
    ("QuickSight reads a version of report text", QUICKSIGHT, "s3:GetObjectVersion", TEXTS_OBJ, {}, EXPLICIT),
    ("QuickSight reads report.html", QUICKSIGHT, "s3:GetObject", obj("results/reports/r/report.html"), {}, EXPLICIT),
    ("QuickSight reads staged results", QUICKSIGHT, "s3:GetObject", obj("results/staging/r/texts.parquet"), {}, EXPLICIT),
    ("QuickSight lists the scores", QUICKSIGHT, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "results/scores/run_date=2026-01-01/"}, ALLOWED),
    ("QuickSight lists report text", QUICKSIGHT, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "results/texts/run_date=2026-01-01/"}, IMPLICIT),
    ("QuickSight reads uploads", QUICKSIGHT, "s3:GetObject", obj("incoming/infer/a/f.jsonl"), {}, EXPLICIT),
    ("Publish stages report text", PUBLISH, "s3:PutObject", obj("results/staging/r/texts.parquet"), WITH_KEY, ALLOWED),
    ("Publish commits report text (the copy reads the staged object)", PUBLISH, "s3:GetObject", obj("results/staging/r/texts.parquet"), {}, ALLOWED),
    ("Publish commits report text", PUBLISH, "s3:PutObject", TEXTS_OBJ, WITH_KEY, ALLOWED),
    ("RecordFailure takes back committed report text", "RecordFailureFunctionRole", "s3:DeleteObject", TEXTS_OBJ, {}, ALLOWED),
    ("an account administrator reads report text (IAM-governed, as Athena reads as the caller)", "admin", "s3:GetObject", TEXTS_OBJ, {}, ALLOWED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "action", "resource", "context", "expected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_the_template_decides_each_request_as_documented(
    stack, who, action, resource, context, expected
):
    assert decide(stack, who, action, resource, **context) == expected
