"""Sessions, clients and error lines for the commands that talk to a real AWS account.

Credentials come from boto3's default chain (environment, shared config and credentials files,
SSO, instance or container roles); nothing here stores or prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# What a failed AWS call raises: a service error (ClientError) or a client-side one
# (NoCredentialsError, EndpointConnectionError, ParamValidationError ... are BotoCoreErrors).
AWS_ERRORS = (BotoCoreError, ClientError)
# Error codes of a refused call, by service (IAM/STS/S3: AccessDenied; JSON services:
# AccessDeniedException; EC2-style: UnauthorizedOperation).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def make_session(region: str | None) -> Any:
    """boto3's default session (the tests hand the commands stubbed clients instead)."""
    import boto3

    return boto3.Session(region_name=region)


@dataclass
class Clients:
    """One client per service, made on first use, all in one region."""

    session: Any
    region: str
    made: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self.made:
            self.made[service] = self.session.client(service, region_name=self.region)
        return self.made[service]


def aws_error(err: BaseException) -> tuple[str, str]:
    """(code, message) of a botocore error, for one line without a traceback."""
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        detail = response.get("Error", {})
        return str(detail.get("Code", "")), str(detail.get("Message", "")).strip()
    return type(err).__name__, str(err)


def error_line(err: BaseException) -> str:
    code, message = aws_error(err)
    return f"{code}: {message}" if message else code
