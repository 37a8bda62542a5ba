"""The RecordFailure state: the failure record in the bucket, then the operators' notification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from radimpress import notify
from radimpress.errors import explain_cause
from radimpress.events import FailureRecorded, ScoreResult
from radimpress.layout import RunKeys
from radimpress.storage import put_json


def failure_record(
    *,
    run_id: str,
    source_key: str,
    error: str,
    cause: str,
    models: list[ScoreResult],
) -> dict[str, Any]:
    """What ``runs/<run_id>/failure.json`` holds (ids, error names and messages; no text).

    Failed ``models`` (a Map whose other models were published) add ``failed_models``: each
    failed model with its error and readable message (the FailureReason).
    """
    record: dict[str, Any] = {
        "run_id": run_id,
        "source_key": source_key,
        "error": error,
        "message": explain_cause(error, cause),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    failed = [m for m in models if m.failed]
    if failed:
        record["failed_models"] = [
            {"model_key": m.model_key, "error": m.error, "message": explain_cause(m.error, m.cause)}
            for m in failed
        ]
    return record


def record_failure(
    s3: Any,
    sns: Any,
    bucket: str,
    topic_arn: str,
    *,
    run_id: str,
    source_key: str,
    error: str,
    cause: str,
    models: list[ScoreResult],
) -> FailureRecorded:
    """Write the failure record and notify."""
    record = failure_record(
        run_id=run_id, source_key=source_key, error=error, cause=cause, models=models
    )
    key = RunKeys(run_id).failure
    put_json(s3, bucket, key, record)
    notified = notify.publish(
        sns,
        topic_arn,
        f"radimpress run {run_id} failed: {error}",
        {"outcome": "failed", **record, "failure_key": key},
    )
    return FailureRecorded(failure_key=key, notified=notified)
