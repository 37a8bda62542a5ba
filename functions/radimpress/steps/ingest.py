"""The Ingest state: validate an uploaded report file as a stream and lay out the run's input files.

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

from radimpress import deid
from radimpress.errors import InputFileError, aws_call
from radimpress.events import IngestResult
from radimpress.jumpstart import training_template
from radimpress.layout import RunKeys, parse_incoming_key
from radimpress.records import Purpose, Report, UnreadableFile, ValidationSummary, read_reports
from radimpress.spec import ModelSpec
from radimpress.storage import S3LineWriter, put_json


def _open_source(s3: Any, bucket: str, key: str) -> tuple[Any, str]:
    """The object's streaming body; EventBridge may hand over a URL-encoded key."""
    candidates = [key] + ([unquote_plus(key)] if unquote_plus(key) != key else [])
    for candidate in candidates:
        try:
            with aws_call(f"s3://{bucket}/{candidate}: read"):
                return s3.get_object(Bucket=bucket, Key=candidate)["Body"], candidate
        except ClientError as err:
            # Without s3:ListBucket a missing key reads as AccessDenied, not NoSuchKey.
            if err.response.get("Error", {}).get("Code") not in (
                "NoSuchKey",
                "404",
                "AccessDenied",
            ):
                raise
    raise InputFileError(f"s3://{bucket}/{key}: no such object (or no read access)")


def ingest(
    s3: Any, bucket: str, key: str, run_id: str, spec: ModelSpec, *, started_at: str = ""
) -> IngestResult:
    """Validate ``s3://bucket/key`` and write the run's files; returns ids, keys and counts."""
    body, key = _open_source(s3, bucket, key)
    route, dataset = parse_incoming_key(key)
    purpose = Purpose(route)
    keys = RunKeys(run_id)
    source = f"s3://{bucket}/{key}"
    summary = ValidationSummary(source=source)
    with_references = 0
    try:
        with ExitStack() as files:
            records = files.enter_context(S3LineWriter(s3, bucket, keys.records))
            rejected = files.enter_context(S3LineWriter(s3, bucket, keys.rejected))
            train = (
                files.enter_context(
                    S3LineWriter(s3, bucket, f"{keys.train_data_prefix}train.jsonl")
                )
                if purpose is Purpose.TRAIN
                else None
            )
            for outcome in read_reports(body, purpose, source, summary):
                if isinstance(outcome, Report):
                    records.write_json(outcome.to_dict())
                    with_references += outcome.impression is not None
                    if train is not None:
                        train.write_json(
                            {
                                "findings": deid.normalize(outcome.findings),
                                "impression": outcome.impression,
                            }
                        )
                else:
                    rejected.write_json({**outcome.to_dict(), "source": key})
                    summary.rejections.clear()  # the file holds them; memory need not
    except UnreadableFile as err:
        raise InputFileError(str(err)) from None
    if summary.accepted == 0:
        raise InputFileError(
            f"{source}: no valid record ({summary.records_read} read, all rejected; "
            f"reasons in s3://{bucket}/{keys.rejected})"
        )
    if train is not None:
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
    )
