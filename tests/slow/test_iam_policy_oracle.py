"""Our IAM evaluator against an independent one: the npm package @cloud-copilot/iam-simulate.

Every case carries the answer the AWS documentation gives (the page is named beside it); our
evaluator must give it, and iam-simulate must agree with ours. iam-simulate is AGPL-3.0: it lives
only in tests/oracle/iam-simulate (pinned in its package.json and package-lock.json), runs as a
separate Node process, and is never shipped or imported by product code. ``npm ci`` installs it
there once when node_modules is missing or holds another version (the registry is needed then);
without node and npm the module is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from radimpress_workstation.embedded.iam_policy import AuthzRequest, Decision, evaluate

ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "iam-simulate"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are not installed (the iam-simulate oracle runs on Node.js)",
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/radimpress-sagemaker"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BUCKET = "arn:aws:s3:::radimpress-data"
OBJECT = f"{BUCKET}/incoming/report.jsonl"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f0e0d0c-0b0a-4909-8807-060504030201"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:radimpress-outcomes"
LOGS = "arn:aws:s3:::radimpress-access-logs"
ALLOWED, IMPLICIT, EXPLICIT = (
    Decision.ALLOWED,
    Decision.IMPLICITLY_DENIED,
    Decision.EXPLICITLY_DENIED,
)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# template.yaml's DataBucketPolicy, intrinsics resolved, in its old (StringNotEqualsIfExists) form
# and the fixed one (StringNotEquals plus Null false: only a header that is present is checked).
TLS_ONLY = deny(
    "s3:*",
    [BUCKET, f"{BUCKET}/*"],
    Sid="DenyInsecureTransport",
    Principal="*",
    Condition={"Bool": {"aws:SecureTransport": "false"}},
)
SSE, SSE_KEY = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"


def _bucket_policy(fixed: bool) -> dict[str, Any]:
    def refuse(sid: str, key: str, value: str) -> dict[str, Any]:
        condition: dict[str, Any] = (
            {"StringNotEquals": {key: value}, "Null": {key: "false"}}
            if fixed
            else {"StringNotEqualsIfExists": {key: value}}
        )
        return deny("s3:PutObject", f"{BUCKET}/*", Sid=sid, Principal="*", Condition=condition)

    return policy(
        TLS_ONLY,
        refuse("DenyObjectsNotEncryptedWithKms", SSE, "aws:kms"),
        refuse("DenyObjectsUnderAnotherKmsKey", SSE_KEY, KEY),
    )


OLD_BUCKET_POLICY, NEW_BUCKET_POLICY = _bucket_policy(False), _bucket_policy(True)
ACCESS_LOGS_POLICY = policy(
    allow(
        "s3:PutObject",
        f"{LOGS}/data-bucket/*",
        Sid="S3LogDeliveryFromTheDataBucketOnly",
        Principal={"Service": "logging.s3.amazonaws.com"},
        Condition={
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": BUCKET},
        },
    ),
    {**TLS_ONLY, "Resource": [LOGS, f"{LOGS}/*"]},
)
WRITE = policy(allow(["s3:PutObject", "s3:GetObject", "s3:ListBucket"], [BUCKET, f"{BUCKET}/*"]))
USE_KEY = policy(allow(["kms:Decrypt", "kms:GenerateDataKey*"], KEY))
ENABLE_IAM = allow("kms:*", Sid="Enable IAM User Permissions", Principal={"AWS": ROOT})
CLOUDWATCH_KEY_STATEMENT = allow(
    ["kms:Decrypt", "kms:GenerateDataKey*"],
    Principal={"Service": "cloudwatch.amazonaws.com"},
    Condition={
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
    },
)
ALARM = {
    "aws:SourceAccount": ACCOUNT,
    "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:radimpress-failed-runs",
}
TLS = {"aws:SecureTransport": True}


def case(
    name: str,
    request: AuthzRequest,
    identity: list[dict[str, Any]],
    resource: dict[str, Any] | None,
    expected: Decision,
    kind: str = "default",
) -> Any:
    return pytest.param(request, identity, resource, kind, expected, id=name)


def put(context: dict[str, Any], principal: str = ROLE) -> AuthzRequest:
    return AuthzRequest(principal, "s3:PutObject", OBJECT, context)


def tag(context: dict[str, Any]) -> AuthzRequest:
    return AuthzRequest(ROLE, "sns:TagResource", TOPIC, context)


SAGEMAKER_JOB = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/mystack-ft-1"
CASES = [
    # S3 user guide "Requiring server-side encryption" + "Condition operators" (...IfExists, Null):
    # the old policy refuses uploads relying on default encryption, the fixed one does not.
    case("old-sse-no-header", put(TLS), [WRITE], OLD_BUCKET_POLICY, EXPLICIT),
    case(
        "old-sse-kms-header",
        put({**TLS, SSE: "aws:kms", SSE_KEY: KEY}),
        [WRITE],
        OLD_BUCKET_POLICY,
        ALLOWED,
    ),
    case("old-sse-aes256", put({**TLS, SSE: "AES256"}), [WRITE], OLD_BUCKET_POLICY, EXPLICIT),
    case(
        "old-sse-kms-no-key-id", put({**TLS, SSE: "aws:kms"}), [WRITE], OLD_BUCKET_POLICY, EXPLICIT
    ),
    case("new-sse-no-header", put(TLS), [WRITE], NEW_BUCKET_POLICY, ALLOWED),
    case(
        "new-sse-kms-header",
        put({**TLS, SSE: "aws:kms", SSE_KEY: KEY}),
        [WRITE],
        NEW_BUCKET_POLICY,
        ALLOWED,
    ),
    case(
        "new-sse-kms-no-key-id", put({**TLS, SSE: "aws:kms"}), [WRITE], NEW_BUCKET_POLICY, ALLOWED
    ),
    case("new-sse-aes256", put({**TLS, SSE: "AES256"}), [WRITE], NEW_BUCKET_POLICY, EXPLICIT),
    case(
        "new-sse-other-key",
        put({**TLS, SSE: "aws:kms", SSE_KEY: OTHER_KEY}),
        [WRITE],
        NEW_BUCKET_POLICY,
        EXPLICIT,
    ),
    # "Bool" condition operator: aws:SecureTransport false is refused.
    case(
        "new-sse-plain-http",
        put({"aws:SecureTransport": False}),
        [WRITE],
        NEW_BUCKET_POLICY,
        EXPLICIT,
    ),
    # template.yaml's AccessLogsBucketPolicy: S3 log delivery (service principal) from our bucket.
    case(
        "log-delivery-from-data-bucket",
        AuthzRequest(
            "logging.s3.amazonaws.com",
            "s3:PutObject",
            f"{LOGS}/data-bucket/2024-01-01-00-00-00-ABCDEF",
            {**TLS, "aws:SourceAccount": ACCOUNT, "aws:SourceArn": BUCKET},
        ),
        [],
        ACCESS_LOGS_POLICY,
        ALLOWED,
    ),
    case(
        "log-delivery-from-another-bucket",
        AuthzRequest(
            "logging.s3.amazonaws.com",
            "s3:PutObject",
            f"{LOGS}/data-bucket/2024-01-01-00-00-00-ABCDEF",
            {**TLS, "aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::elsewhere"},
        ),
        [],
        ACCESS_LOGS_POLICY,
        IMPLICIT,
    ),
    # "Condition operators": a negated operator on an absent key is true (the Deny applies).
    case(
        "not-equals-absent-key-denies",
        put({}),
        [
            WRITE,
            policy(deny("s3:*", Condition={"StringNotEquals": {"aws:PrincipalTag/team": "data"}})),
        ],
        None,
        EXPLICIT,
    ),
    case(
        "null-true-absent-key-denies",
        put({}),
        [WRITE, policy(deny("s3:*", Condition={"Null": {"aws:PrincipalTag/team": "true"}}))],
        None,
        EXPLICIT,
    ),
    # "Condition with multiple context keys or values": values OR, keys AND, negated values NOR.
    case(
        "values-or",
        put({"aws:PrincipalTag/department": "hr"}),
        [
            policy(
                allow(
                    "s3:*",
                    Condition={"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}},
                )
            )
        ],
        None,
        ALLOWED,
    ),
    case(
        "keys-and",
        put({"aws:PrincipalTag/department": "hr"}),
        [
            policy(
                allow(
                    "s3:*",
                    Condition={
                        "StringEquals": {
                            "aws:PrincipalTag/department": "hr",
                            "aws:PrincipalTag/team": "data",
                        }
                    },
                )
            )
        ],
        None,
        IMPLICIT,
    ),
    case(
        "not-equals-two-values-nor",
        put({"aws:PrincipalTag/department": "legal"}),
        [
            WRITE,
            policy(
                deny(
                    "s3:*",
                    Condition={
                        "StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}
                    },
                )
            ),
        ],
        None,
        EXPLICIT,
    ),
    case(
        "not-equals-two-values-listed",
        put({"aws:PrincipalTag/department": "hr"}),
        [
            WRITE,
            policy(
                deny(
                    "s3:*",
                    Condition={
                        "StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}
                    },
                )
            ),
        ],
        None,
        ALLOWED,
    ),
    case(
        "for-all-values-absent-is-true",
        tag({}),
        [
            policy(
                allow(
                    "sns:TagResource",
                    Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
                )
            )
        ],
        None,
        ALLOWED,
    ),
    case(
        "for-any-value-absent-is-false",
        tag({}),
        [
            policy(
                allow(
                    "sns:TagResource",
                    Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
                )
            )
        ],
        None,
        IMPLICIT,
    ),
    case(
        "for-all-values-one-outside",
        tag({"aws:TagKeys": ["team", "owner"]}),
        [
            policy(
                allow(
                    "sns:TagResource",
                    Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
                )
            )
        ],
        None,
        IMPLICIT,
    ),
    case(
        "for-any-value-one-inside",
        tag({"aws:TagKeys": ["team", "owner"]}),
        [
            policy(
                allow(
                    "sns:TagResource",
                    Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
                )
            )
        ],
        None,
        ALLOWED,
    ),
    # "Condition operators": ARN, numeric, date and IP address operators.
    case(
        "arn-like-wildcards-in-parts",
        AuthzRequest(
            "events.amazonaws.com",
            "sns:Publish",
            TOPIC,
            {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/radimpress-upload"},
        ),
        [],
        policy(
            allow(
                "sns:Publish",
                TOPIC,
                Principal={"Service": "events.amazonaws.com"},
                Condition={"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/radimpress-*"}},
            )
        ),
        ALLOWED,
    ),
    case(
        "numeric-less-than",
        AuthzRequest(ROLE, "s3:ListBucket", BUCKET, {"s3:max-keys": "10"}),
        [
            policy(
                allow("s3:ListBucket", BUCKET, Condition={"NumericLessThan": {"s3:max-keys": "10"}})
            )
        ],
        None,
        IMPLICIT,
    ),
    case(
        "date-greater-than",
        put({"aws:CurrentTime": "2024-06-30T12:00:00Z"}),
        [
            policy(
                allow(
                    "s3:PutObject",
                    Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:01Z"}},
                )
            )
        ],
        None,
        ALLOWED,
    ),
    case(
        "ip-address-cidr",
        put({"aws:SourceIp": "203.0.113.7"}),
        [
            WRITE,
            policy(deny("s3:*", Condition={"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}})),
        ],
        None,
        ALLOWED,
    ),
    # "Policy evaluation logic": explicit deny wins across policies; a resource-policy allow alone
    # grants within the account; an account principal does not by itself grant the account's roles.
    case(
        "identity-deny-beats-resource-allow",
        put({}),
        [policy(deny("s3:PutObject"))],
        policy(allow("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": ROLE})),
        EXPLICIT,
    ),
    case(
        "resource-allow-alone",
        put({}),
        [],
        policy(allow("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": ROLE})),
        ALLOWED,
    ),
    case(
        "account-principal-denies-role",
        put({}),
        [WRITE],
        policy(deny("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": ACCOUNT})),
        EXPLICIT,
    ),
    # "IAM JSON policy elements: Action / NotAction / NotResource": wildcards, case-insensitive
    # actions, case-sensitive resources (SageMaker lowercases its ARNs).
    case(
        "action-wildcard-and-case",
        AuthzRequest(ROLE, "s3:GetObject", OBJECT),
        [policy(allow("S3:get*", f"{BUCKET}/*"))],
        None,
        ALLOWED,
    ),
    case(
        "not-action",
        AuthzRequest(ROLE, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x"),
        [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        None,
        IMPLICIT,
    ),
    case(
        "not-resource",
        put({}),
        [WRITE, policy({"Effect": "Deny", "Action": "s3:*", "NotResource": [f"{BUCKET}/runs/*"]})],
        None,
        EXPLICIT,
    ),
    case(
        "resource-case-sensitive",
        AuthzRequest(ROLE, "sagemaker:DescribeTrainingJob", SAGEMAKER_JOB),
        [
            policy(
                allow(
                    "sagemaker:*", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/MyStack-*"
                )
            )
        ],
        None,
        IMPLICIT,
    ),
    case(
        "pass-role-to-sagemaker",
        AuthzRequest(
            OTHER_ROLE, "iam:PassRole", ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}
        ),
        [
            policy(
                allow(
                    "iam:PassRole",
                    ROLE,
                    Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
        ],
        None,
        ALLOWED,
    ),
    # "Key policies in AWS KMS" / "Allows access to the AWS account and enables IAM policies".
    case(
        "kms-identity-without-delegation",
        AuthzRequest(ROLE, "kms:Decrypt", KEY),
        [USE_KEY],
        policy(allow("kms:*", Principal={"AWS": OTHER_ROLE})),
        IMPLICIT,
        "kms",
    ),
    case(
        "kms-identity-with-delegation",
        AuthzRequest(ROLE, "kms:Decrypt", KEY),
        [USE_KEY],
        policy(ENABLE_IAM),
        ALLOWED,
        "kms",
    ),
    case(
        "kms-delegation-without-identity",
        AuthzRequest(ROLE, "kms:Decrypt", KEY),
        [],
        policy(ENABLE_IAM),
        IMPLICIT,
        "kms",
    ),
    case(
        "kms-key-policy-names-role",
        AuthzRequest(ROLE, "kms:Decrypt", KEY),
        [],
        policy(allow("kms:Decrypt", Principal={"AWS": ROLE})),
        ALLOWED,
        "kms",
    ),
    case(
        "kms-key-policy-deny-wins",
        AuthzRequest(ROLE, "kms:Decrypt", KEY),
        [USE_KEY],
        policy(ENABLE_IAM, deny("kms:Decrypt", Principal="*")),
        EXPLICIT,
        "kms",
    ),
    case(
        "kms-cloudwatch-service-principal",
        AuthzRequest("cloudwatch.amazonaws.com", "kms:GenerateDataKey", KEY, ALARM),
        [],
        policy(ENABLE_IAM, CLOUDWATCH_KEY_STATEMENT),
        ALLOWED,
        "kms",
    ),
    case(
        "kms-cloudwatch-other-account",
        AuthzRequest(
            "cloudwatch.amazonaws.com",
            "kms:GenerateDataKey",
            KEY,
            {**ALARM, "aws:SourceAccount": "210987654321"},
        ),
        [],
        policy(ENABLE_IAM, CLOUDWATCH_KEY_STATEMENT),
        IMPLICIT,
        "kms",
    ),
]


def _account(request: AuthzRequest) -> str:
    """Same-account requests only: an S3 ARN names no account, so the caller's is used."""
    parts = request.resource.split(":")
    return parts[4] or ACCOUNT


