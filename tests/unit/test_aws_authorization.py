"""Which requests each AWS call makes, and what a refusal looks like (aws_authorization).

Sources: S3 User Guide "Required permissions for Amazon S3 API operations" (GetObject needs
kms:Decrypt on an SSE-KMS object; HeadObject needs s3:GetObject only), "Permissions for SSE-KMS"
(PutObject needs kms:GenerateDataKey; a multipart upload also kms:Decrypt); S3 API reference
GetObject ("If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code
403"); SNS Developer Guide "Encryption at rest" (publishing to an encrypted topic needs
kms:GenerateDataKey and kms:Decrypt); SageMaker "Actions, resources, and condition keys"
(lowercase resource names, sagemaker:AddTags when a create carries Tags, iam:PassRole).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from radimpress_workstation.embedded.aws_authorization import (
    Authorizer,
    StackPolicies,
    acting_as,
    sagemaker_requests,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
BUCKET = "data"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:outcomes"


def allow(actions, resources, **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def policies(*statements) -> StackPolicies:
    stack = StackPolicies(account=ACCOUNT, region=REGION)
    stack.identity[ROLE] = [("worker", {"Version": "2012-10-17", "Statement": list(statements)})]
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    stack.keys[KEY] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"}],
    }
    stack.key_names["11111111-2222-3333-4444-555555555555"] = KEY
    stack.bucket_keys[BUCKET] = KEY
    stack.topic_keys[TOPIC] = "11111111-2222-3333-4444-555555555555"
    return stack


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="runs/a.json", Body=b"{}")
        yield


def authorizer(*statements) -> Authorizer:
    return Authorizer(policies(*statements), lambda service: boto3.client(service, REGION))


def actions(auth: Authorizer) -> set[tuple[str, str]]:
    return {(action, resource) for _, action, resource in auth.granted}


def test_a_plain_put_needs_the_bucket_default_keys_generate_data_key(aws):
    auth = authorizer(allow("s3:PutObject", f"arn:aws:s3:::{BUCKET}/runs/*"))
    s3 = auth.client_for("s3", ROLE)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="runs/b.json", Body=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "kms:GenerateDataKey" in auth.denied[-1]


def test_multipart_uploads_also_need_kms_decrypt(aws):
    auth = authorizer(
        allow("s3:PutObject", f"arn:aws:s3:::{BUCKET}/runs/*"),
        allow("kms:GenerateDataKey", KEY),
    )
    s3 = auth.client_for("s3", ROLE)
    s3.put_object(Bucket=BUCKET, Key="runs/b.json", Body=b"{}")  # a single PUT: allowed
    with pytest.raises(ClientError):
        s3.create_multipart_upload(Bucket=BUCKET, Key="runs/c.json")
    assert "kms:Decrypt" in auth.denied[-1]


def test_reads_need_decrypt_but_head_does_not(aws):
    auth = authorizer(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/runs/*"))
    s3 = auth.client_for("s3", ROLE)
    assert s3.head_object(Bucket=BUCKET, Key="runs/a.json")["ContentLength"] == 2
    with pytest.raises(ClientError):
        s3.get_object(Bucket=BUCKET, Key="runs/a.json")
    assert "kms:Decrypt" in auth.denied[-1]


@pytest.mark.parametrize("can_list", [False, True])
def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(aws, can_list):
    statements = [allow(["s3:GetObject", "kms:Decrypt"], [f"arn:aws:s3:::{BUCKET}/*", KEY])]
    if can_list:
        statements.append(allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"))
    s3 = authorizer(*statements).client_for("s3", ROLE)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=BUCKET, Key="runs/none.json")
    assert missing.value.response["Error"]["Code"] == ("NoSuchKey" if can_list else "AccessDenied")
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=BUCKET, Key="runs/none.json")
    assert head.value.response["Error"]["Code"] == ("404" if can_list else "403")


def test_the_key_id_header_is_a_condition_key_the_bucket_policy_sees(aws):
    auth = authorizer(allow(["s3:PutObject", "kms:GenerateDataKey"], "*"))
    auth.policies.buckets[BUCKET] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY
                    }
                },
            }
        ],
    }
    s3 = auth.client_for("s3", ROLE)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"", ServerSideEncryption="aws:kms", SSEKMSKeyId=KEY)
    with pytest.raises(ClientError):
        s3.put_object(
            Bucket=BUCKET, Key="k", Body=b"", ServerSideEncryption="aws:kms", SSEKMSKeyId="other"
        )
    assert "explicit deny" in auth.denied[-1]


def test_publishing_to_an_encrypted_topic_needs_the_key(aws):
    sns = boto3.client("sns", region_name=REGION)
    sns.create_topic(Name="outcomes")
    auth = authorizer(allow("sns:Publish", TOPIC))
    with pytest.raises(ClientError) as refused:
        auth.client_for("sns", ROLE).publish(TopicArn=TOPIC, Message="run ended")
    assert refused.value.response["Error"]["Code"] == "AuthorizationError"
    auth = authorizer(
        allow("sns:Publish", TOPIC), allow(["kms:GenerateDataKey", "kms:Decrypt"], KEY)
    )
    auth.client_for("sns", ROLE).publish(TopicArn=TOPIC, Message="run ended")
    assert ("kms:GenerateDataKey", KEY) in actions(auth)


def test_sagemaker_requests_use_lowercase_arns_tags_and_pass_role():
    stack = policies()
    request = {
        "TrainingJobName": "Radimpress-FT-0123",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/sm",
        "Tags": [{"Key": "run", "Value": "r"}],
    }
    made = sagemaker_requests(stack, ROLE, "CreateTrainingJob", request)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/radimpress-ft-0123"
    assert [(r.action, r.resource) for r in made] == [
        ("sagemaker:CreateTrainingJob", arn),
        ("sagemaker:AddTags", arn),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/sm"),
    ]
    assert made[2].context["iam:PassedToService"] == "sagemaker.amazonaws.com"
    untagged = sagemaker_requests(stack, ROLE, "CreateModel", {"ModelName": "m", "Tags": []})
    assert [r.action for r in untagged] == ["sagemaker:CreateModel"]


def test_a_sagemaker_refusal_is_access_denied_exception():
    auth = authorizer()
    with pytest.raises(ClientError) as refused:
        auth.require_sagemaker(ROLE, "DescribeTrainingJob", {"TrainingJobName": "x"})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_calls_outside_any_principal_are_not_checked_and_unknown_calls_refuse_to_guess(aws):
    auth = authorizer()
    with acting_as(None):
        auth.require_sagemaker(None, "DescribeTrainingJob", {"TrainingJobName": "x"})
    with pytest.raises(NotImplementedError, match="no mapping for s3 GetBucketTagging"):
        auth.client_for("s3", ROLE).get_bucket_tagging(Bucket=BUCKET)
