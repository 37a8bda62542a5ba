"""The stand-in artifacts of the public ``jumpstart-cache-prod-<region>`` bucket.

That bucket does not exist in moto: when a request names one of its artifacts the double writes a
stand-in there (``seed_cache``), laid out as the real artifact is.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from radimpress_workstation.job_backend.jumpstart.metadata import JumpStartVersion, catalog

STANDIN_FILE = "radimpress-standin.json"
CODE_DIR = "code"
INFERENCE_SCRIPT = (
    "# JumpStart text2text inference.py (radimpress stand-in): the Hugging Face inference\n"
    "# toolkit imports it from <model dir>/code. Request {'text_inputs': str | [str],\n"
    "# 'max_length', 'num_beams', ...}; response {'generated_texts': [str, ...]}.\n"
    "CONTRACT = 'jumpstart-text2text-1.x'\n"
)
TRAINING_SCRIPT = "# JumpStart text2text transfer_learning.py (radimpress stand-in)\n"
CACHE_URI = re.compile(r"^s3://jumpstart-cache-prod-(?P<region>[a-z0-9-]+)/(?P<key>.+)$")


def _tar_gz(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def weights(version: JumpStartVersion, **extra: Any) -> dict[str, str]:
    """The files a Hugging Face model directory holds, weights replaced by the stand-in's state."""
    config = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"}
    standin = {"model_id": version.model_id, "version": version.version, **extra}
    return {"config.json": json.dumps(config), STANDIN_FILE: json.dumps(standin)}


def cache_object(key: str) -> bytes | None:
    """The stand-in for the JumpStart artifact ``key``, laid out as the real one; None if unknown.

    Prepacked hosting artifacts carry ``code/inference.py``; the plain ones do not (the SDK
    repacks ``hosting_script_key`` into them); script tarballs hold the entry point.
    """
    for version in catalog():
        raw = version.raw
        if key == raw.get("hosting_prepacked_artifact_key") and key.endswith(".tar.gz"):
            return _tar_gz({**weights(version), f"{CODE_DIR}/inference.py": INFERENCE_SCRIPT})
        if key == raw.get("hosting_artifact_key") and key.endswith(".tar.gz"):
            return _tar_gz(weights(version))
        if key == raw.get("training_artifact_key"):
            return _tar_gz(weights(version))
        if key in version.training_scripts:
            return _tar_gz({"transfer_learning.py": TRAINING_SCRIPT})
        if key == raw.get("hosting_script_key"):
            return _tar_gz({"inference.py": INFERENCE_SCRIPT})
    return None


def seed_cache(s3: Any, uri: str) -> None:
    """Write the stand-in of a ``jumpstart-cache-prod-<region>`` artifact into (moto's) S3."""
    match = CACHE_URI.match(uri)
    body = cache_object(match["key"]) if match else None
    if match is None or body is None:
        return  # not a known JumpStart artifact: the job reads S3 and fails as it would
    bucket = f"jumpstart-cache-prod-{match['region']}"
    try:
        s3.head_object(Bucket=bucket, Key=match["key"])
        return
    except botocore.exceptions.ClientError:  # absent bucket or key: create below
        pass
    try:
        config = {}
        if match["region"] != "us-east-1":
            config = {"CreateBucketConfiguration": {"LocationConstraint": match["region"]}}
        s3.create_bucket(Bucket=bucket, **config)
    except botocore.exceptions.ClientError:  # already there (another job seeded it)
        pass
    s3.put_object(Bucket=bucket, Key=match["key"], Body=body)
