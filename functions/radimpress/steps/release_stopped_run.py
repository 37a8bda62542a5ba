"""ReleaseStoppedRun: settle the claim of an execution that ended without RecordFailure.

An execution stopped by hand (StopExecution: ABORTED), one that hits the state machine's own
timeout (TIMED_OUT), and one that fails outside every Catch (a ``States.Runtime`` error, the
UnknownRoute Fail state, or RecordFailure itself failing: FAILED) never run RecordFailure, so its
claim would stay ``running`` and every redelivery of the upload would end quietly as Duplicate.
Step Functions sends "Step Functions Execution Status Change" to EventBridge for every such end
(Step Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution
status changes": https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html); a rule of
the template hands it here.

This does what RecordFailure would have done (``steps.record_failure``'s ``settle_claim`` and
``failure_record``): release a run that committed nothing, take back a half-done commit, keep a
committed one, write ``runs/<run_id>/failure.json`` and send the run's one failure notice.

Idempotent: the claim's ``notified`` says a notice for this run was already sent (by RecordFailure,
by Publish, or by an earlier delivery of the same event: EventBridge delivers at least once), and
then nothing is done. An existing failure.json (RecordFailure's, with the real error) is never
overwritten; it also tells that RecordFailure ran: when its claim is still unsettled (S3 refused
RecordFailure's claim writes), RecordFailure's notice already told the operator what to do, so
the claim is settled now without a second notice (when RecordFailure did release the claim but
no ``notified`` followed, its notice failed, and this sends it). An execution that never claimed
its upload (stopped before Ingest, or a version-less event) has no claim to record the notice in:
the failure record, created only if absent, tells that RecordFailure ran.

One notice when deliveries race: before it settles anything, a delivery takes the run's notice
lease (``claims.take_notice``, a conditional write), so of two deliveries at the same moment one
settles and notifies and the other sends nothing. The other waits a few seconds for the holder to
record that it finished, else fails with :class:`NoticePending`, so that Lambda retries the event
(an asynchronous invocation is retried twice, one and then two minutes later: "How Lambda handles
errors and retries with asynchronous invocation", https://docs.aws.amazon.com/lambda/latest/dg/
invocation-async-error-handling.html). A holder that fails gives the lease back; one that is
killed (a Lambda timeout runs no ``finally``) cannot, and its lease is taken over once it is older
than the function's timeout, when the holder can no longer be running: a retry then settles and
notifies. So at most one notice while the holder lives, and at least one overall; a holder killed
after SNS took its notice but before it recorded it makes two. That holds even when the dead
holder had released the claim and a redelivered upload event claimed it again for a new run
before the retry: a lease left unfinished means the notice may still be owed, so the retry sends
it (``reclaimed``) instead of taking the new run's claim for a duplicate's.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from pydantic import BaseModel

from radimpress import claims, notify
from radimpress.errors import RadimpressError, error_code
from radimpress.layout import RunKeys, claim_key, notice_key
from radimpress.steps.record_failure import failure_record, settle_claim
from radimpress.storage import put_json_if, read_json

# The execution statuses this step settles, the error name it records and the reason it gives.
STOPPED = {
    "ABORTED": ("ExecutionAborted", "execution aborted"),
    "TIMED_OUT": ("ExecutionTimedOut", "timed out"),
    "FAILED": ("ExecutionFailed", "execution failed outside RecordFailure"),
}

# template.yaml: ReleaseStoppedRunFunction's Timeout (it sets none, so Globals.Function.Timeout).
# A delivery killed at its timeout took its notice lease at most this long before it died.
FUNCTION_TIMEOUT_SECONDS = 60
CLOCK_MARGIN_SECONDS = 5  # taken_at is the holder's clock, the age the next delivery's
NOTICE_LEASE_SECONDS = FUNCTION_TIMEOUT_SECONDS + CLOCK_MARGIN_SECONDS
# How long a delivery that finds the lease held waits for its holder to finish (a holder takes
# well under a second) before it fails and leaves the rest to Lambda's retry.
PENDING_PAUSES: tuple[float, ...] = (0.5, 1.0, 2.0)


class NoticePending(RadimpressError):
    """Another delivery holds the run's notice lease and has not recorded its notice yet: this
    invocation fails so that Lambda retries the event, by when the holder has finished or its
    lease has expired and the retry takes over."""


class StoppedRunSettled(BaseModel):
    """What became of a stopped execution's run (ids, states and keys only)."""

    run_id: str
    status: str
    # released | kept-committed | unclaimed | reclaimed | already-settled | not-ours |
    # unidentified | ignored
    action: str
    claim_state: str | None = None
    claim_released: bool = False
    failure_key: str | None = None
    failure_written: bool = False
    notified: bool = False
    operator_action: str = ""


