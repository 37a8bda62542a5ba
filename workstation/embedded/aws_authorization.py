"""Authorization in the embedded stack: each call a Lambda or a job makes is checked as AWS would.

moto evaluates no IAM role policy, bucket policy or KMS key policy, so a policy that refuses our
own writes passes every moto test. Here the stack's own policies (the roles, bucket policies, key
policies and encrypted topics that template.yaml declares, collected as the stack is built) decide
each request with IAM's evaluation logic (``iam_policy``):

- S3 and SNS calls go through boto3 clients bound to a principal (``client_for``): a botocore
  ``before-parameter-build`` hook turns the call into the authorization requests AWS makes for it
  (the S3 action and object ARN with its condition keys, and the KMS action S3 or SNS performs on
  the caller's behalf), and a refused call gets the 403 ``AccessDenied`` answer AWS gives, through
  botocore's own error path, so handlers, Retry and Catch see exactly the cloud's ClientError.
- SageMaker calls reach the local job backend, which asks ``require_sagemaker`` (the action on the
  lowercase job/model ARN, ``sagemaker:AddTags`` for tags, ``iam:PassRole`` for the role).
- Jobs read and write S3 as the SageMaker execution role named in their request.
- Bedrock calls reach the Bedrock double, which asks ``require_bedrock`` (``bedrock_requests``:
  the action on the job, foundation-model or inference-profile ARN, ``iam:PassRole`` with
  ``iam:PassedToService`` bedrock.amazonaws.com for a job's service role); its batch jobs read
  and write S3 as that role.

Which principal calls: the Lambda seam runs each handler with its function's role
(``acting_as``); calls outside any invocation (the harness, tests) are not checked. Every allowed
request is recorded (``granted``) so tests can hold the template to least privilege.

Sources: IAM User Guide "Policy evaluation logic"; S3 User Guide "Actions, resources, and condition
keys for Amazon S3", "Required permissions for Amazon S3 API operations" and "Using server-side
encryption with AWS KMS keys" (multipart uploads need kms:GenerateDataKey and kms:Decrypt);
SNS Developer Guide "Encryption at rest" (publishers to an encrypted topic need
kms:GenerateDataKey* and kms:Decrypt); SageMaker "Actions, resources, and condition keys" (ARNs are
lowercase; tagging on create needs sagemaker:AddTags).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from radimpress_workstation.embedded.iam_policy import AuthzRequest, Evaluation, evaluate

# A refused call's error code and HTTP status, per service (their API references).
_DENIED = {"s3": ("AccessDenied", 403), "sns": ("AuthorizationError", 403)}
_SAGEMAKER_DENIED = "AccessDeniedException"


@dataclass
class StackPolicies:
    """The stack's policies as template.yaml declares them (intrinsics resolved)."""

    account: str
    region: str
    identity: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket -> bucket policy
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN -> key policy
    key_names: dict[str, str] = field(default_factory=dict)  # key id / alias -> key ARN
    bucket_keys: dict[str, str] = field(default_factory=dict)  # bucket -> default SSE-KMS key
    topic_keys: dict[str, str] = field(default_factory=dict)  # topic ARN -> its KMS key

    def key_arn(self, name: str) -> str:
        """A key named by ARN, id, alias name or alias ARN, as its key ARN."""
        if name in self.keys:
            return name
        alias = name.split(":", 5)[-1] if name.startswith("arn:") and ":alias/" in name else name
        return self.key_names.get(alias, name)


class _Denied(Exception):
    def __init__(self, evaluation: Evaluation, request: AuthzRequest) -> None:
        self.evaluation, self.request = evaluation, request
        how = {
            "ExplicitlyDenied": "with an explicit deny",
            "ImplicitlyDenied": "because no policy allows it",
        }.get(evaluation.decision.value, "")
        super().__init__(
            f"User: {request.principal} is not authorized to perform: {request.action} on "
            f'resource: "{request.resource}" {how} ({evaluation.reason})'
        )


