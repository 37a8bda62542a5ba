"""How a job's input reaches its folder and its output reaches S3, as SageMaker does.

Both kinds of job read S3 this way (training channels, transform input); S3 goes through boto3,
so in the embedded runtime the jobs read moto's bucket exactly as a real job reads S3.

Transfers go one part at a time (``TransferConfig(max_concurrency=1)``): the local jobs share the
process with moto, which holds each part of a request in memory several times over, and boto3's
default of 10 concurrent 8 MB parts lifted a 1,000,000-record run's peak RSS by about 300 MB
while the transform job uploaded its output (bench/local_e2e.py --memory). The embedded stack's
own uploads do the same (EmbeddedStack.upload).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.api_checks import split_s3_uri
from radimpress_workstation.job_backend.job_record import ContainerError


def _one_part_at_a_time() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(max_concurrency=1)


def upload_output(s3: Any, path: Path, bucket: str, key: str, extra: Mapping[str, str]) -> None:
    """One job output file to ``s3://bucket/key`` (multipart past 8 MB, one part at a time)."""
    s3.upload_file(str(path), bucket, key, ExtraArgs=dict(extra), Config=_one_part_at_a_time())


def download_prefix(s3: Any, uri: str, target: Path, where: str) -> list[Path]:
    """Copy every object under an S3 prefix into ``target``, keeping the key after it."""
    bucket, prefix = split_s3_uri(uri, where, "")
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            # The part of the key after the prefix; a prefix naming one file keeps its name.
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            local = target / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(local), Config=_one_part_at_a_time())
            files.append(local)
    if not files:
        raise ContainerError(f"{where}: no object under {uri}")
    return files


def output_encryption(output_config: Mapping[str, Any]) -> dict[str, str]:
    """``ExtraArgs`` for a job's output: SageMaker encrypts with the request's ``KmsKeyId``
    (OutputDataConfig / TransformOutput, SageMaker API reference), else the bucket default."""
    key = output_config.get("KmsKeyId")
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key} if key else {}
