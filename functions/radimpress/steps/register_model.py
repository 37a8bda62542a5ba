"""The RegisterModel state: a SageMaker model from the fine-tune, and the latest-model pointer.

Several trainings may finish close together, and their RegisterModel Lambdas may run in any
order. The pointer names the model whose training *finished* last (SageMaker's
``TrainingEndTime``, ties broken by job name), and it changes only by compare-and-swap: read it
with its ETag, decide, then write with ``If-Match`` (or ``If-None-Match: *`` when there is none).
A writer that lost the race reads again and decides again, so an older model can never replace a
newer one, whatever order the Lambdas run in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from radimpress import jumpstart
from radimpress.errors import JobFailed, TransientAwsError, aws_call, error_code
from radimpress.events import RegisteredModel
from radimpress.layout import LATEST_POINTER, fine_tuned_archive_key
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec
from radimpress.storage import put_json_if, read_json

CAS_ATTEMPTS = 8  # each lost race means another model registered meanwhile: rare, and bounded


def _trained_at(job: dict[str, Any]) -> str:
    """When the training finished (UTC ISO-8601); moment of registration if SageMaker omits it."""
    ended = job.get("TrainingEndTime") or job.get("LastModifiedTime")
    moment = ended if isinstance(ended, datetime) else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _order(pointer: dict[str, Any]) -> tuple[str, str]:
    """Newer finished training sorts higher; a pointer from before ``trained_at`` sorts lowest."""
    return str(pointer.get("trained_at") or ""), str(pointer.get("training_job") or "")


def move_pointer(s3: Any, bucket: str, pointer: dict[str, Any]) -> bool:
    """Point ``models/latest-fine-tuned.json`` at ``pointer`` unless a newer model holds it.

    Returns True when the pointer names this model afterwards.
    """
    for _ in range(CAS_ATTEMPTS):
        current = read_json(s3, bucket, LATEST_POINTER)
        etag = None
        if current is not None:
            held, etag = current
            if held.get("training_job") == pointer["training_job"]:
                return True  # a retried RegisterModel: already done
            if _order(held) > _order(pointer):
                return False  # a model that finished later is already the latest
        if put_json_if(s3, bucket, LATEST_POINTER, pointer, if_match=etag):
            return True
    raise TransientAwsError(
        f"s3://{bucket}/{LATEST_POINTER}: changed under {CAS_ATTEMPTS} attempts to update it"
    )


def require_archive(s3: Any, bucket: str, artifact: str, job_name: str) -> None:
    """The model serves from the training job's own archive under ``models/``: check it is
    there (a HEAD, not a copy of ~11 GB), so a missing one fails here and not in a transform.

    Without s3:ListBucket, S3 answers a missing key with 403 rather than 404, so both mean
    missing here (S3 API reference, HeadObject: "Permissions").
    """
    key = fine_tuned_archive_key(job_name)
    if artifact != f"s3://{bucket}/{key}":
        raise JobFailed(
            f"training job {job_name}: model artifact {artifact} is not s3://{bucket}/{key} "
            "(OutputDataConfig.S3OutputPath must be the bucket's models/ prefix)"
        )
    try:
        with aws_call(f"{artifact}: check"):
            s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
            raise JobFailed(
                f"training job {job_name}: model artifact {artifact} is missing"
            ) from None
        raise


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
    require_archive(s3, bucket, artifact, job_name)
    request = jumpstart.build_fine_tuned_model_request(
        spec,
        model_name=job_name,
        model_data_url=artifact,
        role_arn=role_arn,
        tags={"radimpress:run-id": run_id, "radimpress:dataset": dataset},
    )
    create_once(sagemaker.create_model, request, f"model {job_name}: create")
    trained_at = _trained_at(job)
    pointer = {
        "model_name": job_name,
        "model_data_url": artifact,
        "training_job": job_name,
        "run_id": run_id,
        "dataset": dataset,
        "spec": spec.name,
        "model_id": spec.model_id,
        "model_version": spec.model_version,
        "trained_at": trained_at,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    latest = move_pointer(s3, bucket, pointer)
    return RegisteredModel(
        model_name=job_name,
        model_data_url=artifact,
        pointer_key=LATEST_POINTER,
        trained_at=trained_at,
        latest=latest,
    )