@pytest.fixture(scope="module")
def oracle() -> Path:
    """The oracle's folder, with the pinned iam-simulate installed (npm ci once, then kept)."""
    pinned = json.loads((ORACLE / "package.json").read_text())["dependencies"]
    installed = ORACLE / "node_modules/@cloud-copilot/iam-simulate/package.json"
    version = json.loads(installed.read_text())["version"] if installed.exists() else None
    if version != pinned["@cloud-copilot/iam-simulate"]:
        assert NPM is not None
        proc = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"],
            cwd=ORACLE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"npm ci failed in {ORACLE}:\n{proc.stderr[-3000:]}"
    return ORACLE


@pytest.fixture(scope="module")
def oracle_answers(oracle: Path) -> dict[str, dict[str, Any]]:
    """Every case run through iam-simulate in one Node process, by case id."""
    payload = []
    for param in CASES:
        request, identity, resource, _, _ = param.values
        payload.append(
            {
                "principal": request.principal,
                "action": request.action,
                "resource": request.resource,
                "resourceAccount": _account(request),
                "context": dict(request.context),
                "identityPolicies": [[f"role-policy-{i}", doc] for i, doc in enumerate(identity)],
                "resourcePolicy": resource,
            }
        )
    assert NODE is not None
    proc = subprocess.run(
        [NODE, "simulate.mjs"],
        cwd=oracle,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(CASES)
    return {param.id: answer for param, answer in zip(CASES, answers, strict=True)}


@pytest.mark.parametrize(("request_", "identity", "resource", "kind", "expected"), CASES)
def test_matches_aws_docs_and_iam_simulate(
    request, oracle_answers, request_, identity, resource, kind, expected
):
    named = [(f"role-policy-{i}", doc) for i, doc in enumerate(identity)]
    ours = evaluate(
        request_, named, ("resource-policy", resource) if resource else None, resource_kind=kind
    )
    assert ours.decision is expected, ours.reason
    answer = oracle_answers[request.node.callspec.id]
    assert "error" not in answer, answer["error"]
    # A context key iam-simulate drops as not applicable would make the comparison hollow.
    assert answer["ignored"] == [], answer
    assert answer["decision"] == ours.decision.value, ours.reason
