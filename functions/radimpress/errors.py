"""Error types the state machine tells apart by class name (Retry/Catch match on ``errorType``).

Messages name files, keys, records and fields, never report text: they end up in the execution
history, the logs and the failure record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
)

# AWS error codes worth retrying: throttling and short service outages.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ProvisionedThroughputExceededException",
    }
)


MAX_MESSAGE = 2000


def explain_cause(error: str, cause: str | None) -> str:
    """The readable message of an error Step Functions caught.

    A Lambda's cause is JSON (``{"errorType", "errorMessage"}``): its message is what a person
    needs; any other cause is shown as it is, and no cause at all falls back to the error name.
    """
    try:
        parsed = json.loads(cause or "")
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        message = str(parsed["errorMessage"])
    else:
        message = cause or error or "(no cause given)"
    return message[:MAX_MESSAGE]


class RadimpressError(Exception):
    """Base class: anything the pipeline raises on purpose."""


class TransientAwsError(RadimpressError):
    """A throttled or briefly unavailable AWS call; every Task retries on it."""


class InputFileError(RadimpressError):
    """The uploaded file cannot be used (missing, unreadable, no valid record)."""


class SpecError(RadimpressError):
    """The resolved model spec is missing, malformed, or does not match the stack parameters."""


class JobFailed(RadimpressError):
    """A SageMaker job ended Failed or Stopped; the message carries SageMaker's FailureReason."""


class JobWaitExceeded(RadimpressError):
    """A job still ran after the maximum wait; it was asked to stop."""


class OutputMismatch(RadimpressError):
    """A transform output does not line up with the records it was made from."""


# Conditional writes (If-Match / If-None-Match) that lost a race: the caller decides what it means.
PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})

# Connection-level failures, including a response body that broke off while being read: a
# streaming read of an S3 object fails this way, outside the call that opened it.
_TRANSIENT_TYPES = (ConnectionError, EndpointConnectionError, HTTPClientError, IncompleteReadError)


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError (else the exception's class name)."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return type(err).__name__


def is_precondition_failed(err: BaseException) -> bool:
    """A conditional write refused because the object changed (412) or a race was lost (409)."""
    return isinstance(err, ClientError) and error_code(err) in PRECONDITION_CODES


def is_transient(err: BaseException) -> bool:
    if isinstance(err, _TRANSIENT_TYPES):
        return True
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status in (429, 503)
    return False


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn throttling/outage errors of the calls inside into :class:`TransientAwsError`.

    The message says what happened, not what comes next: whether Step Functions retries depends
    on the attempts left, which the Lambda does not know (a "will retry" on the last attempt
    would be a lie in the failure record).
    """
    try:
        yield
    except (ClientError, *_TRANSIENT_TYPES) as err:
        if is_transient(err):
            raise TransientAwsError(
                f"{what}: AWS answered {error_code(err)} (throttling or a brief outage)"
            ) from err
        raise
