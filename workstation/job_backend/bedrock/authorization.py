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
from radimpress_workstation.embedded.aws_authorization import StackPolicies
from radimpress_workstation.job_backend.bedrock.service_model import service_error


def job_arn(region: str, account: str, job_id: str) -> str:
    return aws_authorization.bedrock_job_arn(StackPolicies(account, region), job_id)


def model_arn(region: str, account: str, model_id: str) -> str:
    """The ARN ``bedrock:InvokeModel`` is decided on for a model id, profile id or ARN."""
    return aws_authorization.bedrock_model_arn(StackPolicies(account, region), model_id)


def require_bedrock_call(operation: str, resource: str, request: dict[str, Any]) -> None:
    """Refuse the call with ``AccessDeniedException`` when the stack's policies do (the
    requests: ``aws_authorization.bedrock_requests``, the one mapping every service's calls
    are checked with)."""
    authorizer = aws_authorization.active()
    principal = aws_authorization.current_principal()
    if authorizer is None or principal is None:
        return
    try:
        authorizer.require_bedrock(principal, operation, resource, request)
    except aws_authorization._Denied as denied:  # the policies refused: Bedrock's 403
        raise service_error(operation, "AccessDeniedException", str(denied)) from None
