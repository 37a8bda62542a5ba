"""One run per uploaded object version: a claim object written with S3's If-None-Match.

EventBridge delivers at least once, so the same "Object Created" event may start several
executions. Ingest claims ``claims/<sha256(bucket, key, version)>.json`` with a conditional
``PutObject(IfNoneMatch="*")`` before it reads anything: S3 lets exactly one writer create the
object (others get 412 PreconditionFailed, or 409 when they raced), so exactly one execution owns
the version and the others end as ``Duplicate``. A retried Ingest of the owning execution finds
its own run id in the claim and goes on. RecordFailure releases the claim of a failed run (a
conditional delete on the claim's ETag, only if it still names that run), so the same version can
be run again after a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from radimpress.errors import TransientAwsError
from radimpress.layout import claim_key
from radimpress.storage import delete_if, put_json_if, read_json

_ATTEMPTS = 3  # a claim deleted between our write and our read: try again


@dataclass(frozen=True)
class Claim:
    key: str  # where the claim object lives
    owner: str  # the run id that holds the version
    ours: bool  # True when ``owner`` is the run that asked


def version_tag(version_id: str | None, etag: str) -> str:
    """What identifies one upload: the S3 version id, or the ETag in an unversioned bucket."""
    return version_id if version_id and version_id != "null" else f"etag:{etag.strip(chr(34))}"


def claim(
    s3: Any, bucket: str, key: str, version: str, run_id: str, *, now: str | None = None
) -> Claim:
    """Claim ``(bucket, key, version)`` for ``run_id``, or learn which run already holds it."""
    where = claim_key(bucket, key, version)
    record = {
        "run_id": run_id,
        "bucket": bucket,
        "key": key,
        "version": version,
        "claimed_at": now or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for _ in range(_ATTEMPTS):
        if put_json_if(s3, bucket, where, record) is not None:
            return Claim(where, run_id, True)
        held = read_json(s3, bucket, where)
        if held is not None:
            owner = str(held[0].get("run_id") or "")
            return Claim(where, owner, owner == run_id)
    raise TransientAwsError(f"s3://{bucket}/{where}: the claim was released while being read")


def release(s3: Any, bucket: str, key: str, version: str, run_id: str) -> bool:
    """Delete the claim if ``run_id`` holds it (after that run failed); True when released."""
    where = claim_key(bucket, key, version)
    held = read_json(s3, bucket, where)
    if held is None or held[0].get("run_id") != run_id:
        return False
    return delete_if(s3, bucket, where, held[1])
