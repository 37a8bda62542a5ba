"""How a job's input reaches its folder: every object under an S3 prefix, copied as SageMaker does.

Both kinds of job read S3 this way (training channels, transform input); S3 goes through boto3,
so in the embedded runtime the jobs read moto's bucket exactly as a real job reads S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.api_checks import split_s3_uri
from radimpress_workstation.job_backend.job_record import ContainerError


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
            s3.download_file(bucket, key, str(local))
            files.append(local)
    if not files:
        raise ContainerError(f"{where}: no object under {uri}")
    return files


def output_encryption(output_config: Mapping[str, Any]) -> dict[str, str]:
    """``ExtraArgs`` for a job's output: SageMaker encrypts with the request's ``KmsKeyId``
    (OutputDataConfig / TransformOutput, SageMaker API reference), else the bucket default."""
    key = output_config.get("KmsKeyId")
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key} if key else {}
