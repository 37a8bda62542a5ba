"""What a batch inference job does once accepted: validate its input, run each record, write out.

As the Bedrock user guide describes it ("Format and upload your batch inference data", "View the
results of a batch inference job", and the job statuses in botocore's ``bedrock`` model):

- Validating: the service role reads the input (every ``.jsonl`` object under the input URI,
  through S3 as that role, so the stack's IAM and bucket policies decide); each line must be a
  JSON object with a ``modelInput`` object and, when present, a string ``recordId`` ("validation
  doesn't check if the modelInput value matches the request body for the model"); the quotas hold
  (``quotas``). Anything else fails the job, with a message naming the file, line and rule.
- InProgress: each record is answered by the stand-in (``standin``) or, when its body is not one
  the model takes (``bodies``), gets an ``error`` line ``{"errorCode": 400, "errorMessage": ...}``
  in place of ``modelOutput``. A record without ``recordId`` gets one (11 letters and digits).
- Output: for each input file ``<output URI>/<job id>/<path under the input prefix>.out`` with
  one line per processed record, in an order unrelated to the input's ("not guaranteed to
  match": the double always shuffles, deterministically, so a reader relying on order fails
  here), then ``manifest.json.out`` with the six counts. Objects are written with SSE-KMS under
  ``s3EncryptionKeyId`` when the request names one. Lines and manifest also carry ``generator``:
  the stand-in's label (real Bedrock writes no such field).
- A stop ends the job at its next record (``Stopped``); the double's ``records_before_timeout``
  knob ends it early as a timeout does (``PartiallyCompleted``: "Not all of your records could be
  processed in time"). Both write what was processed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from radimpress_workstation.job_backend.bedrock.bodies import BodyError, check_body
from radimpress_workstation.job_backend.bedrock.quotas import Quotas
from radimpress_workstation.job_backend.bedrock.standin import (
    generate,
    generator_label,
    read_request,
    response_body,
)

MANIFEST = "manifest.json.out"


class JobFailure(Exception):
    """The job fails with this message (names only: files, lines, rules, never report text)."""


class JobHalted(Exception):
    """A stop request reached the job between two records."""


@dataclass
class InputFile:
    key: str
    relative: str  # the key under the input prefix (the output's name)
    lines: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0


@dataclass
class RunCounts:
    total: int = 0
    processed: int = 0
    success: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    partial: bool = False

    def manifest(self, generator: str) -> dict[str, Any]:
        return {
            "totalRecordCount": self.total,
            "processedRecordCount": self.processed,
            "successRecordCount": self.success,
            "errorRecordCount": self.errors,
            "inputTokenCount": self.input_tokens,
            "outputTokenCount": self.output_tokens,
            "generator": generator,
        }


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _listed(s3: Any, bucket: str, prefix: str) -> list[tuple[str, int]]:
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl"):
                found.append((item["Key"], item["Size"]))
    return found


def read_input(s3: Any, uri: str, quotas: Quotas) -> list[InputFile]:
    """Every input file under ``uri`` (a prefix, or one ``.jsonl`` object), parsed and checked
    as Validating checks them."""
    bucket, prefix = split_uri(uri)
    listed = _listed(s3, bucket, prefix)
    if not listed:
        raise JobFailure(f"No .jsonl input file was found under {uri}")
    files = []
    base = prefix if prefix.endswith("/") or not prefix.endswith(".jsonl") else ""
    for key, size in sorted(listed):
        if size > quotas.max_file_bytes:
            raise JobFailure(
                f"Input file s3://{bucket}/{key} is {size} bytes, above the batch inference "
                f"input file size quota ({quotas.max_file_bytes} bytes)"
            )
        relative = key[len(base) :].lstrip("/") if base else key.rsplit("/", 1)[-1]
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        files.append(InputFile(key, relative, _parse_lines(body, f"s3://{bucket}/{key}"), size))
    _check_quotas(files, quotas)
    return files


def _parse_lines(body: bytes, where: str) -> list[dict[str, Any]]:
    lines = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            raise JobFailure(f"{where} line {number}: the record is not valid JSON") from None
        if not isinstance(record, dict):
            raise JobFailure(f"{where} line {number}: the record is not a JSON object")
        if not isinstance(record.get("modelInput"), dict):
            raise JobFailure(f"{where} line {number}: modelInput is missing or not a JSON object")
        if "recordId" in record and not isinstance(record["recordId"], str):
            raise JobFailure(f"{where} line {number}: recordId is not a string")
        lines.append(record)
    return lines


def _check_quotas(files: list[InputFile], quotas: Quotas) -> None:
    total = sum(len(f.lines) for f in files)
    for f in files:
        if len(f.lines) > quotas.max_records_per_file:
            raise JobFailure(
                f"Input file {f.key} has {len(f.lines)} records, above the quota of records per "
                f"input file per batch inference job ({quotas.max_records_per_file})"
            )
    if total > quotas.max_records_per_job:
        raise JobFailure(
            f"The job has {total} records, above the quota of records per batch inference job "
            f"({quotas.max_records_per_job})"
        )
    if sum(f.size for f in files) > quotas.max_job_bytes:
        raise JobFailure(
            f"The input is above the batch inference job size quota ({quotas.max_job_bytes} bytes)"
        )
    if total < quotas.min_records_per_job:
        raise JobFailure(
            f"The job has {total} records, below the minimum number of records per batch "
            f"inference job ({quotas.min_records_per_job})"
        )


def _record_id(key: str, number: int) -> str:
    return hashlib.sha256(f"{key}\n{number}".encode()).hexdigest()[:11].upper()


def answer_line(fmt: str, model_id: str, record: dict[str, Any], generator: str) -> dict[str, Any]:
    """One output line: ``modelOutput`` from the stand-in, or the model's 400 ``error``."""
    line = {"recordId": record["recordId"], "modelInput": record["modelInput"]}
    line["generator"] = generator
    try:
        check_body(fmt, record["modelInput"], model_id)
    except BodyError as err:
        line["error"] = {"errorCode": 400, "errorMessage": str(err)}
        return line
    answer = generate(read_request(fmt, record["modelInput"]))
    line["modelOutput"] = response_body(fmt, answer, model_id)
    return line


