"""The RecordFailure state: settle the run's claim, write the failure record, notify once.

The claim (``radimpress.claims``) says how far the run got. A run that committed nothing is
released (``failed-before-commit``), so the same upload can run again; one that died while
Publish was copying its results (``committing``) first has them taken back, summary first, and
its staging removed. A committed run (its results, or its model, are published) is never
released: a redelivery stays a Duplicate instead of publishing a second result set.

Releasing is retried; when it still fails, the record and the notice say exactly what an operator
must do (it is never swallowed: an unreleased upload would end every redelivery as Duplicate).

The notification does not depend on the record: when S3 refuses the write on the state's last
attempt (or for good, e.g. AccessDenied), the operators are still told, with the record's content
and why it is missing. Earlier attempts raise the transient error so the Retry policy tries the
write again. This state sends the one notice of every failed run, a partly published one included
("partial"); the claim records it, so a retried RecordFailure does not send it twice.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from radimpress import claims, notify
from radimpress.claims import ClaimLost
from radimpress.errors import (
    RadimpressError,
    TransientAwsError,
    aws_call,
    error_code,
    explain_cause,
)
from radimpress.events import FailureRecorded, ScoreResult
from radimpress.layout import RunKeys, claim_key
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


RELEASE_ATTEMPTS = 3  # tries within one attempt of the state before a transient error is raised
RELEASE_BACKOFF_SECONDS = 0.5


@dataclass
class Settled:
    """What became of the failed run's claim (ids and keys only)."""

    claim_key: str = ""
    state: str = ""  # the claim's state afterwards ("" when no claim was found)
    released: bool = False
    committed: bool = False
    withdrawn: list[str] = field(default_factory=list)  # results taken back (summary first)
    notified: str = ""  # the outcome an earlier attempt already sent
    error: str = ""  # why the claim could not be settled
    operator_action: str = ""  # what an operator must do about it

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.claim_key or None, "state": self.state or None}
        out["released"] = self.released
        if self.withdrawn:
            out["withdrawn"] = self.withdrawn
        if self.error:
            out.update(error=self.error, operator_action=self.operator_action)
        return out


def _claim_keys(bucket: str, key: str, version_id: str | None) -> list[str]:
    if not key or not version_id or version_id == "null":
        return []  # no version named: the claim was keyed on an ETag this state never saw
    return [claim_key(bucket, k, version_id) for k in dict.fromkeys([key, unquote_plus(key)])]


def _settle(s3: Any, bucket: str, where: str, run_id: str) -> Settled | None:
    """Release the run's claim unless it committed; None when there is no claim at ``where``."""
    current = claims.read(s3, bucket, where, run_id)
    if current is None:
        return None
    settled = Settled(claim_key=where, state=current.state)
    settled.notified = str(current.record.get("notified") or "") if current.ours else ""
    if not current.ours or current.state in (claims.COMMITTED, claims.FAILED):
        settled.committed = current.ours and current.state == claims.COMMITTED
        settled.released = current.ours and current.state == claims.FAILED
        return settled
    if current.state == claims.COMMITTING:  # Publish died while copying: take it all back
        settled.withdrawn = _take_back(s3, bucket, current.record.get("publish") or {})
    # A run still "running" may have staged something before it died: invisible, and the next
    # Publish's sweep removes the staging of every released run.
    claims.advance(s3, bucket, where, run_id, claims.FAILED, released_by="RecordFailure")
    settled.state, settled.released = claims.FAILED, True
    return settled


def _take_back(s3: Any, bucket: str, publish: dict[str, Any]) -> list[str]:
    """Delete what a ``committing`` claim lists (``publish.pairs``: staging and final key in
    commit order): the final keys in reverse, so the run summary (the commit marker) goes first,
    then the staging copies and the staging manifest. Deleting a missing key is not an error."""
    pairs = [(str(staging), str(final)) for staging, final in publish.get("pairs", [])]
    finals = [final for _, final in reversed(pairs)]
    staging = [key for key, _ in pairs] + (
        [str(publish["manifest"])] if publish.get("manifest") else []
    )
    for key in finals + staging:
        with aws_call(f"s3://{bucket}/{key}: delete"):
            s3.delete_object(Bucket=bucket, Key=key)
    return finals


