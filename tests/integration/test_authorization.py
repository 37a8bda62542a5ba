"""The embedded stack refuses what AWS would: the template's own policies decide every call.

Each test runs the real template.yaml, or a copy with one policy put back the way it was before
the first-contact review, and checks the refusal happens where AWS documents it:
- IAM User Guide, "Condition operators" ("...IfExists": true when the key is absent; a negated
  operator matches an absent key) and "Policy evaluation logic" (an explicit Deny wins);
- S3 User Guide, "Specifying server-side encryption with AWS KMS (SSE-KMS)": default encryption is
  applied to a request that sends no encryption header, after the bucket policy has authorized it;
- S3 API reference, PutObject: ``x-amz-server-side-encryption: aws:kms`` without a key id means
  the AWS managed key aws/s3, not the bucket's data key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from radimpress import clients
from radimpress_workstation.embedded.stack import EmbeddedStack
from radimpress_workstation.job_backend.backend import local_job_backend, reset_local_job_backend
from radimpress_workstation.synthetic import generate_reports

ROOT = Path(__file__).resolve().parents[2]
INFER_KEY = "incoming/infer/authz/findings.jsonl"

# DataBucketPolicy's two encryption Deny statements as they were: StringNotEqualsIfExists and no
# Null guard, so a request without the header matched the Deny.
FIXED_SSE_CONDITION = """              "Null":
                s3:x-amz-server-side-encryption: "false"
              StringNotEquals:
                s3:x-amz-server-side-encryption: aws:kms"""
OLD_SSE_CONDITION = """              StringNotEqualsIfExists:
                s3:x-amz-server-side-encryption: aws:kms"""
FIXED_KEY_CONDITION = """              "Null":
                s3:x-amz-server-side-encryption: "false"
              StringNotEqualsIfExists:
                s3:x-amz-server-side-encryption-aws-kms-key-id: !GetAtt DataKey.Arn"""
OLD_KEY_CONDITION = """              StringNotEqualsIfExists:
                s3:x-amz-server-side-encryption-aws-kms-key-id: !GetAtt DataKey.Arn"""
OLD_BUCKET_POLICY = (
    (FIXED_SSE_CONDITION, OLD_SSE_CONDITION),
    (FIXED_KEY_CONDITION, OLD_KEY_CONDITION),
)


def template_variant(tmp_path: Path, replacements) -> Path:
    """template.yaml with each (old, new) text replaced once, beside links to its code."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, f"template.yaml no longer holds exactly one {old!r}"
        text = text.replace(old, new)
    folder = tmp_path / "variant"
    folder.mkdir()
    for linked in ("functions", "statemachine"):
        (folder / linked).symlink_to(ROOT / linked, target_is_directory=True)
    (folder / "template.yaml").write_text(text, encoding="utf-8")
    return folder / "template.yaml"


def findings(count: int = 5) -> bytes:
    rows = generate_reports(count, seed=11, prefix="AUTHZ")
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def start(template: Path, **kwargs) -> EmbeddedStack:
    reset_local_job_backend()
    stack = EmbeddedStack(
        template, parameters={"PollSeconds": "1"}, retry_scale=0.0, stack_name="authz", **kwargs
    )
    stack.start()
    clients.override("sagemaker", local_job_backend)
    return stack


@pytest.fixture
def stacks():
    started: list[EmbeddedStack] = []

    def build(template: Path = ROOT / "template.yaml", **kwargs) -> EmbeddedStack:
        started.append(start(template, **kwargs))
        return started[-1]

    yield build
    for stack in started:
        stack.stop()
    reset_local_job_backend()


def data_key(stack: EmbeddedStack) -> str:
    return stack.resources["DataKey"].attributes["Arn"]


def denied_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


@pytest.mark.parametrize("lambda_headers", [True, False], ids=["sse-headers", "no-headers"])
def test_plain_upload_and_every_lambda_write_pass_the_shipped_policies(stacks, lambda_headers):
    # no-headers: the Lambdas send no encryption header (no key ARN in their environment); the
    # bucket's default encryption applies, as for a plain `aws s3 cp`.
    environment = {} if lambda_headers else {"RADIMPRESS_KMS_KEY_ARN": ""}
    stack = stacks(environment=environment)
    stack.upload(INFER_KEY, findings())  # as `aws s3 cp` sends it: no SSE header
    result = stack.wait(stack.start_execution(INFER_KEY), timeout=180)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert stack.authorizer is not None and stack.authorizer.denied == []
    granted = {(action, resource) for _, action, resource in stack.authorizer.granted}
    assert ("s3:PutObject", f"arn:aws:s3:::{stack.bucket}/{INFER_KEY}") in granted
    assert ("kms:GenerateDataKey", data_key(stack)) in granted


