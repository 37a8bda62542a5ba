"""Ingest: validate an uploaded report file as a stream and lay out the run's input files.

Every record ends up in ``records.jsonl`` (accepted) or ``rejected.jsonl`` (with a reason that names
position, id and field, never text). A training file also gets the JumpStart training channel
(``train.jsonl`` + ``template.json``, findings with de-identification placeholders normalised);
records.jsonl keeps the original text.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from radimpress import deid
from radimpress.errors import InputFileError, aws_call
from radimpress.jumpstart import training_template
from radimpress.records import Purpose, Report, UnreadableFile, ValidationSummary, read_reports
from radimpress.spec import ModelSpec
from radimpress.storage import S3LineWriter, put_json

_KEY = re.compile(
    r"^incoming/(?P<route>train|infer)/(?P<dataset>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/.+"
)


@dataclass(frozen=True)
class RunKeys:
    """Where one run's files live in the bucket (docs/contracts.md, "Data in the bucket")."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}"

    @property
    def records(self) -> str:
        return f"{self.prefix}/ingest/records.jsonl"

    @property
    def rejected(self) -> str:
        return f"{self.prefix}/ingest/rejected.jsonl"

    @property
    def train_data_prefix(self) -> str:
        return f"{self.prefix}/train/data/"

    @property
    def train_output_prefix(self) -> str:
        return f"{self.prefix}/train/output"

    def transform_input(self, model_key: str) -> str:
        return f"{self.prefix}/transform/{model_key}/input.jsonl"

    def transform_output_prefix(self, model_key: str) -> str:
        return f"{self.prefix}/transform/{model_key}/output"

    def scores(self, model_key: str) -> str:
        return f"{self.prefix}/scores/{model_key}.jsonl"

    @property
    def failure(self) -> str:
        return f"{self.prefix}/failure.json"


def parse_key(key: str) -> tuple[Purpose, str]:
    """``incoming/<train|infer>/<dataset>/<file>`` -> (purpose, dataset)."""
    match = _KEY.match(key)
    if not match:
        raise InputFileError(
            f"{key}: expected incoming/train/<dataset>/<file> or incoming/infer/<dataset>/<file> "
            "(dataset: letters, digits, '_', '-', '.')"
        )
    return Purpose(match["route"]), match["dataset"]


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


def ingest(s3: Any, bucket: str, key: str, run_id: str, spec: ModelSpec) -> dict[str, Any]:
    """Validate ``s3://bucket/key`` and write the run's files; returns ids, keys and counts."""
    body, key = _open_source(s3, bucket, key)
    purpose, dataset = parse_key(key)
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
    return {
        "route": purpose.value,
        "run_id": run_id,
        "dataset": dataset,
        "source_key": key,
        "records_key": keys.records,
        "rejected_key": keys.rejected,
        "records": summary.accepted,
        "rejected": summary.records_read - summary.accepted,
        "has_references": with_references > 0,
        "format": summary.file_format,
    }