@dataclass(frozen=True)
class _Stop:
    """One stopped execution as this step settles it: the clients and bucket, the upload its
    input names (``key`` "" when none) and what Step Functions said of its end."""

    s3: Any
    sns: Any
    bucket: str
    topic_arn: str
    key: str
    version: Any
    execution_arn: str
    error: str | None
    cause: str | None

    def claim(self, run_id: str) -> claims.Claim | None:
        return _find_claim(self.s3, self.bucket, self.key, self.version, run_id)


@dataclass(frozen=True)
class _Delivery:
    """Who this delivery is (the notice lease's holder) and its clock (None: the real one)."""

    holder: str
    now: datetime | None = None


def release_stopped_run(
    s3: Any,
    sns: Any,
    bucket: str,
    topic_arn: str,
    *,
    run_id: str,
    status: str,
    execution_arn: str,
    execution_input: dict[str, Any] | None,
    error: str | None = None,
    cause: str | None = None,
    holder: str | None = None,
    now: datetime | None = None,
) -> StoppedRunSettled:
    """Settle the run of an execution that ended ``status`` (see the module docstring).

    ``execution_input`` is the execution's input (the upload rule's: bucket, key, version_id),
    None when the event did not carry it. ``holder`` names this delivery in the notice lease
    (a fresh id when None); ``now`` is its clock. Raises :class:`NoticePending` while another
    delivery holds the lease.
    """
    result = StoppedRunSettled(run_id=run_id, status=status, action="ignored")
    if status not in STOPPED:
        return result  # SUCCEEDED / RUNNING: the pipeline itself settled the run
    delivery = _Delivery(holder=holder or uuid.uuid4().hex, now=now)
    source = execution_input or {}
    stop = _Stop(
        s3,
        sns,
        bucket,
        topic_arn,
        key=str(source.get("key") or ""),
        version=source.get("version_id"),
        execution_arn=execution_arn,
        error=error,
        cause=cause,
    )
    if not stop.key or source.get("bucket") != bucket:
        return _holding_notice(stop, result, delivery, lambda _: _unidentified(stop, result))
    current = stop.claim(run_id)
    if current is None:
        return _holding_notice(
            stop, result, delivery, lambda lease: _unclaimed(stop, result, lease)
        )
    if not current.ours and _notice_abandoned(s3, bucket, run_id):
        return _holding_notice(stop, result, delivery, _after_reclaim(stop, result, current))
    if _settled_before(current, result):
        return result

    def claimed(lease: claims.NoticeLease) -> StoppedRunSettled:
        # Read again under the lease: a holder before us may have settled the claim since.
        now_held = stop.claim(run_id)
        if now_held is None:  # deleted by hand meanwhile: as if never claimed
            return _unclaimed(stop, result, lease)
        if _settled_before(now_held, result):
            return result
        return _settle(stop, result, lease)

    return _holding_notice(stop, result, delivery, claimed)


def _notice_abandoned(s3: Any, bucket: str, run_id: str) -> bool:
    """True when a delivery took the run's notice lease and never recorded that it finished (it
    died or gave the lease back): whatever the claim says now, the notice may still be owed."""
    found = read_json(s3, bucket, notice_key(run_id))
    return found is not None and not found[0].get("settled_at")


def _after_reclaim(
    stop: _Stop, result: StoppedRunSettled, seen: claims.Claim
) -> Callable[[claims.NoticeLease], StoppedRunSettled]:
    """What to do, holding the lease, when another run holds the claim ``seen``.

    A holder before us released the claim and died before it recorded the notice, and a
    redelivery of the upload claimed it again for a new run before this retry: the release is
    done and the new run reports its own outcome, but this run's notice may never have gone out,
    so it is sent (twice rather than never). Anything else is a plain ``not-ours``."""

    def settle(lease: claims.NoticeLease) -> StoppedRunSettled:
        now_held = stop.claim(result.run_id)
        if now_held is None or now_held.ours or not lease.taken_over:
            _settled_before(now_held or seen, result)
            return result
        return _reclaimed(stop, result)

    return settle