@dataclass
class BatchRun:
    """One accepted job's work: the request, the S3 client of its role, and the knobs."""

    request: dict[str, Any]
    job_id: str
    fmt: str
    s3: Any
    quotas: Quotas
    should_stop: Callable[[], bool]
    records_before_timeout: int | None = None
    counts: RunCounts = field(default_factory=RunCounts)

    def validate(self) -> list[InputFile]:
        uri = self.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        files = read_input(self.s3, uri, self.quotas)
        self.counts.total = sum(len(f.lines) for f in files)
        return files

    def run(self, files: list[InputFile]) -> None:
        """Answer every record, then write the outputs and the manifest (also when stopped or
        cut short: what was processed is written)."""
        outputs: dict[str, list[dict[str, Any]]] = {f.relative: [] for f in files}
        halted = False
        try:
            for f, number, record in self._records(files):
                record.setdefault("recordId", _record_id(f.key, number))
                line = answer_line(self.fmt, self.request["modelId"], record, self._generator)
                outputs[f.relative].append(line)
                self.counts.processed += 1
                if "error" in line:
                    self.counts.errors += 1
                    continue
                self.counts.success += 1
                self.counts.input_tokens += _tokens(line["modelOutput"], "input")
                self.counts.output_tokens += _tokens(line["modelOutput"], "output")
        except JobHalted:
            halted = True
        self._write(outputs)
        if halted:
            raise JobHalted

    @property
    def _generator(self) -> str:
        return generator_label(self.request["modelId"])

    def _records(self, files: list[InputFile]) -> Iterator[tuple[InputFile, int, dict[str, Any]]]:
        for f in files:
            for number, record in enumerate(f.lines, start=1):
                if self.should_stop():
                    raise JobHalted
                limit = self.records_before_timeout
                if limit is not None and self.counts.processed >= limit:
                    self.counts.partial = True
                    return
                yield f, number, record

    def _write(self, outputs: dict[str, list[dict[str, Any]]]) -> None:
        out = self.request["outputDataConfig"]["s3OutputDataConfig"]
        bucket, prefix = split_uri(out["s3Uri"])
        folder = f"{prefix.rstrip('/')}/{self.job_id}" if prefix.strip("/") else self.job_id
        extra = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": out["s3EncryptionKeyId"]}
            if out.get("s3EncryptionKeyId")
            else {}
        )
        for relative, lines in outputs.items():
            shuffled = sorted(lines, key=lambda line: _shuffle_key(line["recordId"]))
            body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in shuffled)
            self.s3.put_object(
                Bucket=bucket, Key=f"{folder}/{relative}.out", Body=body.encode("utf-8"), **extra
            )
        manifest = json.dumps(self.counts.manifest(self._generator)).encode("utf-8")
        self.s3.put_object(Bucket=bucket, Key=f"{folder}/{MANIFEST}", Body=manifest, **extra)


def _shuffle_key(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()


def _tokens(body: dict[str, Any], which: str) -> int:
    """The token count a response body reports (each family names it its own way)."""
    usage = body.get("usage", {})
    names = {
        "input": ("input_tokens", "inputTokens", "prompt_token_count", "inputTextTokenCount"),
        "output": ("output_tokens", "outputTokens", "generation_token_count"),
    }[which]
    for name in names:
        for source in (usage, body):
            if isinstance(source.get(name), int):
                return int(source[name])
    if which == "output" and body.get("results"):
        return int(body["results"][0].get("tokenCount", 0))
    return 0
