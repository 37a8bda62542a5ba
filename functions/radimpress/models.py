"""Which models an inference run compares, and registering a fine-tuned one.

The pre-trained model comes from the spec (created once, under a name derived from the spec);
the latest fine-tuned model is whatever ``models/latest-fine-tuned.json`` points at, if it was
trained with the same spec.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from radimpress import jumpstart
from radimpress.errors import JobFailed, aws_call
from radimpress.jobs import create_once
from radimpress.spec import ModelSpec
from radimpress.storage import put_json

LATEST_POINTER = "models/latest-fine-tuned.json"
PRETRAINED = "pre-trained"
FINE_TUNED = "fine-tuned"


def register_fine_tuned(
    sagemaker: Any,
    s3: Any,
    bucket: str,
    spec: ModelSpec,
    *,
    job_name: str,
    role_arn: str,
    run_id: str,
    dataset: str,
) -> dict[str, Any]:
    """CreateModel from the training job's ``model.tar.gz`` and point the latest pointer at it."""
    with aws_call(f"training job {job_name}: describe"):
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
    artifact = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
    if not artifact.endswith(".tar.gz"):
        raise JobFailed(
            f"training job {job_name}: model artifact {artifact or '(none)'} is not a "
            "model.tar.gz (OutputDataConfig.CompressionType must be GZIP)"
        )
    request = jumpstart.build_fine_tuned_model_request(
        spec,
        model_name=job_name,
        model_data_url=artifact,
        role_arn=role_arn,
        tags={"radimpress:run-id": run_id, "radimpress:dataset": dataset},
    )
    create_once(sagemaker.create_model, request, f"model {job_name}: create")
    pointer = {
        "model_name": job_name,
        "model_data_url": artifact,
        "training_job": job_name,
        "run_id": run_id,
        "dataset": dataset,
        "spec": spec.name,
        "model_id": spec.model_id,
        "model_version": spec.model_version,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    put_json(s3, bucket, LATEST_POINTER, pointer)
    return {"model_name": job_name, "model_data_url": artifact, "pointer_key": LATEST_POINTER}


def _latest_fine_tuned(s3: Any, bucket: str, spec: ModelSpec) -> dict[str, Any] | None:
    try:
        with aws_call(f"s3://{bucket}/{LATEST_POINTER}: read"):
            body = s3.get_object(Bucket=bucket, Key=LATEST_POINTER)["Body"].read()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
            return None
        raise
    pointer = json.loads(body)
    same_model = pointer.get("model_id") == spec.model_id and pointer.get("spec") == spec.name
    return pointer if same_model else None


def resolve_models(
    sagemaker: Any, s3: Any, bucket: str, spec: ModelSpec, *, prefix: str, role_arn: str
) -> list[dict[str, str]]:
    """The models to compare: the spec's pre-trained model, then the latest fine-tuned one."""
    request = jumpstart.build_pretrained_model_request(spec, prefix=prefix, role_arn=role_arn)
    create_once(sagemaker.create_model, request, f"model {request['ModelName']}: create")
    models = [{"model_key": PRETRAINED, "label": PRETRAINED, "model_name": request["ModelName"]}]
    latest = _latest_fine_tuned(s3, bucket, spec)
    if latest:
        models.append(
            {"model_key": FINE_TUNED, "label": FINE_TUNED, "model_name": latest["model_name"]}
        )
    return models