def _reclaimed(stop: _Stop, result: StoppedRunSettled) -> StoppedRunSettled:
    """Send the notice of a run whose released upload a new run has claimed since."""
    result.action = "reclaimed"
    result.claim_released = True
    record = _record(stop, result, None)
    record["message"] += "; its upload was released and has since been claimed by a new run"
    result.notified = _notify(stop, result, _write_record(stop, result, record))
    return result


def _settled_before(current: claims.Claim, result: StoppedRunSettled) -> bool:
    """True (with the action set) when the claim leaves nothing to do: it is another run's, or
    the run's notice already went out."""
    result.claim_state = current.state
    if not current.ours:
        result.action = "not-ours"  # a duplicate delivery: the owning run reports its own outcome
        return True
    if current.record.get("notified"):
        result.action = "already-settled"  # RecordFailure, Publish or an earlier delivery did
        result.claim_released = current.state == claims.FAILED
        return True
    return False


def _holding_notice(
    stop: _Stop,
    result: StoppedRunSettled,
    delivery: _Delivery,
    settle: Callable[[claims.NoticeLease], StoppedRunSettled],
) -> StoppedRunSettled:
    """Run ``settle`` holding the run's notice lease, then record that it finished.

    A lease held by a live delivery is waited for (``PENDING_PAUSES``); one that a holder settled
    means nothing is left to do. ``settle`` failing gives the lease back, so a retry takes it
    at once.
    """
    lease = _take_notice(stop.s3, stop.bucket, result.run_id, delivery)
    if lease is None:
        result.action = "already-settled"  # an earlier delivery settled the run and notified
        return result
    try:
        settle(lease)
    except Exception:
        with contextlib.suppress(RadimpressError, ClientError):
            claims.give_back_notice(stop.s3, stop.bucket, lease)
        raise
    with contextlib.suppress(RadimpressError, ClientError):
        # Not recorded: a later delivery finds the claim's ``notified`` (or the failure record,
        # or the claim settled), or takes the lease over once expired and notifies again.
        claims.settle_notice(
            stop.s3, stop.bucket, lease, action=result.action, notified=result.notified
        )
    return result


def _take_notice(
    s3: Any, bucket: str, run_id: str, delivery: _Delivery
) -> claims.NoticeLease | None:
    """The run's notice lease for this delivery; None when a holder already settled the run.
    Raises :class:`NoticePending` when a live holder does not finish within the pauses."""
    for pause in (*PENDING_PAUSES, None):
        lease = claims.take_notice(
            s3,
            bucket,
            run_id,
            delivery.holder,
            expires_after=NOTICE_LEASE_SECONDS,
            now=delivery.now,
        )
        if lease.ours:
            return lease
        if lease.settled:
            return None
        if pause is None:
            raise NoticePending(
                f"run {run_id}: delivery {lease.holder} has held its notice lease since "
                f"{lease.record.get('taken_at')}; retry after {NOTICE_LEASE_SECONDS} s"
            )
        time.sleep(pause)
    raise AssertionError("unreachable")  # the last pause is None


def _unidentified(stop: _Stop, result: StoppedRunSettled) -> StoppedRunSettled:
    """The execution's input names no upload of this bucket: tell an operator where to look."""
    result.action = "unidentified"
    notice = _record(stop, result, None)
    notice["operator_action"] = result.operator_action = (
        f"the execution's input does not name an upload in s3://{stop.bucket}; read it "
        f"(aws stepfunctions describe-execution --execution-arn {stop.execution_arn}) and, if "
        "it names one, check that upload's claim under claims/"
    )
    result.notified = _notify(stop, result, notice)
    return result


def _recorded_before(notice: dict[str, Any], result: StoppedRunSettled) -> bool:
    """True when failure.json already existed: RecordFailure ran for this run."""
    return not result.failure_written and "failure_record_error" not in notice


def _find_claim(s3: Any, bucket: str, key: str, version: Any, run_id: str) -> claims.Claim | None:
    """The upload's claim as ``run_id`` sees it (the event's key may be URL-encoded)."""
    if not version or version == "null":
        return None  # an unversioned event: the claim is keyed on an ETag this run never saw
    for name in dict.fromkeys([key, unquote_plus(key)]):
        found = claims.read(s3, bucket, claim_key(bucket, name, str(version)), run_id)
        if found is not None:
            return found
    return None


