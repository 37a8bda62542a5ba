"""The Ingest state: validate an uploaded report file as a stream and lay out the run's input files.

The run first claims the object version the event named (``radimpress.claims``) and reads exactly
that version: a repeated delivery of the event ends as ``route="duplicate"`` without reading or
writing anything, and an event that arrives after the object was overwritten still processes the
version it names.

Every record ends up in ``records.jsonl`` (accepted) or ``rejected.jsonl`` (with a reason that names
position, id and field, never text). A training file also gets the JumpStart training channel
(``train.jsonl`` + ``template.json``, findings with de-identification placeholders normalised);
records.jsonl keeps the original text.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from radimpress import claims, deid
from radimpress.errors import InputFileError, aws_call, error_code
from radimpress.events import IngestResult
from radimpress.holdout import HoldoutSplit
from radimpress.jumpstart import training_template
from radimpress.layout import RunKeys, parse_incoming_key
from radimpress.lineage import HashingReader
from radimpress.records import (
    Purpose,
    Report,
    UnreadableFile,
    ValidationSummary,
    printable,
    read_reports,
)
from radimpress.spec import ModelSpec
from radimpress.storage import S3LineWriter, put_json


def _open_source(s3: Any, bucket: str, key: str, version_id: str | None) -> tuple[Any, str, str]:
    """(streaming body, key, version tag) of the version the event named (else the latest).

    EventBridge may hand over a URL-encoded key.
    """
    candidates = [key] + ([unquote_plus(key)] if unquote_plus(key) != key else [])
    request = {"VersionId": version_id} if version_id and version_id != "null" else {}
    for candidate in candidates:
        try:
            with aws_call(f"s3://{bucket}/{candidate}: read"):
                response = s3.get_object(Bucket=bucket, Key=candidate, **request)
        except ClientError as err:
            # Without s3:ListBucket a missing key reads as AccessDenied, not NoSuchKey.
            if error_code(err) not in ("NoSuchKey", "NoSuchVersion", "404", "AccessDenied"):
                raise
            continue
        version = claims.version_tag(response.get("VersionId"), response.get("ETag", ""))
        return response["Body"], candidate, version
    version = f" version {version_id}" if request else ""
    raise InputFileError(
        f"{printable(f's3://{bucket}/{key}')}{version}: no such object (or no read access)"
    )


def ingest(
    s3: Any,
    bucket: str,
    key: str,
    run_id: str,
    spec: ModelSpec,
    *,
    started_at: str = "",
    version_id: str | None = "",
    holdout_percent: int = 0,
) -> IngestResult:
    """Validate ``s3://bucket/key`` and write the run's files; returns ids, keys and counts."""
    body, key, version = _open_source(s3, bucket, key, version_id)
    route, dataset = parse_incoming_key(key)
    claimed = claims.claim(s3, bucket, key, version, run_id)
    if not claimed.ours:
        body.close()
        return IngestResult(
            route="duplicate",
            run_id=run_id,
            dataset=dataset,
            source_key=key,
            started_at=started_at,
            version_id=version,
            claim_key=claimed.key,
            duplicate_of=claimed.owner,
        )
    purpose = Purpose(route)
    body = HashingReader(body)  # run lineage: the SHA-256 of exactly the bytes read here
    keys = RunKeys(run_id)
    source = f"s3://{bucket}/{key}"
    summary = ValidationSummary(source=source)
    with_references = 0
    try:
        with ExitStack() as files:
            records = files.enter_context(S3LineWriter(s3, bucket, keys.records))
            rejected = files.enter_context(S3LineWriter(s3, bucket, keys.rejected))
            split = (
                _training_split(s3, bucket, keys, files, holdout_percent)
                if purpose is Purpose.TRAIN
                else None
            )
            for outcome in read_reports(body, purpose, source, summary):
                if isinstance(outcome, Report):
                    record = outcome.to_dict()
                    records.write_json(record)
                    with_references += outcome.impression is not None
                    if split is not None:
                        line = {
                            "findings": deid.normalize(outcome.findings),
                            "impression": outcome.impression,
                        }
                        split.add(str(outcome.study_id), record, line)
                else:
                    rejected.write_json({**outcome.to_dict(), "source": key})
                    summary.rejections.clear()  # the file holds them; memory need not
            body.drain()  # whatever follows the last record counts in the digest too
            held_out = split.finish() if split is not None else 0
    except UnreadableFile as err:
        raise InputFileError(str(err)) from None
    if summary.accepted == 0:
        raise InputFileError(
            f"{printable(source)}: no valid record ({summary.records_read} read, all rejected; "
            f"reasons in s3://{bucket}/{keys.rejected})"
        )
    if split is not None:
        put_json(s3, bucket, f"{keys.train_data_prefix}template.json", training_template(spec))
    return IngestResult(
        route=purpose.value,
        run_id=run_id,
        dataset=dataset,
        source_key=key,
        started_at=started_at,
        records_key=keys.records,
        rejected_key=keys.rejected,
        records=summary.accepted,
        rejected=summary.records_read - summary.accepted,
        has_references=with_references > 0,
        format=summary.file_format,
        version_id=version,
        claim_key=claimed.key,
        input_sha256=body.sha256,
        input_bytes=body.bytes,
        holdout_key=keys.holdout if held_out else "",
        holdout_records=held_out,
        train_records=split.trained if split is not None else 0,
    )


def _training_split(
    s3: Any, bucket: str, keys: RunKeys, files: ExitStack, percent: int
) -> HoldoutSplit:
    """The training channel, and the promotion gate's held-out file opened on its first line."""
    train = files.enter_context(S3LineWriter(s3, bucket, f"{keys.train_data_prefix}train.jsonl"))
    holdout: list[S3LineWriter] = []

    def write_holdout(record: dict[str, Any]) -> None:
        if not holdout:
            holdout.append(files.enter_context(S3LineWriter(s3, bucket, keys.holdout)))
        holdout[0].write_json(record)

    return HoldoutSplit(percent, train.write_json, write_holdout)
