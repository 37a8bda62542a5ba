"""The embedded stack's IAM evaluator against hand-written answers from the AWS documentation.

Each group names the AWS documentation page its policies and expected answers come from. The
same kinds of case are also run against an independent simulator in
tests/slow/test_iam_policy_oracle.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from radimpress_workstation.embedded.iam_policy import (
    AuthzRequest,
    Decision,
    Evaluation,
    evaluate,
    statement_matches,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/radimpress-sagemaker"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BUCKET = "arn:aws:s3:::radimpress-data"
OBJECT = f"{BUCKET}/incoming/report.jsonl"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

ALLOWED, IMPLICIT, EXPLICIT = (
    Decision.ALLOWED,
    Decision.IMPLICITLY_DENIED,
    Decision.EXPLICITLY_DENIED,
)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def put(context: dict[str, Any] | None = None, principal: str = ROLE) -> AuthzRequest:
    return AuthzRequest(principal, "s3:PutObject", OBJECT, context or {})


def holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether a Condition block is true for a request with this context."""
    statement = allow(Condition=condition)
    return statement_matches(statement, put(context), resource_policy=False)


def decide(request: AuthzRequest, *identity: dict[str, Any], resource: Any = None, **kw: Any):
    named = [(f"role-policy-{i}", doc) for i, doc in enumerate(identity)]
    return evaluate(request, named, ("bucket-policy", resource) if resource else None, **kw)


# --- The bucket policy that motivated this module ------------------------------------------------
# "IAM JSON policy elements: Condition operators" (...IfExists, Null) and the S3 user guide's
# "Requiring server-side encryption" example: with IfExists an absent header counts as a match, so
# a Deny with StringNotEqualsIfExists refuses the uploads that rely on default bucket encryption.

OLD_SSE_DENY = {
    "Sid": "DenyObjectsNotEncryptedWithKms",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:PutObject",
    "Resource": f"{BUCKET}/*",
    "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
}
NEW_SSE_DENY = {
    **OLD_SSE_DENY,
    "Condition": {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    },
}
WRITE = policy(allow("s3:PutObject", f"{BUCKET}/*"))


@pytest.mark.parametrize(
    ("statement", "header", "expected"),
    [
        (OLD_SSE_DENY, None, EXPLICIT),  # the bug: default encryption uploads are refused
        (OLD_SSE_DENY, "aws:kms", ALLOWED),
        (OLD_SSE_DENY, "AES256", EXPLICIT),
        (NEW_SSE_DENY, None, ALLOWED),  # the fix: no header means default encryption applies
        (NEW_SSE_DENY, "aws:kms", ALLOWED),
        (NEW_SSE_DENY, "AES256", EXPLICIT),
    ],
)
def test_sse_bucket_policy_old_and_new(statement, header, expected):
    context = {"s3:x-amz-server-side-encryption": header} if header else {}
    result = decide(put(context), WRITE, resource=policy(statement))
    assert result.decision is expected
    if expected is EXPLICIT:
        assert result.reason == (
            "explicitly denied by bucket-policy statement DenyObjectsNotEncryptedWithKms"
        )


# --- Condition operators: "IAM JSON policy elements: Condition operators" -----------------------


