"""Run outcomes: the failure record in the bucket and SNS notifications (ids and counts only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from radimpress.errors import aws_call
from radimpress.ingest import RunKeys
from radimpress.storage import put_json

MAX_MESSAGE = 2000


def explain(error: str, cause: str) -> str:
    """The readable message of a caught error: a Lambda's ``errorMessage``, else the cause."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        message = str(parsed["errorMessage"])
    else:
        message = cause or error
    return message[:MAX_MESSAGE]


def record_failure(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    source_key: str,
    error: str,
    cause: str,
    models: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Write ``runs/<run_id>/failure.json``; returns what was written.

    ``models`` (``[{model_key, error, cause}]``, a run whose other models were published) adds
    ``failed_models``: each failed model with its error and readable message (the FailureReason).
    """
    record: dict[str, Any] = {
        "run_id": run_id,
        "source_key": source_key,
        "error": error,
        "message": explain(error, cause),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if models:
        record["failed_models"] = [
            {
                "model_key": m["model_key"],
                "error": m["error"],
                "message": explain(m["error"], m["cause"]),
            }
            for m in models
        ]
    key = RunKeys(run_id).failure
    put_json(s3, bucket, key, record)
    return {**record, "failure_key": key}


def publish(sns: Any, topic_arn: str, subject: str, message: dict[str, Any]) -> bool:
    """Send ``message`` (JSON) to the run-outcome topic; False when no topic is configured."""
    if not topic_arn:
        return False
    with aws_call("sns publish"):
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, indent=1, sort_keys=True),
        )
    return True
