"""The files of a Bedrock batch inference job: JSON Lines in, ``.jsonl.out`` and a manifest out.

Formats (Bedrock user guide, "Format and upload your batch inference data" and "View the results
of a batch inference job"):

- input: ``.jsonl`` files under one S3 prefix, a line ``{"recordId": ..., "modelInput": {...}}``;
  the user guide shows ``recordId`` as an "alphanumeric string" (earlier versions: "11 character
  alphanumeric string") and documents no maximum length, so ours are letters and digits only
  (:func:`record_id`), and carry the study id, so outputs join back to records by id alone;
- output: for each input file ``<name>.jsonl.out`` under ``<output prefix>/<job id>/`` (the job id
  is the last part of the job ARN), one line per record, ``{"recordId", "modelInput",
  "modelOutput"}`` or, for a record that failed, ``"error": {"errorCode", "errorMessage"}`` in place
  of ``modelOutput``; "The order of records in the output JSONL file is not guaranteed to match
  the order of records in the input JSONL file", so outputs are joined by ``recordId``;
- ``manifest.json.out`` beside them: ``totalRecordCount``, ``processedRecordCount``,
  ``successRecordCount``, ``errorRecordCount``, ``inputTokenCount``, ``outputTokenCount``.

Quotas an input must meet (the user guide names them; default values from the Amazon Bedrock
service quotas table of the AWS General Reference; they are per model and adjustable, so check
Service Quotas for the account): records per input file (50,000), records per job (50,000),
input file size (1 GB), job size (5 GB), and a minimum number of records per job (100 for the
text models this project uses).

Reading outputs never raises for a single record: an ``error`` line, a missing record, or a
``modelOutput`` without text becomes a :class:`RecordRejection` with a code; no message quotes
report text or Bedrock's error message (it may echo the input).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from radimpress.bedrock.model_input import BodyFormat
from radimpress.bedrock.model_output import ModelAnswer, ModelOutputError, read_answer
from radimpress.errors import OutputMismatch, aws_call
from radimpress.storage import S3LineWriter, body_lines, read_json

OUTPUT_SUFFIX = ".out"
MANIFEST_NAME = "manifest.json.out"
MANIFEST_FIELDS = (
    "totalRecordCount",
    "processedRecordCount",
    "successRecordCount",
    "errorRecordCount",
    "inputTokenCount",
    "outputTokenCount",
)
_PLAIN_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_RECORD_ID = re.compile(r"(?:S[A-Za-z0-9]{1,64}|B[A-Z2-7]+)")

# Codes of the rejections a batch output can produce.
MISSING = "bedrock:missing"  # no output line for the record (job stopped, expired, partial)
MALFORMED_OUTPUT = "bedrock:malformed-output"  # modelOutput without the text


@dataclass(frozen=True)
class BatchQuotas:
    """The default batch inference quotas (see the module docstring for the source)."""

    min_records_per_job: int = 100
    max_records_per_file: int = 50_000
    max_records_per_job: int = 50_000
    max_file_bytes: int = 1_000_000_000
    max_job_bytes: int = 5_000_000_000


DEFAULT_QUOTAS = BatchQuotas()


def record_id(study_id: str) -> str:
    """The ``recordId`` of a study: letters and digits only, reversible (:func:`study_id_of`).

    An id already made of at most 64 letters and digits is kept readable (``S`` + id); any other
    is ``B`` + its UTF-8 in base32 without padding (RFC 4648: ``A-Z``, ``2-7``)."""
    if _PLAIN_ID.fullmatch(study_id):
        return "S" + study_id
    encoded = base64.b32encode(study_id.encode("utf-8")).decode("ascii").rstrip("=")
    return "B" + encoded


def study_id_of(record: str) -> str:
    """The study id a :func:`record_id` encodes; ValueError for any other string."""
    if not isinstance(record, str) or not _RECORD_ID.fullmatch(record):
        raise ValueError("not a recordId written by radimpress")
    if record[0] == "S":
        return record[1:]
    payload = record[1:]
    try:
        return base64.b32decode(payload + "=" * (-len(payload) % 8)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a recordId written by radimpress") from None


def input_line(study_id: str, model_input: Mapping[str, Any]) -> dict[str, Any]:
    """One input line: the record's id and its request body."""
    return {"recordId": record_id(study_id), "modelInput": dict(model_input)}


@dataclass
class InputFiles:
    """What :func:`write_input_files` wrote: the keys, and the records and bytes in all."""

    keys: list[str] = field(default_factory=list)
    records: int = 0
    bytes: int = 0


