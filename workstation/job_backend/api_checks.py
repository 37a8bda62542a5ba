"""SageMaker's side of a request: is it well formed, and which error does SageMaker answer with.

Requests are checked against botocore's own SageMaker service model, as boto3 checks them before
sending; a refused request is a ``botocore.exceptions.ClientError`` with SageMaker's error code,
so the Lambdas see the errors the real service would give them.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from radimpress_workstation.embedded.moto_config import ACCOUNT_ID

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def client_error(operation: str, code: str, message: str) -> ClientError:
    """The error boto3 raises when SageMaker refuses ``operation`` with ``code``."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, operation)


def validation_error(operation: str, message: str) -> ClientError:
    return client_error(operation, "ValidationException", message)


class _ServiceModel:
    """botocore's SageMaker model, loaded once."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def input_shape(cls, operation: str) -> Any:
        from botocore.session import get_session

        with cls._lock:
            if cls._model is None:
                cls._model = get_session().get_service_model("sagemaker")
        return cls._model.operation_model(operation).input_shape


def check_request(operation: str, params: Mapping[str, Any]) -> None:
    """Refuse a request boto3 would not send (missing or unknown parameters, wrong types)."""
    from botocore.validate import validate_parameters

    try:
        validate_parameters(dict(params), _ServiceModel.input_shape(operation))
    except ParamValidationError as err:
        raise validation_error(operation, str(err)) from None


def check_job_name(name: str, operation: str) -> None:
    if not _NAME.match(name):
        raise validation_error(operation, f"job name {name!r} is not a valid name")


def split_s3_uri(uri: str, what: str, operation: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://`` URI; a ValidationException naming ``what`` otherwise."""
    bucket, _, key = uri[5:].partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket:
        raise validation_error(operation, f"{what} must be an s3:// URI")
    return bucket, key


def arn(kind: str, name: str) -> str:
    """A SageMaker ARN in the embedded account (SageMaker lower-cases resource names in ARNs)."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{kind}/{name.lower()}"
