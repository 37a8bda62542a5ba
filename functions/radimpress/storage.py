"""Streaming JSON Lines to and from S3, so a file of any size costs a few MB of memory.

``S3LineWriter`` buffers lines into parts and switches to a multipart upload once the first part is
full (small files stay one ``put_object``); ``iter_jsonl`` reads an object line by line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from radimpress.errors import OutputMismatch, aws_call, error_code, is_precondition_failed

PART_BYTES = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB parts keep memory small
# Bytes per read when an object is streamed line by line. botocore's iter_lines reads 1 KiB at a
# time by default: a 50 MB score file took 50,000 reads, about a second of Publish's CPU.
LINE_CHUNK_BYTES = 1 << 16
KMS_KEY_VARIABLE = "RADIMPRESS_KMS_KEY_ARN"


def encryption_arguments() -> dict[str, str]:
    """The SSE-KMS request parameters every write of ours sends: the data key, named by ARN.

    The bucket policy refuses a write whose encryption header names anything but the data key
    (and ``aws:kms`` without a key id, which S3 would put under the account's aws/s3 key). Saying
    it on every write keeps each object under the data key even if the bucket's default changes.
    Managed transfers (``upload_fileobj``, ``copy``) pass these only through ``ExtraArgs``.
    Without a key (unit tests, a bare bucket) nothing is sent and default encryption applies.
    """
    key_arn = os.environ.get(KMS_KEY_VARIABLE, "")
    if not key_arn:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}


class S3LineWriter:
    """Write JSON lines (or raw bytes) to ``s3://bucket/key`` as a stream.

    Use as a context manager: on success the object is completed, on error the multipart
    upload is aborted so no half-written object or orphaned parts remain.
    """

    def __init__(
        self, s3: Any, bucket: str, key: str, content_type: str = "application/jsonl"
    ) -> None:
        self._s3, self.bucket, self.key = s3, bucket, key
        self._content_type = content_type
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.lines = 0
        self.bytes = 0

    def __enter__(self) -> S3LineWriter:
        return self

    def write_json(self, value: Any) -> None:
        self.write(json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n")
        self.lines += 1

    def write(self, data: bytes) -> None:
        self._buffer.write(data)
        self.bytes += len(data)
        if self._buffer.tell() >= PART_BYTES:
            self._flush_part()

    def _flush_part(self) -> None:
        with aws_call(f"s3://{self.bucket}/{self.key}: multipart upload"):
            if self._upload_id is None:
                self._upload_id = self._s3.create_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    ContentType=self._content_type,
                    **encryption_arguments(),
                )["UploadId"]
            number = len(self._parts) + 1
            etag = self._s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=self._buffer.getvalue(),
            )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer = io.BytesIO()

    def close(self) -> None:
        with aws_call(f"s3://{self.bucket}/{self.key}: write"):
            if self._upload_id is None:
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=self._buffer.getvalue(),
                    ContentType=self._content_type,
                    **encryption_arguments(),
                )
                return
            if self._buffer.tell():
                self._flush_part()
            self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        if self._upload_id is not None:
            with aws_call(f"s3://{self.bucket}/{self.key}: abort multipart upload"):
                self._s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
                )

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        # The error that got us here is the one to report; orphaned parts expire by lifecycle.
        with contextlib.suppress(Exception):
            self.abort()


def put_json(s3: Any, bucket: str, key: str, value: Any) -> None:
    with aws_call(f"s3://{bucket}/{key}: write"):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"),
            ContentType="application/json",
            **encryption_arguments(),
        )


def json_objects(
    lines: Iterable[str | bytes], where: str, error: type[Exception]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank JSON Lines line; any other line raises
    ``error`` naming ``where`` and the line number (never the line: it may be report text)."""
    for number, raw in json_lines(lines):
        yield number, json_object(raw, where, number, error)


def json_lines(lines: Iterable[str | bytes]) -> Iterator[tuple[int, str | bytes]]:
    """(line number, line) of the non-blank lines, unparsed: what ``json_objects`` parses."""
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, raw


def json_object(
    raw: str | bytes, where: str, number: int, error: type[Exception]
) -> dict[str, Any]:
    """One JSON Lines line as an object; anything else raises ``error`` naming ``where`` and the
    line number (never the line: it may be report text)."""
    try:
        value = json.loads(raw)
    except ValueError:  # invalid JSON, or an integer too long for Python to read
        raise error(f"{where} line {number}: not valid JSON") from None
    if not isinstance(value, dict):
        raise error(f"{where} line {number}: not a JSON object")
    return value


def body_lines(body: Any) -> Iterator[bytes]:
    """A streamed S3 body's lines, read ``LINE_CHUNK_BYTES`` at a time."""
    return body.iter_lines(chunk_size=LINE_CHUNK_BYTES)


def iter_jsonl(s3: Any, bucket: str, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank line of an S3 JSON Lines object."""
    with aws_call(f"s3://{bucket}/{key}: read"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    lines = _transient_reads(body_lines(body), f"s3://{bucket}/{key}: read")
    yield from json_objects(lines, f"s3://{bucket}/{key}", OutputMismatch)


def _transient_reads(lines: Iterator[bytes], what: str) -> Iterator[bytes]:
    """A streamed body's lines; a connection that breaks off mid-read is transient too."""
    while True:
        with aws_call(what):
            line = next(lines, None)
        if line is None:
            return
        yield line


# ---- conditional writes (S3 If-None-Match / If-Match): claims and the latest-model pointer --


def read_json(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
    """(object, ETag) of a small JSON object, or None when there is none."""
    try:
        with aws_call(f"s3://{bucket}/{key}: read"):
            response = s3.get_object(Bucket=bucket, Key=key)
            body = response["Body"].read()
    except ClientError as err:
        # Without s3:ListBucket a missing key reads as AccessDenied, not NoSuchKey.
        if error_code(err) in ("NoSuchKey", "404", "AccessDenied"):
            return None
        raise
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise OutputMismatch(f"s3://{bucket}/{key}: not a JSON object")
    return value, str(response.get("ETag", ""))


def put_json_if(
    s3: Any, bucket: str, key: str, value: Any, *, if_match: str | None = None
) -> str | None:
    """Write ``value`` only if the object is still as last read: ``if_match`` its ETag, or
    (None) absent. Returns the new ETag, or None when another writer got there first."""
    condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
    try:
        with aws_call(f"s3://{bucket}/{key}: conditional write"):
            response = s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"),
                ContentType="application/json",
                **condition,
                **encryption_arguments(),
            )
    except ClientError as err:
        # 412: the object changed (or exists); 409: a concurrent conditional write won;
        # NoSuchKey: If-Match on an object deleted since it was read.
        if is_precondition_failed(err) or error_code(err) == "NoSuchKey":
            return None
        raise
    return str(response.get("ETag", ""))


def delete_if(s3: Any, bucket: str, key: str, etag: str) -> bool:
    """Delete ``key`` only if it is still the version with ``etag``; False when it changed."""
    try:
        with aws_call(f"s3://{bucket}/{key}: conditional delete"):
            s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as err:
        if is_precondition_failed(err) or error_code(err) == "NoSuchKey":
            return False
        raise
    return True
