"""One run per uploaded object version: a claim object that also records how far the run got.

EventBridge delivers at least once, so the same "Object Created" event may start several
executions. Ingest claims ``claims/<sha256(bucket, key, version)>.json`` with a conditional
``PutObject(IfNoneMatch="*")`` before it reads anything: S3 lets exactly one writer create the
object (others get 412 PreconditionFailed, or 409 when they raced), so exactly one execution owns
the version and the others end as ``Duplicate``. A retried Ingest of the owning execution finds
its own run id in the claim and goes on.

The claim is also the run's lifecycle record, every change a conditional write on the ETag last
read (so two writers never both win):

- ``running``: Ingest claimed the version; nothing of the run is visible.
- ``committing``: Publish staged every results object and is copying them to ``results/``; the
  claim lists the keys (``publish.final``), so whoever finds a dead run here can take them back.
- ``committed``: the run's results (or, for a training run, its registered model) are published.
  It is never released: a redelivery is a Duplicate, and running the upload again means uploading
  it again (a new version).
- ``failed-before-commit``: RecordFailure released a run that published nothing (it first takes
  back whatever a ``committing`` run had copied). The next delivery of the version takes the claim
  over (``claim``), so the upload can run again.

``notified`` records the outcome already sent to the operators, so a retried state does not send
it twice.

A run that ended without RecordFailure (ReleaseStoppedRun) also has a notice lease,
``claims/notices/<run_id>.json``: the right to send that run's failure notice, held by one
delivery of the status change event at a time (``take_notice``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radimpress.errors import RadimpressError, TransientAwsError
from radimpress.layout import claim_key, notice_key
from radimpress.storage import put_json_if, read_json

RUNNING = "running"
COMMITTING = "committing"
COMMITTED = "committed"
FAILED = "failed-before-commit"
STATES = (RUNNING, COMMITTING, COMMITTED, FAILED)
# Which state may follow which (a state may be written again: retries are idempotent).
_NEXT = {
    RUNNING: {RUNNING, COMMITTING, COMMITTED, FAILED},
    COMMITTING: {COMMITTING, COMMITTED, FAILED},
    COMMITTED: {COMMITTED},
    FAILED: {FAILED},
}

_ATTEMPTS = 3  # a claim changed between our read and our write: read it again


class ClaimLost(RadimpressError):
    """The run no longer owns its claim (or the claim forbids the step): it must not publish."""


@dataclass(frozen=True)
class Claim:
    key: str  # where the claim object lives
    owner: str  # the run id that holds the version
    ours: bool  # True when ``owner`` is the run that asked
    state: str = RUNNING
    record: dict[str, Any] = field(default_factory=dict, compare=False)
    etag: str = ""


def version_tag(version_id: str | None, etag: str) -> str:
    """What identifies one upload: the S3 version id, or the ETag in an unversioned bucket."""
    return version_id if version_id and version_id != "null" else f"etag:{etag.strip(chr(34))}"


def _now(now: str | None = None) -> str:
    return now or datetime.now(UTC).isoformat(timespec="seconds")


def state_of(record: dict[str, Any]) -> str:
    """A claim record's state (claims written before states existed are ``running``)."""
    state = str(record.get("state") or RUNNING)
    return state if state in STATES else RUNNING


def _as_claim(where: str, run_id: str, record: dict[str, Any], etag: str) -> Claim:
    owner = str(record.get("run_id") or "")
    return Claim(where, owner, owner == run_id, state_of(record), record, etag)


def claim(
    s3: Any, bucket: str, key: str, version: str, run_id: str, *, now: str | None = None
) -> Claim:
    """Claim ``(bucket, key, version)`` for ``run_id``, or learn which run already holds it.

    A claim left ``failed-before-commit`` is taken over (a conditional write on its ETag, so of
    two deliveries racing for it only one wins); the failed run is remembered as ``previous``.
    """
    where = claim_key(bucket, key, version)
    record = {
        "run_id": run_id,
        "bucket": bucket,
        "key": key,
        "version": version,
        "claimed_at": _now(now),  # no "state" yet: a claim without one is running
    }
    for _ in range(_ATTEMPTS):
        etag = put_json_if(s3, bucket, where, record)
        if etag is not None:
            return Claim(where, run_id, True, RUNNING, record, etag)
        held = read_json(s3, bucket, where)
        if held is None:
            continue  # released between our write and our read
        current = _as_claim(where, run_id, *held)
        if current.ours or current.state != FAILED:
            return current
        taken = {**record, "previous": {"run_id": current.owner, "state": FAILED}}
        etag = put_json_if(s3, bucket, where, taken, if_match=current.etag)
        if etag is not None:
            return Claim(where, run_id, True, RUNNING, taken, etag)
    raise TransientAwsError(f"s3://{bucket}/{where}: the claim kept changing while being taken")


def read(s3: Any, bucket: str, where: str, run_id: str) -> Claim | None:
    """The claim at ``where`` as seen by ``run_id`` (None when there is none)."""
    held = read_json(s3, bucket, where)
    return None if held is None else _as_claim(where, run_id, *held)


