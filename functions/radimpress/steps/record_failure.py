"""The RecordFailure state: the failure record in the bucket, then the operators' notification.

The notification does not depend on the record: when S3 refuses the write on the state's last
attempt (or for good, e.g. AccessDenied), the operators are still told, with the record's content
and why it is missing. Earlier attempts raise the transient error so the Retry policy tries the
write again. The failed run's claim on its object version is released, so the same upload can be
run again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from radimpress import claims, notify
from radimpress.errors import TransientAwsError, error_code, explain_cause
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
        record["message"] = models_failed_message(models)
    return record


def models_failed_message(models: list[ScoreResult]) -> str:
    """What happened to a run whose models failed: which failed, whether anything was published."""
    failed = [m.model_key for m in models if m.failed]
    succeeded = [m.model_key for m in models if not m.failed]
    if not succeeded:
        return f"every model failed ({', '.join(failed)}); nothing was published"
    return (
        f"{len(failed)} of {len(models)} models failed ({', '.join(failed)}); "
        f"the results of {', '.join(succeeded)} were published"
    )


def _release_claim(s3: Any, bucket: str, key: str, version_id: str | None, run_id: str) -> bool:
    """Let the same object version run again; a failure here must not stop the notification."""
    if not key or not version_id or version_id == "null":
        return False  # no version named: the claim was keyed on an ETag this state never saw
    for candidate in dict.fromkeys([key, unquote_plus(key)]):
        try:
            if claims.release(s3, bucket, candidate, version_id, run_id):
                return True
        except (TransientAwsError, ClientError):
            return False
    return False


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
    version_id: str | None = "",
    last_attempt: bool = True,
) -> FailureRecorded:
    """Write the failure record, release the run's claim, and notify (even without the record).

    ``last_attempt``: no retry follows this call, so a transient S3 error no longer waits for
    one; the notification goes out saying the record could not be written.
    """
    record = failure_record(
        run_id=run_id, source_key=source_key, error=error, cause=cause, models=models
    )
    key = RunKeys(run_id).failure
    message: dict[str, Any] = {"outcome": "failed", **record, "failure_key": key}
    written = True
    try:
        put_json(s3, bucket, key, record)
    except TransientAwsError as err:
        if not last_attempt:
            raise
        written = False
        message.update(failure_key=None, failure_record_error=str(err))
    except ClientError as err:  # lasting (AccessDenied, KMS): retrying would not help
        written = False
        message.update(
            failure_key=None,
            failure_record_error=f"s3://{bucket}/{key}: write refused ({error_code(err)})",
        )
    released = _release_claim(s3, bucket, source_key, version_id, run_id)
    notified = notify.publish(sns, topic_arn, f"radimpress run {run_id} failed: {error}", message)
    return FailureRecorded(
        failure_key=key, notified=notified, failure_written=written, claim_released=released
    )
