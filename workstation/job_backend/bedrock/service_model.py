"""Bedrock's side of a request: checked against botocore's own service models, refused with
Bedrock's error codes.

botocore's ``ParamValidator`` (``botocore.validate.validate_parameters``) checks what boto3 checks
before sending: required and unknown members, types and minimum lengths. The service then checks
the rest of its model's constraints, which boto3 does not: maximum lengths and sizes, enums and
``pattern`` (matched whole, as AWS's request validation does: a ``jobName`` with an underscore or
a ``roleArn`` that is not an IAM role fails). Both kinds of refusal are a ``ValidationException``
(HTTP 400), phrased as AWS phrases its constraint errors ("1 validation error detected: Value
'...' at 'jobName' failed to satisfy constraint: Member must satisfy regular expression pattern:
..."). Runtime requests carry report text, so their messages never echo values.

Models: ``bedrock`` (CreateModelInvocationJob, GetModelInvocationJob, StopModelInvocationJob,
ListModelInvocationJobs) and ``bedrock-runtime`` (InvokeModel, Converse), as the installed
botocore ships them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}

# HTTP status of the Bedrock errors the double raises (botocore's error shapes say the same).
STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 400,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceUnavailableException": 503,
    "InternalServerException": 500,
    "ServiceQuotaExceededException": 400,
}


def service_error(operation: str, code: str, message: str) -> ClientError:
    """The error boto3 raises when Bedrock refuses ``operation`` with ``code``."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": STATUS.get(code, 400)},
    }
    return ClientError(response, operation)


def validation_error(operation: str, message: str) -> ClientError:
    return service_error(operation, "ValidationException", message)


def service_model(service: str) -> Any:
    """botocore's model of ``service`` (``bedrock`` or ``bedrock-runtime``), loaded once."""
    with _LOCK:
        if service not in _MODELS:
            from botocore.session import get_session

            _MODELS[service] = get_session().get_service_model(service)
        return _MODELS[service]


def input_shape(service: str, operation: str) -> Any:
    return service_model(service).operation_model(operation).input_shape


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _string_violations(shape: Any, value: str, path: str, echo: bool) -> list[str]:
    meta, found = shape.metadata, []
    shown = f"Value '{value}' at '{path}'" if echo else f"Value at '{path}'"
    if "max" in meta and len(value) > meta["max"]:
        found.append(
            f"{shown} failed to satisfy constraint: Member must have length less than or "
            f"equal to {meta['max']}"
        )
    if "pattern" in meta and not _compiled(meta["pattern"]).fullmatch(value):
        found.append(
            f"{shown} failed to satisfy constraint: Member must satisfy regular expression "
            f"pattern: {meta['pattern']}"
        )
    if shape.enum and value not in shape.enum:
        found.append(
            f"{shown} failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(shape.enum)}]"
        )
    return found


def _number_violations(shape: Any, value: Any, path: str) -> list[str]:
    top = shape.metadata.get("max")
    if top is None or isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if value <= top:
        return []
    return [
        f"Value at '{path}' failed to satisfy constraint: Member must have value less than or "
        f"equal to {top}"
    ]


def _list_violations(shape: Any, value: list | tuple, path: str, echo: bool) -> list[str]:
    found = []
    if "max" in shape.metadata and len(value) > shape.metadata["max"]:
        found.append(
            f"Value at '{path}' failed to satisfy constraint: Member must have length less than "
            f"or equal to {shape.metadata['max']}"
        )
    for index, item in enumerate(value, start=1):
        found += _violations(shape.member, item, f"{path}.{index}.member", echo)
    return found


def _violations(shape: Any, value: Any, path: str, echo: bool) -> list[str]:
    """The constraints of the model that ``value`` (already type-checked by botocore) breaks."""
    kind = shape.type_name
    if kind == "string" and isinstance(value, str):
        return _string_violations(shape, value, path, echo)
    if kind in ("integer", "long", "float", "double"):
        return _number_violations(shape, value, path)
    if kind == "list" and isinstance(value, list | tuple):
        return _list_violations(shape, value, path, echo)
    found: list[str] = []
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                found += _violations(member, value[name], f"{path}.{name}" if path else name, echo)
    elif kind == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            found += _violations(shape.value, item, f"{path}.{key}", echo)
    return found


def check_request(
    service: str, operation: str, params: Mapping[str, Any], *, echo_values: bool = True
) -> None:
    """Refuse a request boto3 would not send, or the service would not accept, with
    ``ValidationException``; ``echo_values=False`` for requests that carry report text."""
    from botocore.validate import validate_parameters

    shape = input_shape(service, operation)
    try:
        validate_parameters(dict(params), shape)
    except ParamValidationError as err:
        message = str(err) if echo_values else _without_values(err)
        raise validation_error(operation, message) from None
    found = _violations(shape, dict(params), "", echo_values)
    if found:
        count = len(found)
        plural = "error" if count == 1 else "errors"
        raise validation_error(
            operation, f"{count} validation {plural} detected: {'; '.join(found)}"
        )


def _without_values(err: ParamValidationError) -> str:
    """botocore's report with the offending values cut out (they may be report text):
    "Invalid type for parameter x, value: <value>, type: <class>, ..." keeps its head and the
    type or range that follows the value."""
    lines = []
    for line in str(err).splitlines():
        head, marker, rest = line.partition(", value: ")
        if marker:
            tail = max(rest.rfind(", type: <class"), rest.rfind(", valid min"))
            line = head + (rest[tail:] if tail >= 0 else "")
        lines.append(line)
    return "\n".join(lines)
