"""Creating SageMaker jobs and models exactly once.

Job and model names derive from the run id, so a retried Start step finds its own job instead of
creating a second one: SageMaker refuses the second create, and that refusal means success here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from radimpress.errors import aws_call


def _already_exists(err: ClientError) -> bool:
    error = err.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in ("ResourceInUse", "ValidationException") and (
        "already exist" in message or "must be unique" in message
    )


def create_once(create: Callable[..., Any], request: dict[str, Any], what: str) -> bool:
    """Call ``create(**request)``; True if created, False if it already existed (a retry)."""
    try:
        with aws_call(what):
            create(**request)
    except ClientError as err:
        if _already_exists(err):
            return False
        raise
    return True