def write_input_files(
    s3: Any,
    bucket: str,
    prefix: str,
    lines: Iterable[Mapping[str, Any]],
    quotas: BatchQuotas = DEFAULT_QUOTAS,
) -> InputFiles:
    """Stream the lines into ``<prefix>/part-00001.jsonl``, ... starting a new file before one
    would pass the records-per-file or file-size quota; ValueError past the job quotas."""
    written = InputFiles()
    writer: S3LineWriter | None = None
    try:
        for line in lines:
            data = json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n"
            if (
                written.records + 1 > quotas.max_records_per_job
                or written.bytes + len(data) > quotas.max_job_bytes
            ):
                raise ValueError(
                    f"s3://{bucket}/{prefix}: more than a batch job takes "
                    f"({quotas.max_records_per_job} records, {quotas.max_job_bytes} bytes)"
                )
            if len(data) > quotas.max_file_bytes:
                raise ValueError(f"record {written.records + 1} alone exceeds the file size quota")
            if writer is None or (
                writer.lines >= quotas.max_records_per_file
                or writer.bytes + len(data) > quotas.max_file_bytes
            ):
                if writer is not None:
                    writer.close()
                key = f"{prefix.rstrip('/')}/part-{len(written.keys) + 1:05d}.jsonl"
                writer = S3LineWriter(s3, bucket, key)
                written.keys.append(key)
            writer.write(data)
            writer.lines += 1  # write() counts bytes; lines are counted by the caller
            written.records += 1
            written.bytes += len(data)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    return written


def job_id(job_arn: str) -> str:
    """The job id: the last part of ``arn:aws:bedrock:...:model-invocation-job/<id>``."""
    return job_arn.rsplit("/", 1)[-1]


def output_key(output_prefix: str, job_arn: str, input_key: str) -> str:
    """Where Bedrock writes the output of one input file."""
    name = input_key.rsplit("/", 1)[-1]
    return f"{output_prefix.rstrip('/')}/{job_id(job_arn)}/{name}{OUTPUT_SUFFIX}"


def manifest_key(output_prefix: str, job_arn: str) -> str:
    return f"{output_prefix.rstrip('/')}/{job_id(job_arn)}/{MANIFEST_NAME}"


@dataclass(frozen=True)
class RecordRejection:
    """A record Bedrock gave no usable answer for; ``code`` says why, ``reason`` says where."""

    study_id: str
    code: str
    reason: str


@dataclass
class BatchOutputs:
    """The answers of a job's output files, by study id, and what did not fit."""

    answers: dict[str, ModelAnswer] = field(default_factory=dict)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # study -> (code, where)
    malformed: dict[str, str] = field(default_factory=dict)  # study -> where
    unreadable_lines: int = 0  # not JSON, or no recordId we wrote
    duplicates: int = 0

    def take(self, study_id: str) -> ModelAnswer | RecordRejection:
        """The answer for a study, or why there is none; each study is taken once."""
        if study_id in self.answers:
            return self.answers.pop(study_id)
        if study_id in self.errors:
            code, where = self.errors.pop(study_id)
            return RecordRejection(study_id, code, f"{where}: Bedrock answered {code}")
        if study_id in self.malformed:
            where = self.malformed.pop(study_id)
            return RecordRejection(
                study_id, MALFORMED_OUTPUT, f"{where}: modelOutput holds no generated text"
            )
        return RecordRejection(study_id, MISSING, "no output line for this record")

    def leftover(self) -> int:
        """Output records that matched no record taken (another run's ids, or none of ours)."""
        return len(self.answers) + len(self.errors) + len(self.malformed)


def _error_code(error: Any) -> str:
    code = error.get("errorCode") if isinstance(error, Mapping) else None
    if isinstance(code, bool) or not isinstance(code, int | str) or str(code) == "":
        return "bedrock:error"
    return f"bedrock:{code}"


def read_outputs(s3: Any, bucket: str, keys: Iterable[str], fmt: BodyFormat) -> BatchOutputs:
    """Read every output line of ``keys`` (in any order) into :class:`BatchOutputs`."""
    outputs = BatchOutputs()
    for key in keys:
        for number, line in _lines(s3, bucket, key, outputs):
            where = f"s3://{bucket}/{key} line {number}"
            try:
                study = study_id_of(line.get("recordId"))  # type: ignore[arg-type]
            except ValueError:
                outputs.unreadable_lines += 1
                continue
            if study in outputs.answers or study in outputs.errors or study in outputs.malformed:
                outputs.duplicates += 1
                continue
            if "error" in line:
                outputs.errors[study] = (_error_code(line["error"]), where)
                continue
            try:
                outputs.answers[study] = read_answer(fmt, line.get("modelOutput"))
            except ModelOutputError:
                outputs.malformed[study] = where
    return outputs


def _lines(
    s3: Any, bucket: str, key: str, outputs: BatchOutputs
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON object lines of one output file; a line that is not one is counted, not fatal."""
    with aws_call(f"s3://{bucket}/{key}: read"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for number, raw in enumerate(body_lines(body), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if isinstance(value, dict):
            yield number, value
        else:
            outputs.unreadable_lines += 1


@dataclass(frozen=True)
class Manifest:
    """``manifest.json.out``: the job's record and token counts."""

    total_records: int
    processed_records: int
    success_records: int
    error_records: int
    input_tokens: int
    output_tokens: int


def read_manifest(s3: Any, bucket: str, key: str) -> Manifest | None:
    """The manifest, or None when the job wrote none (failed or stopped before the end)."""
    found = read_json(s3, bucket, key)
    if found is None:
        return None
    value, _ = found
    counts = []
    for name in MANIFEST_FIELDS:
        count = value.get(name, 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise OutputMismatch(f"s3://{bucket}/{key}: {name} is not a count")
        counts.append(count)
    return Manifest(*counts)