def _record(stop: _Stop, result: StoppedRunSettled, claim: dict[str, Any] | None) -> dict[str, Any]:
    """failure.json for a stopped execution: the reason, and the execution's error and cause
    when Step Functions gave them (a StopExecution's, or a failure's error name)."""
    name, reason = STOPPED[result.status]
    record = failure_record(
        run_id=result.run_id, source_key=stop.key, error=name, cause=reason, models=[]
    )
    record.update(status=result.status, execution_arn=stop.execution_arn)
    if stop.error or stop.cause:
        record["execution_error"] = {"error": stop.error or None, "cause": stop.cause or None}
    if claim is not None:
        record["claim"] = claim
    return record


def _settle(stop: _Stop, result: StoppedRunSettled, lease: claims.NoticeLease) -> StoppedRunSettled:
    """The run owns its claim and no notice went out: settle it as RecordFailure would.

    Only a lease holder writes the claim or failure.json, claim first; so a record found while
    the claim is still unsettled is RecordFailure's, unless a holder before us died (``lease.
    taken_over``): it may have written the record, and then the notice is sent.
    """
    s3, bucket, run_id, before = stop.s3, stop.bucket, result.run_id, result.claim_state
    settled = settle_claim(s3, bucket, stop.key, stop.version, run_id)
    record = _record(stop, result, settled.describe())
    if settled.committed:
        record["message"] += (
            "; the run's results are committed and stay, so this upload does not run again "
            "(upload the file again for a new run)"
        )
    if settled.operator_action:
        record["operator_action"] = result.operator_action = settled.operator_action
    result.action = "kept-committed" if settled.committed else "released"
    result.claim_state = settled.state or result.claim_state
    result.claim_released = settled.released
    notice = _write_record(stop, result, record)
    unsettled = before in (claims.RUNNING, claims.COMMITTING)
    if unsettled and _recorded_before(notice, result) and not lease.taken_over:
        # RecordFailure wrote its record but could not settle the claim (S3 refused): its notice
        # went out with what an operator must do. The claim is settled now; no second notice.
        if settled.claim_key and settled.state:
            with contextlib.suppress(RadimpressError, ClientError):
                claims.note(s3, bucket, settled.claim_key, run_id, stopped=result.status)
        return result
    outcome = "partial" if settled.committed else "failed"
    result.notified = _notify(stop, result, notice, outcome)
    if result.notified and settled.claim_key and settled.state:
        with contextlib.suppress(RadimpressError, ClientError):
            claims.note(
                s3, bucket, settled.claim_key, run_id, notified=outcome, stopped=result.status
            )
    return result


def _unclaimed(
    stop: _Stop, result: StoppedRunSettled, lease: claims.NoticeLease
) -> StoppedRunSettled:
    """No claim: the execution ended before Ingest claimed the upload (nothing to release; a
    redelivery runs). A failure record found by the lease's first holder is RecordFailure's (it
    notified); one found after a holder died may be that holder's, and the notice is sent."""
    result.action = "unclaimed"
    record = _record(stop, result, None)
    record["message"] += "; the upload was never claimed, so a new delivery of it runs"
    notice = _write_record(stop, result, record)
    if _recorded_before(notice, result) and not lease.taken_over:
        result.action = "already-settled"  # RecordFailure (or code before the lease) wrote it
        return result
    result.notified = _notify(stop, result, notice)
    return result


def _write_record(stop: _Stop, result: StoppedRunSettled, record: dict[str, Any]) -> dict[str, Any]:
    """Create failure.json unless one exists (RecordFailure's keeps the real error); returns
    the notice's message (the record, where it is, or why it could not be written)."""
    key = RunKeys(result.run_id).failure
    result.failure_key = key
    message: dict[str, Any] = {**record, "failure_key": key}
    try:
        result.failure_written = put_json_if(stop.s3, stop.bucket, key, record) is not None
    except (RadimpressError, ClientError) as err:
        why = str(err) if isinstance(err, RadimpressError) else error_code(err)
        message.update(failure_key=None, failure_record_error=f"s3://{stop.bucket}/{key}: {why}")
    return message


def _notify(
    stop: _Stop, result: StoppedRunSettled, message: dict[str, Any], outcome: str = "failed"
) -> bool:
    """The run's one failure notice (ids, states and reasons; never report text)."""
    name = STOPPED[result.status][0]
    return notify.publish(
        stop.sns,
        stop.topic_arn,
        f"radimpress run {result.run_id} {outcome}: {name}",
        {"outcome": outcome, **message},
    )