class Authorizer:
    """Decides requests against the stack's policies and remembers what it allowed."""

    def __init__(
        self,
        policies: StackPolicies,
        new_client: Callable[[str], Any],
    ) -> None:
        self.policies = policies
        self._new_client = new_client
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.granted: set[tuple[str, str, str]] = set()  # (principal, action, resource)
        self.denied: list[str] = []  # messages of refused requests, in order

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, request: AuthzRequest) -> Evaluation:
        identity = self.policies.identity.get(request.principal, [])
        service = request.action.split(":", 1)[0].lower()
        if service == "kms":
            key_policy = self.policies.keys.get(request.resource)
            resource = ("key policy", key_policy) if key_policy is not None else None
            return evaluate(request, identity, resource, resource_kind="kms")
        bucket_policy = None
        if service == "s3" and request.resource.startswith("arn:aws:s3:::"):
            bucket = request.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            if bucket in self.policies.buckets:
                bucket_policy = (f"bucket policy of {bucket}", self.policies.buckets[bucket])
        return evaluate(request, identity, bucket_policy)

    def require(self, requests: list[AuthzRequest]) -> None:
        """Raise ``_Denied`` for the first request the policies refuse; record the others."""
        for request in requests:
            evaluation = self.decide(request)
            if not evaluation.allowed:
                denied = _Denied(evaluation, request)
                with self._lock:
                    self.denied.append(str(denied))
                raise denied
            with self._lock:
                self.granted.add((request.principal, request.action, request.resource))

    # -- clients bound to a principal ----------------------------------------------------------
    def client_for(self, service: str, principal: str) -> Any:
        """A boto3 client whose every call is authorized as ``principal`` (cached)."""
        with self._lock:
            client = self._clients.get((service, principal))
            if client is None:
                client = self._new_client(service)
                _install_hooks(client, service, principal, self)
                self._clients[(service, principal)] = client
            return client

    def require_bedrock(
        self, principal: str | None, operation: str, resource: str, request: dict
    ) -> None:
        """Bedrock's own check of a caller (the Bedrock double is the service); raises
        ``_Denied`` for the double to answer with Bedrock's AccessDeniedException."""
        if principal is None:
            return
        self.require(bedrock_requests(self.policies, principal, operation, resource, request))

    def require_sagemaker(self, principal: str | None, operation: str, request: dict) -> None:
        """SageMaker's own check of a caller (the local job backend is the service)."""
        if principal is None:
            return
        try:
            self.require(sagemaker_requests(self.policies, principal, operation, request))
        except _Denied as denied:
            raise ClientError(
                {"Error": {"Code": _SAGEMAKER_DENIED, "Message": str(denied)}}, operation
            ) from None


# -- which principal is calling --

_ACTING = threading.local()
_ACTIVE: list[Authorizer] = []  # the running stack's authorizer (at most one: moto is global)


@contextlib.contextmanager
def acting_as(principal: str | None) -> Iterator[None]:
    """Calls made on this thread inside the block are made by ``principal``."""
    previous = getattr(_ACTING, "principal", None)
    _ACTING.principal = principal
    try:
        yield
    finally:
        _ACTING.principal = previous


def current_principal() -> str | None:
    return getattr(_ACTING, "principal", None)


def activate(authorizer: Authorizer) -> None:
    _ACTIVE[:] = [authorizer]


def deactivate() -> None:
    _ACTIVE.clear()


def active() -> Authorizer | None:
    return _ACTIVE[0] if _ACTIVE else None


def require_sagemaker_call(operation: str, request: dict[str, Any]) -> None:
    """What the local job backend calls first: no-op unless a stack enforces authorization."""
    authorizer = active()
    if authorizer is not None:
        authorizer.require_sagemaker(current_principal(), operation, request)


def job_s3(role_arn: str | None, fallback: Callable[[], Any]) -> Any:
    """The S3 client a job uses: its execution role's, when a stack enforces authorization."""
    authorizer = active()
    if authorizer is None or not role_arn:
        return fallback()
    return authorizer.client_for("s3", role_arn)