def test_negated_operator_on_absent_key_is_true_and_positive_is_false():
    for negated in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"):
        assert holds({negated: {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}}, {})
    assert holds({"NumericNotEquals": {"s3:max-keys": "10"}}, {})
    assert holds({"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {})
    assert holds({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {})
    assert holds({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "green"}}, {})
    for positive in ("StringEquals", "StringLike", "StringEqualsIgnoreCase"):
        assert not holds({positive: {"aws:PrincipalTag/team": "green"}}, {})
    assert not holds({"Bool": {"aws:SecureTransport": "false"}}, {})


def test_if_exists_on_absent_key_is_true_and_checks_a_present_one():
    # The documentation's example: StringLikeIfExists ec2:InstanceType ["t1.*", "t2.*", "m3.*"].
    condition = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    assert holds(condition, {})
    assert holds(condition, {"ec2:InstanceType": "t2.micro"})
    assert not holds(condition, {"ec2:InstanceType": "m5.large"})
    assert holds({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {})
    assert holds({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {})


def test_null_true_means_absent_false_means_present():
    assert holds({"Null": {"aws:TokenIssueTime": "true"}}, {})
    assert not holds({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "x"})
    assert holds({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"})
    assert not holds({"Null": {"aws:TokenIssueTime": False}}, {})  # CloudFormation kept a bool


def test_string_operators_case_and_wildcards():
    tag = {"aws:PrincipalTag/job-category": "iamuser-admin"}
    assert holds({"StringEquals": tag}, {"aws:PrincipalTag/job-category": "iamuser-admin"})
    assert not holds({"StringEquals": tag}, {"aws:PrincipalTag/job-category": "IAMUser-Admin"})
    assert holds(
        {"StringEqualsIgnoreCase": tag}, {"aws:PrincipalTag/job-category": "IAMUser-Admin"}
    )
    like = {"StringLike": {"s3:prefix": ["", "home/", "home/user?/*"]}}
    assert holds(like, {"s3:prefix": "home/user1/docs"})
    assert not holds(like, {"s3:prefix": "home/user12/docs"})
    assert holds({"StringLike": {"s3:prefix": "*"}}, {"s3:prefix": ""})


def test_context_key_names_are_case_insensitive():
    assert holds({"Bool": {"aws:SecureTransport": "true"}}, {"AWS:securetransport": True})


def test_numeric_and_date_operators():
    assert holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"})
    assert holds({"NumericLessThan": {"s3:max-keys": 10}}, {"s3:max-keys": 9})
    assert not holds({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"})
    assert not holds({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"})
    after = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    assert holds(after, {"aws:TokenIssueTime": "2020-06-30T12:00:00Z"})
    assert not holds(after, {"aws:TokenIssueTime": "2019-12-31T23:59:59+00:00"})
    assert holds(after, {"aws:TokenIssueTime": 1600000000})  # epoch seconds: Sep 2020
    assert holds({"DateLessThan": {"aws:CurrentTime": "2020-01-01"}}, {"aws:CurrentTime": "1"})


def test_bool_compares_true_and_false_case_insensitively():
    # The "Bool" example: deny when aws:SecureTransport is false.
    condition = {"Bool": {"aws:SecureTransport": "false"}}
    assert holds(condition, {"aws:SecureTransport": False})
    assert holds(condition, {"aws:SecureTransport": "False"})
    assert not holds(condition, {"aws:SecureTransport": True})
    assert holds({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"})


def test_arn_operators_compare_each_of_the_six_parts():
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:radimpress-outcomes"
    assert holds({"ArnEquals": {"aws:SourceArn": topic}}, {"aws:SourceArn": topic})
    assert holds(
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:radimpress-*"}}, {"aws:SourceArn": topic}
    )
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:*:*"}}, {"aws:SourceArn": topic})
    # A wildcard stays inside its part: "*" in the region cannot swallow the account.
    assert not holds(
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:radimpress-*"}}, {"aws:SourceArn": topic}
    )
    assert holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:sqs:*:*:*"}}, {"aws:SourceArn": topic})
    alarm = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:radimpress-failed-runs"
    assert holds(
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"}},
        {"aws:SourceArn": alarm},
    )
    assert not holds(
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket"}}, {"aws:SourceArn": "bucket"}
    )


def test_ip_address_cidr_ipv4_and_ipv6():
    condition = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
    assert holds(condition, {"aws:SourceIp": "203.0.113.7"})
    assert holds(condition, {"aws:SourceIp": "2001:db8:1234:5678::1"})
    assert not holds(condition, {"aws:SourceIp": "198.51.100.7"})
    assert not holds(condition, {"aws:SourceIp": "not-an-ip"})
    assert holds({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "10.0.0.1"})


# --- "Condition with multiple context keys or values" -------------------------------------------


def test_values_of_one_key_or_and_keys_and_operators_and():
    department = {"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"]}}
    assert holds(department, {"aws:PrincipalTag/department": "hr"})
    assert not holds(department, {"aws:PrincipalTag/department": "it"})
    two_keys = {"StringEquals": {"aws:PrincipalTag/team": "green", "aws:PrincipalTag/cost": "42"}}
    assert holds(two_keys, {"aws:PrincipalTag/team": "green", "aws:PrincipalTag/cost": "42"})
    assert not holds(two_keys, {"aws:PrincipalTag/team": "green"})
    two_operators = {
        "StringEquals": {"aws:PrincipalTag/team": "green"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    assert holds(two_operators, {"aws:PrincipalTag/team": "green", "aws:SecureTransport": True})
    assert not holds(two_operators, {"aws:PrincipalTag/team": "green"})


def test_string_not_equals_with_two_values_is_nor():
    condition = {"StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}}
    assert holds(condition, {"aws:PrincipalTag/department": "legal"})
    assert not holds(condition, {"aws:PrincipalTag/department": "hr"})
    assert not holds(condition, {"aws:PrincipalTag/department": "finance"})


def test_set_operators_on_absent_and_present_multivalued_keys():
    all_values = {"ForAllValues:StringLike": {"aws:TagKeys": ["key1*", "team"]}}
    any_value = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "cost"]}}
    assert holds(all_values, {})  # nothing to check: true, as the page warns
    assert not holds(any_value, {})
    assert holds(all_values, {"aws:TagKeys": ["key1a", "team"]})
    assert not holds(all_values, {"aws:TagKeys": ["key1a", "owner"]})
    assert holds(any_value, {"aws:TagKeys": ["owner", "cost"]})
    assert not holds(any_value, {"aws:TagKeys": ["owner"]})
    assert holds(
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}}, {"aws:TagKeys": ["a", "b"]}
    )
    assert not holds({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["a"]})
    assert holds({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "a"}}, {})


# --- Refusals: a policy the evaluator cannot read faithfully must fail loudly -------------------


@pytest.mark.parametrize(
    "operator",
    [
        "StringEqualz",
        "ForAnyValues:StringEquals",
        "NullIfExists",
        "ForAllValues:Null",
        "IfExists",
        "stringequals",
    ],
)
def test_unknown_condition_operator_raises_naming_it(operator):
    with pytest.raises(ValueError, match=operator):
        holds({operator: {"aws:PrincipalTag/team": "green"}}, {})


def test_unknown_operator_raises_even_when_the_action_does_not_match():
    statement = allow("sns:Publish", Condition={"StringEqualz": {"k": "v"}})
    with pytest.raises(ValueError, match="StringEqualz"):
        statement_matches(statement, put(), resource_policy=False)


def test_policy_variables_raise():
    # The "Condition operators" page's own StringLike example uses home/${aws:username}/.
    with pytest.raises(ValueError, match="policy variable"):
        holds({"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}, {})
    with pytest.raises(ValueError, match="policy variable"):
        statement_matches(
            allow(resource=f"{BUCKET}/home/${{aws:username}}/*"), put(), resource_policy=False
        )


def test_malformed_statements_raise():
    with pytest.raises(ValueError, match="Effect"):
        statement_matches(
            {"Effect": "allow", "Action": "*", "Resource": "*"}, put(), resource_policy=False
        )
    with pytest.raises(ValueError, match="Resource"):
        statement_matches({"Effect": "Allow", "Action": "*"}, put(), resource_policy=False)
    with pytest.raises(ValueError, match="Principal"):
        statement_matches(allow(), put(), resource_policy=True)
    with pytest.raises(ValueError, match="NotPrincipal"):
        statement_matches(allow(NotPrincipal={"AWS": ROLE}), put(), resource_policy=True)
    with pytest.raises(ValueError, match="Null"):
        holds({"Null": {"aws:TokenIssueTime": "yes"}}, {})


# --- Action, Resource and their Not forms: "IAM JSON policy elements: Action / NotAction /
# Resource / NotResource" ------------------------------------------------------------------------


def test_action_wildcards_and_case_insensitive_action():
    get = AuthzRequest(ROLE, "s3:GetObject", OBJECT)
    assert statement_matches(allow("s3:Get*"), get, resource_policy=False)
    assert statement_matches(allow("S3:getobject"), get, resource_policy=False)
    assert statement_matches(allow(["sns:Publish", "s3:?etObject"]), get, resource_policy=False)
    assert not statement_matches(allow("s3:Put*"), get, resource_policy=False)
    assert statement_matches(allow("*"), get, resource_policy=False)


def test_not_action_and_not_resource():
    # NotAction page: allow everything except IAM. NotResource page: deny all of S3 but Payroll.
    except_iam = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert statement_matches(except_iam, put(), resource_policy=False)
    create_user = AuthzRequest(ROLE, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert not statement_matches(except_iam, create_user, resource_policy=False)
    payroll = ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]
    outside = {"Effect": "Deny", "Action": "s3:*", "NotResource": payroll}
    assert statement_matches(outside, put(), resource_policy=False)
    inside = AuthzRequest(ROLE, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/2024.csv")
    assert not statement_matches(outside, inside, resource_policy=False)


def test_resource_match_is_case_sensitive_and_sagemaker_arns_are_lowercase():
    # SageMaker lowercases job names in its ARNs: a pattern from the mixed-case stack name
    # must not be taken to match them.
    job = AuthzRequest(
        ROLE,
        "sagemaker:DescribeTrainingJob",
        "arn:aws:sagemaker:us-east-1:1:training-job/mystack-ft-1",
    )
    mixed = allow("sagemaker:*", "arn:aws:sagemaker:us-east-1:1:training-job/MyStack-*")
    lower = allow("sagemaker:*", "arn:aws:sagemaker:us-east-1:1:training-job/mystack-*")
    assert not statement_matches(mixed, job, resource_policy=False)
    assert statement_matches(lower, job, resource_policy=False)
    assert decide(job, policy(mixed)).decision is IMPLICIT


def test_resource_wildcards_and_single_statement_document():
    single = {"Version": "2012-10-17", "Statement": allow("s3:PutObject", f"{BUCKET}/incoming/*")}
    assert decide(put(), single).allowed
    assert not decide(AuthzRequest(ROLE, "s3:PutObject", f"{BUCKET}/runs/x"), single).allowed
    assert statement_matches(
        allow(resource=f"{BUCKET}/incoming/report.json?"), put(), resource_policy=False
    )


# --- "Policy evaluation logic" / "Determining whether a request is allowed or denied within an
# account" ---------------------------------------------------------------------------------------


def test_no_policy_is_an_implicit_deny():
    result = decide(put())
    assert result == Evaluation(IMPLICIT, "no statement allows")
    assert not result.allowed


def test_identity_allow_alone_grants_and_reason_names_the_statement():
    result = decide(put(), policy({**allow("s3:PutObject", f"{BUCKET}/*"), "Sid": "Write"}))
    assert result == Evaluation(ALLOWED, "allowed by role-policy-0 statement Write")
    assert result.allowed


def test_reason_uses_the_statement_index_without_a_sid_and_no_context():
    result = decide(
        put({"s3:x-amz-server-side-encryption": "secret-value"}), policy(deny("sns:*"), deny())
    )
    assert result == Evaluation(EXPLICIT, "explicitly denied by role-policy-0 statement #1")


def test_explicit_deny_overrides_allow_across_identity_and_resource_policies():
    tls_deny = deny(
        "s3:*",
        [BUCKET, f"{BUCKET}/*"],
        Principal="*",
        Condition={"Bool": {"aws:SecureTransport": "false"}},
    )
    plain = put({"aws:SecureTransport": False})
    assert decide(plain, WRITE, resource=policy(tls_deny)).decision is EXPLICIT
    assert decide(put({"aws:SecureTransport": True}), WRITE, resource=policy(tls_deny)).allowed
    # A Deny in one identity policy beats an Allow in another and in the resource policy.
    granted = policy(allow("s3:*", f"{BUCKET}/*", Principal={"AWS": ROLE}))
    assert decide(put(), WRITE, policy(deny("s3:PutObject")), resource=granted).decision is EXPLICIT


def test_resource_policy_allow_alone_grants_in_the_default_kind():
    granted = policy(allow("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": ROLE}))
    assert decide(put(), resource=granted).decision is ALLOWED
    assert decide(put(principal=OTHER_ROLE), resource=granted).decision is IMPLICIT
    assert decide(
        put(), resource=policy(allow("s3:PutObject", f"{BUCKET}/*", Principal="*"))
    ).allowed
    assert decide(
        put(), resource=policy(allow("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": "*"}))
    ).allowed


def test_account_principal_denies_the_accounts_roles_but_does_not_grant_them():
    to_account = policy(allow("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": ROOT}))
    assert decide(put(), resource=to_account).decision is IMPLICIT
    assert decide(put(), WRITE, resource=to_account).decision is ALLOWED
    assert decide(put(principal=ROOT), resource=to_account).decision is ALLOWED
    for account in (ROOT, ACCOUNT):
        refused = policy(deny("s3:PutObject", f"{BUCKET}/*", Principal={"AWS": [account]}))
        assert decide(put(), WRITE, resource=refused).decision is EXPLICIT
    other = policy(deny("s3:*", "*", Principal={"AWS": "arn:aws:iam::210987654321:root"}))
    assert decide(put(), WRITE, resource=other).decision is ALLOWED


def test_not_principal_exempts_only_when_role_and_account_are_listed():
    # "AWS JSON policy elements: NotPrincipal": list the role and its account, or the account
    # alone would deny the role and the role alone would still deny through the account.
    def refused(*names: str) -> Decision:
        statement = deny("s3:*", "*", NotPrincipal={"AWS": list(names)})
        return decide(put(), WRITE, resource=policy(statement)).decision

    assert refused(ROLE, ROOT) is ALLOWED
    assert refused(ROLE) is EXPLICIT
    assert refused(ROOT) is EXPLICIT
    assert refused(OTHER_ROLE, ROOT) is EXPLICIT


def test_service_principal_statements():
    # SNS "Example cases for Amazon SNS access control": EventBridge publishing to a topic.
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:radimpress-outcomes"
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/radimpress-upload"
    topic_policy = policy(
        allow(
            "sns:Publish",
            topic,
            Principal={"Service": ["events.amazonaws.com"]},
            Condition={"ArnEquals": {"aws:SourceArn": rule}},
        )
    )
    publish = AuthzRequest("events.amazonaws.com", "sns:Publish", topic, {"aws:SourceArn": rule})
    assert decide(publish, resource=topic_policy).allowed
    assert not decide(
        AuthzRequest("events.amazonaws.com", "sns:Publish", topic), resource=topic_policy
    ).allowed
    assert not decide(
        AuthzRequest("sqs.amazonaws.com", "sns:Publish", topic, {"aws:SourceArn": rule}),
        resource=topic_policy,
    ).allowed
    # A role is not matched by a Service principal, nor a service by the account root.
    assert not decide(
        AuthzRequest(ROLE, "sns:Publish", topic, {"aws:SourceArn": rule}), resource=topic_policy
    ).allowed


def test_pass_role_to_a_service():
    # "Granting a user permissions to pass a role to an AWS service" (iam:PassedToService).
    passing = policy(
        allow(
            "iam:PassRole",
            ROLE,
            Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    to_sagemaker = AuthzRequest(
        OTHER_ROLE, "iam:PassRole", ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}
    )
    to_lambda = AuthzRequest(
        OTHER_ROLE, "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}
    )
    assert decide(to_sagemaker, passing).allowed
    assert decide(to_lambda, passing).decision is IMPLICIT


# --- KMS: "Key policies in AWS KMS", "Allows access to the AWS account and enables IAM policies" --

USE_KEY = policy(allow(["kms:Decrypt", "kms:GenerateDataKey*"], KEY))
ENABLE_IAM = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


def kms(request: AuthzRequest, *identity: dict[str, Any], key_policy: Any = None) -> Evaluation:
    return decide(request, *identity, resource=key_policy, resource_kind="kms")


def test_kms_identity_allow_without_delegation_is_an_implicit_deny():
    decrypt = AuthzRequest(ROLE, "kms:Decrypt", KEY)
    only_admin = policy(allow("kms:*", "*", Principal={"AWS": OTHER_ROLE}))
    result = kms(decrypt, USE_KEY, key_policy=only_admin)
    assert result.decision is IMPLICIT
    assert "key policy" in result.reason
    assert kms(decrypt, USE_KEY).decision is IMPLICIT  # no key policy at all


def test_kms_delegation_to_the_account_enables_iam_policies():
    decrypt = AuthzRequest(ROLE, "kms:Decrypt", KEY)
    assert kms(decrypt, USE_KEY, key_policy=policy(ENABLE_IAM)).decision is ALLOWED
    bare_account = {**ENABLE_IAM, "Principal": {"AWS": ACCOUNT}}
    assert kms(decrypt, USE_KEY, key_policy=policy(bare_account)).decision is ALLOWED
    # Delegation alone grants nothing: the role's own policies still have to allow.
    assert kms(decrypt, key_policy=policy(ENABLE_IAM)).decision is IMPLICIT
    # Delegation covers only the actions it lists.
    admin_only = {**ENABLE_IAM, "Action": ["kms:Describe*", "kms:Put*"]}
    assert kms(decrypt, USE_KEY, key_policy=policy(admin_only)).decision is IMPLICIT
    # Our template's key policy: the root statement lists kms:Decrypt among its actions.
    assert kms(
        decrypt, USE_KEY, key_policy=policy({**ENABLE_IAM, "Action": ["kms:Decrypt"]})
    ).allowed


def test_kms_key_policy_naming_the_role_allows_without_identity_policy():
    decrypt = AuthzRequest(ROLE, "kms:Decrypt", KEY)
    direct = policy(allow("kms:Decrypt", "*", Principal={"AWS": ROLE}))
    assert kms(decrypt, key_policy=direct) == Evaluation(
        ALLOWED, "allowed by key policy bucket-policy statement #0"
    )


def test_kms_explicit_deny_anywhere_wins():
    decrypt = AuthzRequest(ROLE, "kms:Decrypt", KEY)
    key_deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    assert kms(decrypt, USE_KEY, key_policy=policy(ENABLE_IAM, key_deny)).decision is EXPLICIT
    assert (
        kms(decrypt, USE_KEY, policy(deny("kms:Decrypt")), key_policy=policy(ENABLE_IAM)).decision
        is EXPLICIT
    )


def test_kms_service_principal_statement_from_our_template():
    # CloudWatch alarms publishing to the encrypted topic, as template.yaml's key policy grants.
    statement = allow(
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        Principal={"Service": "cloudwatch.amazonaws.com"},
        Condition={
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
        },
    )
    alarm = {
        "aws:SourceAccount": ACCOUNT,
        "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:failed",
    }
    request = AuthzRequest("cloudwatch.amazonaws.com", "kms:GenerateDataKey", KEY, alarm)
    assert kms(request, key_policy=policy(ENABLE_IAM, statement)).allowed
    stranger = {**alarm, "aws:SourceAccount": "210987654321"}
    assert not kms(
        AuthzRequest("cloudwatch.amazonaws.com", "kms:GenerateDataKey", KEY, stranger),
        key_policy=policy(ENABLE_IAM, statement),
    ).allowed


def test_decision_values_are_the_simulators_words():
    assert [d.value for d in Decision] == ["Allowed", "ImplicitlyDenied", "ExplicitlyDenied"]