def another_key(key_arn: str) -> str:
    """A key ARN that differs from ``key_arn`` in its last digit (a random key id need not
    contain any given digit, so replacing one could leave it unchanged: a flaky test once)."""
    return key_arn[:-1] + ("0" if key_arn[-1] != "0" else "1")


def test_uploads_that_name_another_encryption_are_refused_by_the_bucket_policy(stacks):
    stack = stacks()
    wrong = [
        {"ServerSideEncryption": "AES256"},
        {"ServerSideEncryption": "aws:kms"},  # S3 would use aws/s3, not the data key
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": another_key(data_key(stack))},
    ]
    for encryption in wrong:
        code = denied_code(lambda e=encryption: stack.upload(INFER_KEY, b"{}\n", encryption=e))
        assert code == "AccessDenied", encryption
    right = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": data_key(stack)}
    assert stack.upload(INFER_KEY, b"{}\n", encryption=right)["version_id"]
    assert all("explicit deny" in message for message in stack.authorizer.denied)


def test_uploads_outside_incoming_are_refused_to_the_uploader(stacks):
    stack = stacks()
    assert denied_code(lambda: stack.upload("results/forged.parquet", b"x")) == "AccessDenied"
    assert "because no policy allows it" in stack.authorizer.denied[-1]


def test_the_old_bucket_policy_refuses_the_documented_upload(stacks, tmp_path):
    stack = stacks(template_variant(tmp_path, OLD_BUCKET_POLICY))
    assert denied_code(lambda: stack.upload(INFER_KEY, findings())) == "AccessDenied"
    assert "DenyObjectsNotEncryptedWithKms" in stack.authorizer.denied[-1]


def test_the_old_bucket_policy_fails_the_run_at_the_first_lambda_write_without_headers(
    stacks, tmp_path
):
    stack = stacks(
        template_variant(tmp_path, OLD_BUCKET_POLICY), environment={"RADIMPRESS_KMS_KEY_ARN": ""}
    )
    right = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": data_key(stack)}
    stack.upload(INFER_KEY, findings(), encryption=right)
    result = stack.wait(stack.start_execution(INFER_KEY), timeout=180)
    assert result.status == "FAILED"
    assert "Transform" not in " ".join(result.visited)  # refused in Ingest, before any job
    first = stack.authorizer.denied[0]
    assert "Ingest" in first and "s3:PutObject" in first and "explicit deny" in first


def test_a_role_without_the_kms_grant_cannot_read_the_upload(stacks, tmp_path):
    # Ingest reads the upload: S3 decrypts it with the data key on the caller's behalf, so the
    # role needs kms:Decrypt on the key (S3 User Guide, "Permissions for SSE-KMS").
    ingest_kms = """            - Effect: Allow
              Action:
                - kms:Decrypt
                - kms:GenerateDataKey
              Resource: !GetAtt DataKey.Arn

  StartTrainingFunction:"""
    stack = stacks(template_variant(tmp_path, [(ingest_kms, "\n  StartTrainingFunction:")]))
    stack.upload(INFER_KEY, findings())
    result = stack.wait(stack.start_execution(INFER_KEY), timeout=180)
    assert result.status == "FAILED"
    assert any("kms:Decrypt" in m and "Ingest" in m for m in stack.authorizer.denied)


def test_publish_without_delete_object_is_refused_where_it_removes_its_staging(stacks, tmp_path):
    # Defect 3 of the first-contact review put back: Publish's role without s3:DeleteObject.
    with_delete = """              Action:
                - s3:PutObject
                - s3:AbortMultipartUpload
                - s3:DeleteObject
              Resource: !Sub ${DataBucket.Arn}/results/*"""
    without = with_delete.replace("                - s3:DeleteObject\n", "")
    stack = stacks(template_variant(tmp_path, [(with_delete, without)]))
    stack.upload(INFER_KEY, findings())
    stack.wait(stack.start_execution(INFER_KEY), timeout=180)
    refused = [m for m in stack.authorizer.denied if "PublishFunction" in m]
    assert refused, stack.authorizer.denied
    assert "s3:DeleteObject" in refused[0] and "/results/staging/" in refused[0]