def unchecked(factory: Callable[[], Any]) -> Callable[[], Any]:
    """``factory`` called outside any principal: for the service's own work (a container
    double reading AWS's public JumpStart artifacts), which no role of ours authorizes."""

    def call() -> Any:
        with acting_as(None):
            return factory()

    return call


def principal_client(service: str, fallback: Callable[[], Any]) -> Any:
    """The client a handler gets from ``radimpress.clients``: its function role's."""
    authorizer, principal = active(), current_principal()
    if authorizer is None or principal is None:
        return fallback()
    return authorizer.client_for(service, principal)


# -- botocore hooks --

_DENIAL = "radimpress_denied"
_BUCKET = "radimpress_bucket"
_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


def _install_hooks(client: Any, service: str, principal: str, authorizer: Authorizer) -> None:
    code, status = _DENIED[service]
    build = S3_REQUESTS if service == "s3" else SNS_REQUESTS

    def before_parameter_build(params: dict, model: Any, context: dict, **_: Any) -> None:
        requests = build(authorizer.policies, principal, model.name, params)
        context[_BUCKET] = params.get("Bucket")
        try:
            authorizer.require(requests)
        except _Denied as denied:
            context[_DENIAL] = str(denied)

    def before_call(model: Any, context: dict, **_: Any) -> Any:
        message = context.get(_DENIAL)
        if message is None:
            return None
        response = AWSResponse("https://local.invalid/", status, HTTPHeaders(), None)
        return response, {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def after_call(parsed: dict, model: Any, context: dict, **_: Any) -> None:
        # S3 GetObject/HeadObject API reference: a missing key is 404 only to a caller allowed
        # s3:ListBucket on the bucket; to anyone else it is 403 Access Denied.
        code = (parsed.get("Error") or {}).get("Code")
        bucket = context.get(_BUCKET)
        if code not in _MISSING or model.name not in ("GetObject", "HeadObject") or not bucket:
            return
        listing = AuthzRequest(
            principal,
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            _common(principal, authorizer.policies),
        )
        if not authorizer.decide(listing).allowed:
            denied = "403" if model.name == "HeadObject" else "AccessDenied"
            parsed["Error"] = {"Code": denied, "Message": "Access Denied"}
            parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403

    client.meta.events.register("before-parameter-build", before_parameter_build)
    client.meta.events.register("before-call", before_call)
    if service == "s3":
        client.meta.events.register("after-call", after_call)


# -- the requests each call makes --

Builder = Callable[[StackPolicies, str, str, dict[str, Any]], list[AuthzRequest]]


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _common(principal: str, policies: StackPolicies) -> dict[str, Any]:
    # The real clients talk TLS (the local endpoint's scheme says nothing about the cloud's).
    return {
        "aws:SecureTransport": True,
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": policies.account,
    }


# S3's AWS managed key: its key policy lets every principal of the account use it through S3
# ("AWS managed keys", AWS KMS Developer Guide), so no key policy of ours decides it.
AWS_MANAGED_S3_KEY = "alias/aws/s3"


def _kms(policies: StackPolicies, principal: str, key: str, *actions: str) -> list[AuthzRequest]:
    if key == AWS_MANAGED_S3_KEY:
        return []
    arn = policies.key_arn(key)
    context = {
        **_common(principal, policies),
        "kms:ViaService": f"s3.{policies.region}.amazonaws.com",
        "kms:CallerAccount": policies.account,
    }
    return [AuthzRequest(principal, action, arn, context) for action in actions]


def _write_key(policies: StackPolicies, bucket: str, params: dict[str, Any]) -> str | None:
    """The KMS key S3 encrypts a new object with: the request's, else the bucket default."""
    sse = params.get("ServerSideEncryption")
    if sse == "aws:kms":
        return params.get("SSEKMSKeyId") or AWS_MANAGED_S3_KEY
    if sse:
        return None  # SSE-S3 or another scheme: no KMS call (the bucket policy decides)
    return policies.bucket_keys.get(bucket)


def _put_context(principal: str, policies: StackPolicies, params: dict) -> dict[str, Any]:
    context = _common(principal, policies)
    if params.get("ServerSideEncryption"):
        context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if params.get("SSEKMSKeyId"):
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
    return context


class _S3Call:
    """One S3 call as the requests S3 authorizes for it (its action, object or bucket ARN and
    condition keys, plus the KMS calls it makes on the caller's behalf)."""

    def __init__(self, policies: StackPolicies, principal: str, params: dict[str, Any]) -> None:
        self.policies, self.principal, self.params = policies, principal, params
        self.bucket = params.get("Bucket", "")
        self.object = _object_arn(self.bucket, params.get("Key", ""))
        self.common = _common(principal, policies)
        self.versioned = "VersionId" in params

    def request(self, action: str, resource: str = "", context: dict | None = None) -> AuthzRequest:
        return AuthzRequest(self.principal, action, resource or self.object, context or self.common)

    def decrypt(self, bucket: str) -> list[AuthzRequest]:
        key = self.policies.bucket_keys.get(bucket)
        return _kms(self.policies, self.principal, key, "kms:Decrypt") if key else []

    def encrypt(self, *actions: str) -> list[AuthzRequest]:
        key = _write_key(self.policies, self.bucket, self.params)
        return _kms(self.policies, self.principal, key, *actions) if key else []

    def put(self) -> AuthzRequest:
        context = _put_context(self.principal, self.policies, self.params)
        return self.request("s3:PutObject", self.object, context)

    def read_action(self, versioned: bool) -> str:
        return "s3:GetObjectVersion" if versioned else "s3:GetObject"

    # -- one method per kind of operation (``_S3_OPERATIONS``) --
    def get_object(self) -> list[AuthzRequest]:
        return [self.request(self.read_action(self.versioned)), *self.decrypt(self.bucket)]

    def head_object(self) -> list[AuthzRequest]:  # metadata only: no KMS call
        return [self.request(self.read_action(self.versioned))]

    def put_object(self) -> list[AuthzRequest]:
        return [self.put(), *self.encrypt("kms:GenerateDataKey")]

    def create_multipart_upload(self) -> list[AuthzRequest]:
        return [self.put(), *self.encrypt("kms:GenerateDataKey", "kms:Decrypt")]

    def upload_part(self) -> list[AuthzRequest]:  # no encryption headers: the create had them
        return [self.request("s3:PutObject")]

    def abort_multipart_upload(self) -> list[AuthzRequest]:
        return [self.request("s3:AbortMultipartUpload")]

    def copy_object(self) -> list[AuthzRequest]:
        source = self.params["CopySource"]
        if isinstance(source, str):
            source_bucket, _, source_key = source.lstrip("/").partition("/")
            versioned = "versionId=" in source_key
        else:
            source_bucket, source_key = source["Bucket"], source["Key"]
            versioned = "VersionId" in source
        source_arn = _object_arn(source_bucket, source_key.split("?", 1)[0])
        return [
            self.request(self.read_action(versioned), source_arn),
            self.put(),
            *self.decrypt(source_bucket),
            *self.encrypt("kms:GenerateDataKey"),
        ]

    def delete_object(self) -> list[AuthzRequest]:
        return [self.request("s3:DeleteObjectVersion" if self.versioned else "s3:DeleteObject")]

    def delete_objects(self) -> list[AuthzRequest]:
        listed = self.params.get("Delete", {}).get("Objects", [])
        return [
            self.request("s3:DeleteObject", _object_arn(self.bucket, item["Key"]))
            for item in listed
        ]

    def list_bucket(self) -> list[AuthzRequest]:
        context = dict(self.common)
        for condition_key, name in (("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter")):
            if name in self.params:
                context[condition_key] = self.params[name]
        return [self.request("s3:ListBucket", f"arn:aws:s3:::{self.bucket}", context)]

    def list_versions(self) -> list[AuthzRequest]:
        return [self.request("s3:ListBucketVersions", f"arn:aws:s3:::{self.bucket}")]

    def bucket_action(self, action: str) -> list[AuthzRequest]:
        return [self.request(action, f"arn:aws:s3:::{self.bucket}")]

    def create_bucket(self) -> list[AuthzRequest]:
        return self.bucket_action("s3:CreateBucket")

    def put_bucket_versioning(self) -> list[AuthzRequest]:
        return self.bucket_action("s3:PutBucketVersioning")

    def put_bucket_policy(self) -> list[AuthzRequest]:
        return self.bucket_action("s3:PutBucketPolicy")


# S3 operation -> how its requests are built ("Required permissions for Amazon S3 API
# operations"); an operation not listed raises, so no call goes unchecked.
_S3_OPERATIONS: dict[str, Callable[[_S3Call], list[AuthzRequest]]] = {
    "GetObject": _S3Call.get_object,
    "HeadObject": _S3Call.head_object,
    "PutObject": _S3Call.put_object,
    "CreateMultipartUpload": _S3Call.create_multipart_upload,
    "UploadPart": _S3Call.upload_part,
    "CompleteMultipartUpload": _S3Call.upload_part,
    "AbortMultipartUpload": _S3Call.abort_multipart_upload,
    "CopyObject": _S3Call.copy_object,
    "UploadPartCopy": _S3Call.copy_object,
    "DeleteObject": _S3Call.delete_object,
    "DeleteObjects": _S3Call.delete_objects,
    "ListObjectsV2": _S3Call.list_bucket,
    "ListObjects": _S3Call.list_bucket,
    "HeadBucket": _S3Call.list_bucket,
    "ListObjectVersions": _S3Call.list_versions,
    "CreateBucket": _S3Call.create_bucket,
    "PutBucketVersioning": _S3Call.put_bucket_versioning,
    "PutBucketPolicy": _S3Call.put_bucket_policy,
}


def _s3_requests(
    policies: StackPolicies, principal: str, operation: str, params: dict[str, Any]
) -> list[AuthzRequest]:
    build = _S3_OPERATIONS.get(operation)
    if build is None:
        raise NotImplementedError(
            f"embedded authorization: no mapping for s3 {operation}; add it to "
            "radimpress_workstation.embedded.aws_authorization so the call is checked"
        )
    return build(_S3Call(policies, principal, params))


def _sns_requests(
    policies: StackPolicies, principal: str, operation: str, params: dict[str, Any]
) -> list[AuthzRequest]:
    if operation != "Publish":
        raise NotImplementedError(f"embedded authorization: no mapping for sns {operation}")
    topic = params.get("TopicArn") or params.get("TargetArn", "")
    requests = [AuthzRequest(principal, "sns:Publish", topic, _common(principal, policies))]
    key = policies.topic_keys.get(topic)
    if key:
        requests += _kms(policies, principal, key, "kms:GenerateDataKey", "kms:Decrypt")
    return requests


S3_REQUESTS: Builder = _s3_requests
SNS_REQUESTS: Builder = _sns_requests

# SageMaker operation -> (action, ARN resource type, request field naming the resource)
_SAGEMAKER = {
    "CreateTrainingJob": ("training-job", "TrainingJobName"),
    "DescribeTrainingJob": ("training-job", "TrainingJobName"),
    "StopTrainingJob": ("training-job", "TrainingJobName"),
    "CreateModel": ("model", "ModelName"),
    "DescribeModel": ("model", "ModelName"),
    "CreateTransformJob": ("transform-job", "TransformJobName"),
    "DescribeTransformJob": ("transform-job", "TransformJobName"),
    "StopTransformJob": ("transform-job", "TransformJobName"),
    # Model Registry: the version's ARN (model-package/<group>/<version>); the registry double
    # passes the ARN CreateModelPackage will give. ListModelPackages has no resource-level
    # permissions (AWS managed policy AmazonSageMakerModelRegistryFullAccess grants it on "*").
    "CreateModelPackage": ("model-package", "ModelPackageArn"),
    "DescribeModelPackage": ("model-package", "ModelPackageArn"),
    "UpdateModelPackage": ("model-package", "ModelPackageArn"),
    "ListModelPackages": ("*", ""),
    # Real-time endpoints (the optional DeployEndpoint function). ListEndpointConfigs has no
    # resource-level permissions.
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "ListEndpointConfigs": ("*", ""),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpoint": ("endpoint", "EndpointName"),
    "DescribeEndpoint": ("endpoint", "EndpointName"),
}


# Bedrock operation -> IAM action ("Actions, resources, and condition keys for Amazon Bedrock",
# Service Authorization Reference: InvokeModel and Converse are both bedrock:InvokeModel; the
# job actions are decided on arn:...:model-invocation-job/<job id>, ListModelInvocationJobs on
# "*"; a model on arn:...::foundation-model/<id> (no account) or
# arn:...:<account>:inference-profile/<id>).
BEDROCK_ACTIONS = {
    "CreateModelInvocationJob": "bedrock:CreateModelInvocationJob",
    "GetModelInvocationJob": "bedrock:GetModelInvocationJob",
    "StopModelInvocationJob": "bedrock:StopModelInvocationJob",
    "ListModelInvocationJobs": "bedrock:ListModelInvocationJobs",
    "InvokeModel": "bedrock:InvokeModel",
    "Converse": "bedrock:InvokeModel",
}
_PROFILE_GEOGRAPHIES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


def bedrock_job_arn(policies: StackPolicies, job_id: str) -> str:
    return f"arn:aws:bedrock:{policies.region}:{policies.account}:model-invocation-job/{job_id}"


def bedrock_model_arn(policies: StackPolicies, model_id: str) -> str:
    """The ARN ``bedrock:InvokeModel`` is decided on for a model id, profile id or ARN."""
    if model_id.startswith("arn:"):
        return model_id
    if model_id.startswith(_PROFILE_GEOGRAPHIES):
        return f"arn:aws:bedrock:{policies.region}:{policies.account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{policies.region}::foundation-model/{model_id}"


def bedrock_requests(
    policies: StackPolicies, principal: str, operation: str, resource: str, request: dict
) -> list[AuthzRequest]:
    """The requests one Bedrock call on ``resource`` (the job's or model's ARN) makes: its
    action; for CreateModelInvocationJob also TagResource when it carries tags and PassRole of
    its service role to bedrock.amazonaws.com."""
    try:
        action = BEDROCK_ACTIONS[operation]
    except KeyError:
        raise NotImplementedError(
            f"embedded authorization: no mapping for bedrock {operation}"
        ) from None
    common = _common(principal, policies)
    requests = [AuthzRequest(principal, action, resource, common)]
    if operation == "CreateModelInvocationJob":
        if request.get("tags"):
            requests.append(AuthzRequest(principal, "bedrock:TagResource", resource, common))
        passed = {**common, "iam:PassedToService": "bedrock.amazonaws.com"}
        requests.append(AuthzRequest(principal, "iam:PassRole", request["roleArn"], passed))
    return requests


def sagemaker_requests(
    policies: StackPolicies, principal: str, operation: str, request: dict[str, Any]
) -> list[AuthzRequest]:
    """The action on the resource's ARN (SageMaker lowercases names in ARNs), AddTags when the
    create carries tags, and PassRole for the role the job or model will run as."""
    try:
        kind, field_name = _SAGEMAKER[operation]
    except KeyError:
        raise NotImplementedError(
            f"embedded authorization: no mapping for sagemaker {operation}"
        ) from None
    name = str(request.get(field_name, "")).lower()
    if kind == "*":
        arn = "*"
    elif name.startswith("arn:"):
        arn = name
    else:
        arn = f"arn:aws:sagemaker:{policies.region}:{policies.account}:{kind}/{name}"
    common = _common(principal, policies)
    requests = [AuthzRequest(principal, f"sagemaker:{operation}", arn, common)]
    if operation.startswith("Create") and request.get("Tags"):
        requests.append(AuthzRequest(principal, "sagemaker:AddTags", arn, common))
    role = request.get("RoleArn") or request.get("ExecutionRoleArn")
    if role:
        context = {**common, "iam:PassedToService": "sagemaker.amazonaws.com"}
        requests.append(AuthzRequest(principal, "iam:PassRole", role, context))
    return requests
