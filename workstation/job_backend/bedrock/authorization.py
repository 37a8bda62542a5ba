"""Bedrock's own check of a caller, against the embedded stack's policies.

The requests each call makes ("Actions, resources, and condition keys for Amazon Bedrock", Service
Authorization Reference; "Required permissions for batch inference", Bedrock user guide):

- ``CreateModelInvocationJob``: ``bedrock:CreateModelInvocationJob`` on the new job's ARN
  (``arn:aws:bedrock:<region>:<account>:model-invocation-job/<job id>``), ``bedrock:TagResource``
  on it when the request carries tags, and ``iam:PassRole`` on the service role with
  ``iam:PassedToService`` = ``bedrock.amazonaws.com``;
- ``GetModelInvocationJob`` / ``StopModelInvocationJob``: that action on the job's ARN;
  ``ListModelInvocationJobs``: on ``*`` (no resource-level permission);
- ``InvokeModel`` and ``Converse``: ``bedrock:InvokeModel`` on the model's ARN (a foundation
  model: ``arn:aws:bedrock:<region>::foundation-model/<id>``, no account; an inference profile:
  ``arn:aws:bedrock:<region>:<account>:inference-profile/<id>``; an ARN as given).

The job's own S3 reads and writes go as its service role (``aws_authorization.job_s3``), so the
role's policy and the bucket policy decide them, as in the cloud. Nothing is checked unless an
embedded stack enforces authorization (``aws_authorization.active``) and a principal is calling.
"""

from __future__ import annotations

from typing import Any

from radimpress_workstation.embedded import aws_authorization
from radimpress_workstation.embedded.iam_policy import AuthzRequest
from radimpress_workstation.job_backend.bedrock.service_model import service_error

_GEOGRAPHIES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


def job_arn(region: str, account: str, job_id: str) -> str:
    return f"arn:aws:bedrock:{region}:{account}:model-invocation-job/{job_id}"


def model_arn(region: str, account: str, model_id: str) -> str:
    """The ARN ``bedrock:InvokeModel`` is decided on for a model id, profile id or ARN."""
    if model_id.startswith("arn:"):
        return model_id
    if model_id.startswith(_GEOGRAPHIES):
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def bedrock_requests(
    principal: str, account: str, operation: str, resource: str, request: dict[str, Any]
) -> list[AuthzRequest]:
    """The authorization requests of one Bedrock call on ``resource`` (see the module doc)."""
    context = {
        "aws:SecureTransport": True,
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": account,
    }
    action = "bedrock:InvokeModel" if operation in ("InvokeModel", "Converse") else operation
    if not action.startswith("bedrock:"):
        action = f"bedrock:{action}"
    requests = [AuthzRequest(principal, action, resource, context)]
    if operation == "CreateModelInvocationJob":
        if request.get("tags"):
            requests.append(AuthzRequest(principal, "bedrock:TagResource", resource, context))
        passed = {**context, "iam:PassedToService": "bedrock.amazonaws.com"}
        requests.append(AuthzRequest(principal, "iam:PassRole", request["roleArn"], passed))
    return requests


def require_bedrock_call(operation: str, resource: str, request: dict[str, Any]) -> None:
    """Refuse the call with ``AccessDeniedException`` when the stack's policies do."""
    authorizer = aws_authorization.active()
    principal = aws_authorization.current_principal()
    if authorizer is None or principal is None:
        return
    account = authorizer.policies.account
    requests = bedrock_requests(principal, account, operation, resource, request)
    try:
        authorizer.require(requests)
    except aws_authorization._Denied as denied:  # the policies refused: Bedrock's 403
        raise service_error(operation, "AccessDeniedException", str(denied)) from None
