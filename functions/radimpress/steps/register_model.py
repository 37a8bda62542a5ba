"""The RegisterModel state: a SageMaker model from the fine-tune, and the latest-model pointer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from radimpress import jumpstart
from radimpress.errors import JobFailed, aws_call
from radimpress.events import RegisteredModel
from radimpress.layout import LATEST_POINTER
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec
from radimpress.storage import put_json


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
) -> RegisteredModel:
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
    return RegisteredModel(model_name=job_name, model_data_url=artifact, pointer_key=LATEST_POINTER)
