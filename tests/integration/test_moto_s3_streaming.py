"""moto's S3 with big objects kept on disk (``embedded.moto_s3_streaming``).

The patched S3 must answer exactly as moto does (ETags, checksums, lengths, ranges, versions,
errors) while a big object's upload and download use memory bounded by the part size, not by the
object's size.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import flask_cors  # noqa: F401  the local extra declares it; moto's threaded server needs it
import pytest
from botocore.exceptions import ClientError

from radimpress_workstation.embedded import moto_s3_streaming

MB = 1 << 20
# Parts over moto's 5 MB spool threshold (on disk) and a last one under it (in memory).
PARTS = [5 * MB + 123, 5 * MB + 4567, 700_001]
RANGES = [
    "bytes=0-99",
    "bytes=-100",
    "bytes=6000000-",
    f"bytes={PARTS[0] - 10}-{PARTS[0] + 10}",  # across a part boundary
    "bytes=100-50",  # begin > end: the whole object
    "bytes=0-1,5-6",  # several ranges: moto answers with the whole object
    "bytes=0-",
    "bytes=99999999-",  # past the end: InvalidRange
]
CHECKSUMS: list[dict[str, str]] = [
    {},
    {"ChecksumAlgorithm": "CRC32"},
    {"ChecksumAlgorithm": "CRC32C"},
    {"ChecksumAlgorithm": "SHA1"},
    {"ChecksumAlgorithm": "SHA256"},
    {"ChecksumAlgorithm": "CRC64NVME"},
    {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"},
]


def payload(size: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart(s3: Any, bucket: str, key: str, seed: int, **extra: str) -> dict[str, Any]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    part_args = {"ChecksumAlgorithm": extra["ChecksumAlgorithm"]} if extra else {}
    parts = []
    for number, size in enumerate(PARTS, start=1):
        etag = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            PartNumber=number,
            Body=payload(size, seed * 10 + number),
            **part_args,
        )["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    return {k: v for k, v in done.items() if k.startswith(("ETag", "Checksum"))}


def get(s3: Any, bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = s3.get_object(Bucket=bucket, Key=key, **kwargs)
    except ClientError as err:
        return {"error": err.response["Error"]["Code"]}
    body = response["Body"].read()
    fields = ("ContentLength", "ContentRange", "ETag", "ChecksumType", "ResponseMetadata")
    seen = {k: v for k, v in response.items() if k in fields or k.startswith("Checksum")}
    seen["status"] = seen.pop("ResponseMetadata")["HTTPStatusCode"]
    return {**seen, "md5": digest(body), "length": len(body)}


def error_code(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "none"


def observe(s3: Any) -> dict[str, Any]:
    """What a client sees of multipart objects in moto: the fingerprint compared below."""
    seen: dict[str, Any] = {}
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for i, extra in enumerate(CHECKSUMS):
        key = f"checksum-{i}"
        seen[f"{key}/complete"] = multipart(s3, "versioned", key, seed=i, **extra)
        seen[f"{key}/get"] = get(s3, "versioned", key, ChecksumMode="ENABLED")
    for range_ in RANGES:
        seen[f"range {range_}"] = get(s3, "versioned", "checksum-1", Range=range_)
    head = s3.head_object(Bucket="versioned", Key="checksum-0", Range="bytes=10-19")
    seen["head range"] = [head["ContentLength"], head["ContentRange"], head["ETag"]]
    seen["part 1"] = get(s3, "versioned", "checksum-0", PartNumber=1)
    # Versions: three versions of one key, each read by its id.
    versions = [s3.put_object(Bucket="versioned", Key="v", Body=b"small")["VersionId"]]
    for seed in (100, 101):
        multipart(s3, "versioned", "v", seed=seed)
        versions.append(s3.head_object(Bucket="versioned", Key="v")["VersionId"])
    seen["versions"] = [get(s3, "versioned", "v", VersionId=v) for v in versions]
    listed = s3.list_object_versions(Bucket="versioned", Prefix="v")["Versions"]
    seen["listed"] = sorted((v["Size"], v["ETag"], v["IsLatest"]) for v in listed)
    seen["latest"] = get(s3, "versioned", "v")
    # An open body stays the version it started reading when the key is overwritten or deleted.
    s3.create_bucket(Bucket="plain")
    multipart(s3, "plain", "k", seed=7)
    open_bodies = [s3.get_object(Bucket="plain", Key="k")["Body"] for _ in range(2)]
    multipart(s3, "plain", "k", seed=8)
    first = open_bodies[0].read()
    s3.delete_object(Bucket="plain", Key="k")
    seen["read after overwrite and delete"] = [digest(first), digest(open_bodies[1].read())]
    # Errors, in moto's order.
    upload = s3.create_multipart_upload(Bucket="plain", Key="bad")["UploadId"]
    etags = [
        s3.upload_part(Bucket="plain", Key="bad", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, b"tiny"), (2, b"x" * 10))
    ]

    def complete(parts: list[dict[str, Any]]) -> Callable[[], Any]:
        return lambda: s3.complete_multipart_upload(
            Bucket="plain", Key="bad", UploadId=upload, MultipartUpload={"Parts": parts}
        )

    seen["errors"] = [
        error_code(complete([{"ETag": '"0"', "PartNumber": 1}])),
        error_code(
            complete([{"ETag": etags[0], "PartNumber": 1}, {"ETag": '"0"', "PartNumber": 2}])
        ),
        error_code(complete([{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)])),
        error_code(complete([])),
    ]
    return seen


@contextmanager
def mocked(streaming: bool) -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        if streaming:
            moto_s3_streaming.install()
        try:
            yield boto3.client("s3", region_name="us-east-1")
        finally:
            if streaming:
                moto_s3_streaming.uninstall()


@pytest.fixture(scope="module")
def moto_as_shipped() -> dict[str, Any]:
    with mocked(streaming=False) as s3:
        return observe(s3)


def test_mock_aws_answers_as_moto_does(moto_as_shipped: dict[str, Any]) -> None:
    with mocked(streaming=True) as s3:
        seen = observe(s3)
        body = s3.get_object(Bucket="versioned", Key="checksum-0")["Body"]
        assert isinstance(body._raw_stream, moto_s3_streaming.StreamingRaw)  # served from disk
    assert seen == moto_as_shipped
    # ... and the fingerprint is not vacuous.
    assert seen["range bytes=-100"]["ContentLength"] == 100
    assert seen["range bytes=99999999-"] == {"error": "InvalidRange"}
    assert seen["checksum-0/complete"]["ETag"].endswith('-3"')
    assert seen["errors"] == ["InvalidPart", "InvalidPart", "EntityTooSmall", "MalformedXML"]
    assert len({v["md5"] for v in seen["versions"]}) == 3


def test_server_answers_as_moto_does(
    moto_as_shipped: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    streamed = []
    iterate = moto_s3_streaming.FileBody.__iter__

    def counted(self: moto_s3_streaming.FileBody) -> Iterator[bytes]:
        streamed.append(len(self))
        return iterate(self)

    monkeypatch.setattr(moto_s3_streaming.FileBody, "__iter__", counted)
    from moto.core.base_backend import BackendDict
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    BackendDict.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    moto_s3_streaming.install()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        seen = observe(s3)
    finally:
        moto_s3_streaming.uninstall()
        server.stop()
        BackendDict.reset()
    assert seen == moto_as_shipped
    assert streamed, "no GetObject body was streamed from disk through werkzeug"


def test_uninstall_restores_moto() -> None:
    from moto.core import botocore_stubber
    from moto.s3 import models, responses

    before = [models.FakeMultipart.complete, responses.S3Response.get_object]
    before += [models.FakeKey.__dict__["value"], botocore_stubber.MockRawResponse]
    moto_s3_streaming.install()
    moto_s3_streaming.install()
    moto_s3_streaming.uninstall()
    assert models.FakeMultipart.complete is not before[0]  # still one install left
    moto_s3_streaming.uninstall()
    after = [models.FakeMultipart.complete, responses.S3Response.get_object]
    after += [models.FakeKey.__dict__["value"], botocore_stubber.MockRawResponse]
    assert after == before


# ---- memory ---------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import hashlib, json, os, resource, sys, tempfile
    import boto3
    from boto3.s3.transfer import TransferConfig
    from moto import mock_aws
    from radimpress_workstation.embedded import moto_s3_streaming

    megabytes = int(sys.argv[1])
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as folder, mock_aws():
        moto_s3_streaming.install()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="big")
        s3.put_object(Bucket="big", Key="warm-up", Body=b"x")
        s3.get_object(Bucket="big", Key="warm-up")["Body"].read()
        path, back = os.path.join(folder, "up"), os.path.join(folder, "down")
        written = hashlib.md5()
        with open(path, "wb") as out:
            for i in range(megabytes):
                block = hashlib.sha256(str(i).encode()).digest() * 32768
                written.update(block)
                out.write(block)
        before = peak()
        one_part_at_a_time = TransferConfig(max_concurrency=1)  # as EmbeddedStack.upload does
        s3.upload_file(path, "big", "object", Config=one_part_at_a_time)
        read = hashlib.md5()
        for chunk in s3.get_object(Bucket="big", Key="object")["Body"].iter_chunks(1 << 16):
            read.update(chunk)
        s3.download_file("big", "object", back)  # ranged GETs, in parallel
        with open(back, "rb") as copy:
            ranged = hashlib.md5(copy.read(1 << 20))
            while chunk := copy.read(1 << 20):
                ranged.update(chunk)
        same = written.hexdigest() == read.hexdigest() == ranged.hexdigest()
        print(json.dumps({"growth_mb": peak() - before, "same": same}))
    """
)


def peak_growth(megabytes: int) -> float:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(megabytes)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["same"], "the object read back differs from the file uploaded"
    return float(result["growth_mb"])


def test_big_object_memory_is_bounded_not_proportional() -> None:
    """Upload (multipart), GET and ranged download of 48 MB and 192 MB objects: the peak RSS
    grows by about the same few parts' worth (moto as shipped: ~3x the object, 600+ MB)."""
    small, large = peak_growth(48), peak_growth(192)
    assert large < 120, f"192 MB object: peak RSS grew {large:.0f} MB"
    assert large - small < 40, f"peak growth {small:.0f} MB at 48 MB, {large:.0f} MB at 192 MB"