def advance(
    s3: Any,
    bucket: str,
    where: str,
    run_id: str,
    state: str,
    *,
    now: str | None = None,
    **fields: Any,
) -> Claim:
    """Move ``run_id``'s claim to ``state`` (adding ``fields``); returns the claim as written.

    Raises :class:`ClaimLost` when the claim is gone, held by another run, or already in a state
    that cannot lead to ``state`` (e.g. a committed run cannot fail before its commit).
    """
    if state not in STATES:
        raise ValueError(f"unknown claim state {state!r}")
    for _ in range(_ATTEMPTS):
        current = read(s3, bucket, where, run_id)
        if current is None or not current.ours:
            owner = "nobody" if current is None else f"run {current.owner}"
            raise ClaimLost(f"s3://{bucket}/{where}: held by {owner}, not by run {run_id}")
        if state not in _NEXT[current.state]:
            raise ClaimLost(
                f"s3://{bucket}/{where}: run {run_id} is {current.state}; it cannot become {state}"
            )
        record = {**current.record, **fields, "state": state, "updated_at": _now(now)}
        etag = put_json_if(s3, bucket, where, record, if_match=current.etag)
        if etag is not None:
            return Claim(where, run_id, True, state, record, etag)
    raise TransientAwsError(f"s3://{bucket}/{where}: the claim kept changing while being updated")


def note(s3: Any, bucket: str, where: str, run_id: str, **fields: Any) -> Claim:
    """Add ``fields`` to ``run_id``'s claim without changing its state (e.g. ``notified``)."""
    current = read(s3, bucket, where, run_id)
    if current is None or not current.ours:
        raise ClaimLost(f"s3://{bucket}/{where}: not held by run {run_id}")
    return advance(s3, bucket, where, run_id, current.state, **fields)


def release(s3: Any, bucket: str, key: str, version: str, run_id: str) -> bool:
    """Mark ``run_id``'s claim ``failed-before-commit`` so the version can run again.

    True when released (or already released by this run); False when another run holds the
    claim, there is none, or the run got as far as its commit: a committed run is never released,
    and a ``committing`` one only after its copied results are taken back (RecordFailure does
    that, then ``advance``-s the claim itself).
    """
    where = claim_key(bucket, key, version)
    current = read(s3, bucket, where, run_id)
    if current is None or not current.ours or current.state in (COMMITTING, COMMITTED):
        return False
    return advance(s3, bucket, where, run_id, FAILED).state == FAILED


# ---- the notice lease: which delivery of a stopped execution's event sends its notice -------
#
# Both writes are S3 conditional writes (Amazon S3 user guide, "How to prevent object overwrites
# with conditional writes": https://docs.aws.amazon.com/AmazonS3/latest/userguide/
# conditional-writes.html): PutObject with
# If-None-Match: * creates the lease only if there is none, and with If-Match: <ETag> replaces
# only the version last read; of two deliveries racing, S3 lets exactly one succeed (412 or 409
# for the other).


@dataclass(frozen=True)
class NoticeLease:
    """The right to send one run's failure notice, as one delivery sees it."""

    key: str
    holder: str  # the delivery that holds it ("" once given back)
    ours: bool  # the asker holds it: it sends the notice, then ``settle_notice``
    settled: bool  # a holder finished: the notice went out, or none was owed
    taken_over: bool = False  # an earlier holder died or gave it back: it may have done part
    record: dict[str, Any] = field(default_factory=dict, compare=False)
    etag: str = ""


def _lease_age(record: dict[str, Any], moment: datetime) -> float | None:
    """Seconds since the lease was taken; None when it does not say when (treated as dead)."""
    try:
        taken = datetime.fromisoformat(str(record.get("taken_at")))
    except ValueError:
        return None
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    return (moment - taken).total_seconds()


def _as_lease(where: str, holder: str, record: dict[str, Any], etag: str) -> NoticeLease:
    owner = str(record.get("holder") or "")
    settled = bool(record.get("settled_at"))
    return NoticeLease(where, owner, owner == holder, settled, False, record, etag)


def take_notice(
    s3: Any,
    bucket: str,
    run_id: str,
    holder: str,
    *,
    expires_after: float,
    now: datetime | None = None,
) -> NoticeLease:
    """Take the right to send ``run_id``'s failure notice for delivery ``holder``.

    Returns the lease as ``holder`` sees it: ``ours`` when taken (created, or taken over from a
    holder presumed dead: taken more than ``expires_after`` seconds ago, or given back);
    otherwise held by a live delivery, or ``settled``. Of two deliveries racing, one gets it.
    """
    where = notice_key(run_id)
    moment = now or datetime.now(UTC)
    record = {"run_id": run_id, "holder": holder, "taken_at": moment.isoformat()}
    for _ in range(_ATTEMPTS):
        etag = put_json_if(s3, bucket, where, record)
        if etag is not None:
            return NoticeLease(where, holder, True, False, False, record, etag)
        held = read_json(s3, bucket, where)
        if held is None:
            continue  # cannot happen (nobody deletes a lease), but costs nothing to handle
        current = _as_lease(where, holder, *held)
        age = _lease_age(current.record, moment)
        alive = bool(current.holder) and age is not None and age <= expires_after
        if current.settled or (alive and not current.ours):
            return current
        taken = {**record, "taken_from": current.holder or None}
        etag = put_json_if(s3, bucket, where, taken, if_match=current.etag)
        if etag is not None:
            return NoticeLease(where, holder, True, False, True, taken, etag)
    raise TransientAwsError(f"s3://{bucket}/{where}: the notice lease kept changing")


def settle_notice(s3: Any, bucket: str, lease: NoticeLease, **fields: Any) -> bool:
    """Record that ``lease``'s holder finished (``fields``: what it did); later deliveries then
    do nothing. False when another delivery took the lease over meanwhile."""
    record = {**lease.record, **fields, "settled_at": _now()}
    return put_json_if(s3, bucket, lease.key, record, if_match=lease.etag) is not None


def give_back_notice(s3: Any, bucket: str, lease: NoticeLease) -> bool:
    """Hand the lease back after a failure, so the next delivery takes it without waiting for
    it to expire (a killed Lambda cannot: its lease expires instead)."""
    record = {**lease.record, "holder": "", "given_back_at": _now()}
    return put_json_if(s3, bucket, lease.key, record, if_match=lease.etag) is not None