def settle_claim(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    run_id: str,
    *,
    last_attempt: bool = True,
    sleep: Any = time.sleep,
) -> Settled:
    """Release a run that committed nothing, so the same upload can run again; keep a committed
    one. Retried; when it still fails, the answer says exactly what an operator must do (raised as
    :class:`TransientAwsError` instead while the state's Retry policy has attempts left)."""
    wheres = _claim_keys(bucket, key, version_id)
    why, lasting = "", False
    for attempt in range(RELEASE_ATTEMPTS):
        try:
            for where in wheres:
                settled = _settle(s3, bucket, where, run_id)
                if settled is not None:
                    return settled
            return Settled()
        except (TransientAwsError, ClaimLost) as err:  # ClaimLost: it changed under us
            why = str(err)
        except ClientError as err:  # lasting (AccessDenied, KMS): trying again would not help
            why, lasting = f"s3://{bucket}/{wheres[0]}: {error_code(err)}", True
            break
        if attempt + 1 < RELEASE_ATTEMPTS:
            sleep(RELEASE_BACKOFF_SECONDS * (attempt + 1))
    if not last_attempt and not lasting:
        raise TransientAwsError(f"releasing the claim of run {run_id}: {why}")
    return Settled(
        claim_key=wheres[0],
        error=why,
        operator_action=_operator_action(bucket, key, version_id or "", wheres[0], run_id),
    )


def _operator_action(bucket: str, key: str, version: str, where: str, run_id: str) -> str:
    """The exact commands that let the upload run again (its claim still holds it)."""
    return (
        f"the upload s3://{bucket}/{key} (version {version}) is still claimed by failed run "
        f"{run_id}, so every new delivery of it ends as Duplicate. Read the claim "
        f'(aws s3 cp s3://{bucket}/{where} -); if its state is "committing", first delete '
        f"every key it lists in publish.pairs, the results/runs/ one first (aws s3 rm "
        f"s3://{bucket}/<key>). Then delete the claim (aws s3api delete-object --bucket "
        f"{bucket} --key {where}) and upload the file again or re-send its event."
    )


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
    """Settle the run's claim, write the failure record, and send the run's one notice.

    ``last_attempt``: no retry follows this call, so a transient S3 error no longer waits for
    one; the notification goes out saying what could not be done (the record, the release).
    """
    settled = settle_claim(s3, bucket, source_key, version_id, run_id, last_attempt=last_attempt)
    record = failure_record(
        run_id=run_id, source_key=source_key, error=error, cause=cause, models=models
    )
    record["claim"] = settled.describe()
    if settled.committed:
        record["message"] += (
            "; the run's results are committed and stay, so this upload does not run again "
            "(upload the file again for a new run)"
        )
    if settled.operator_action:
        record["operator_action"] = settled.operator_action
    published = settled.committed and any(not m.failed for m in models)
    outcome = "partial" if published else "failed"
    key = RunKeys(run_id).failure
    message: dict[str, Any] = {"outcome": outcome, **record, "failure_key": key}
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
    if settled.notified:  # an earlier attempt of this state sent the run's notice
        notified = True
    else:
        subject = f"radimpress run {run_id} {outcome}: {error}"
        notified = notify.publish(sns, topic_arn, subject, message)
        if notified and settled.claim_key and settled.state:
            with contextlib.suppress(RadimpressError, ClientError):
                claims.note(s3, bucket, settled.claim_key, run_id, notified=outcome)
    return FailureRecorded(
        failure_key=key,
        notified=notified,
        failure_written=written,
        claim_released=settled.released,
    )
