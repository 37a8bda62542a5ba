"""The RegisterModel state: a SageMaker model from the fine-tune, registered as a new version of
the stack's model package group, ``PendingManualApproval``.

Which fine-tuned model inference runs use is decided by approval only (``radimpress.registry``):
the promotion gate (``steps/promote``) or an operator approves a version. Registration also names
what the gate compares: the new version (``candidate``) and the Approved version inference runs
use today (``fine-tuned``), on the studies Ingest held out of training; with none held out, the
gate decides on the ``AutoApprove`` setting alone.

A retried RegisterModel creates nothing twice: the model by its name, the package version by its
ClientToken (the training job name; CreateModelPackage API reference: "ClientToken: A unique token
that guarantees that the call to this API is idempotent").
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from radimpress import jumpstart, registry
from radimpress.errors import JobFailed, aws_call, error_code
from radimpress.events import ModelRef, ModelsToCompare, RegisteredModel
from radimpress.layout import fine_tuned_archive_key
from radimpress.model_refs import approved_model_ref, local_name
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec

CANDIDATE = "candidate"
# The gate's transforms run on the held-out studies (a tenth of a training upload by default):
# hours, not the two days a training may take. A training and its gate share one execution, and
# this bound keeps the worst case under Step Functions' 25,000 history events
# (tests/unit/test_history_budget.py).
GATE_MAX_WAIT_SECONDS = 6 * 3600


def _trained_at(job: dict[str, Any]) -> str:
    """When the training finished (UTC ISO-8601); moment of registration if SageMaker omits it."""
    ended = job.get("TrainingEndTime") or job.get("LastModifiedTime")
    moment = ended if isinstance(ended, datetime) else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# The hyperparameters a reader compares first; all of them are behind the hash (a JumpStart job
# has about 40, over the API's 256-character metadata value) and in DescribeTrainingJob.
_KEY_HYPERPARAMETERS = ("epochs", "learning_rate", "batch_size", "seed", "max_output_length")


def _hyperparameter_metadata(hyperparameters: dict[str, Any]) -> dict[str, str]:
    """A few key hyperparameters (JSON-quoted as the SDK sends them: quotes taken off, which the
    metadata pattern refuses) and the SHA-256 of them all."""
    ordered = json.dumps(hyperparameters, sort_keys=True, separators=(",", ":"))
    found = {
        f"hp_{k}": str(hyperparameters[k]).strip('"')
        for k in _KEY_HYPERPARAMETERS
        if k in hyperparameters
    }
    found["hyperparameters_sha256"] = hashlib.sha256(ordered.encode()).hexdigest()
    return found


def _final_metrics(job: dict[str, Any]) -> dict[str, float]:
    """The job's last reported metrics (FinalMetricDataList), e.g. train and validation loss."""
    return {
        str(m["MetricName"]).replace(":", "_"): round(float(m["Value"]), 6)
        for m in job.get("FinalMetricDataList") or []
        if "MetricName" in m and "Value" in m
    }


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
    group: str,
    train_records: int = 0,
    holdout_key: str = "",
    max_wait_seconds: int = GATE_MAX_WAIT_SECONDS,
) -> RegisteredModel:
    """CreateModel from the training job's ``model.tar.gz``, then CreateModelPackage (pending)."""
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
    metadata = {
        "training_job": job_name,
        "training_run_id": run_id,
        "dataset": dataset,
        "spec": spec.name,
        "model_id": spec.model_id,
        "model_version": spec.model_version,
        "sagemaker_model": job_name,
        "trained_at": trained_at,
        "train_records": train_records or None,
        **_hyperparameter_metadata(job.get("HyperParameters") or {}),
        **_final_metrics(job),
    }
    # The Approved version inference runs use until this one is approved (read before ours
    # exists, so it is never this one).
    baseline = registry.latest_approved(sagemaker, group, matching=registry.trained_with(spec))
    package_arn = _create_package(sagemaker, group, request, metadata, job_name)
    package = registry.describe(sagemaker, package_arn)
    candidate = ModelRef(
        model_key=CANDIDATE,
        label=f"{CANDIDATE} (v{package.version})",
        model_name=job_name,
        role=CANDIDATE,
        name=local_name(spec.training["image_uri"]) or spec.model_id,
        version=spec.model_version,
        training_job=job_name,
        training_run_id=run_id,
        package_arn=package_arn,
        package_version=package.version,
    )
    gate = None
    if holdout_key:
        models = [candidate] + ([approved_model_ref(baseline, spec)] if baseline else [])
        gate = ModelsToCompare(
            models=models,
            records_key=holdout_key,
            has_references=True,
            max_wait_seconds=min(max_wait_seconds, GATE_MAX_WAIT_SECONDS),
        )
    return RegisteredModel(
        model_name=job_name,
        model_data_url=artifact,
        trained_at=trained_at,
        package_arn=package_arn,
        package_version=package.version,
        baseline_package_arn=baseline.arn if baseline else "",
        candidate=candidate,
        gate=gate,
    )


def _create_package(
    sagemaker: Any,
    group: str,
    model_request: dict[str, Any],
    metadata: dict[str, Any],
    job_name: str,
) -> str:
    """CreateModelPackage: the model's container and archive, the instance types it serves on,
    our metadata; idempotent through ClientToken."""
    container = model_request["PrimaryContainer"]
    inference = {
        "Containers": [
            {
                key: container[key]
                for key in ("Image", "ModelDataUrl", "Environment")
                if container.get(key)
            }
        ],
        "SupportedContentTypes": ["application/jsonlines", "application/json"],
        "SupportedResponseMIMETypes": ["application/jsonlines", "application/json"],
    }
    with aws_call(f"model package group {group}: create version for {job_name}"):
        response = sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"fine-tune {job_name}",
            InferenceSpecification=inference,
            ModelApprovalStatus=registry.PENDING,
            CustomerMetadataProperties=registry.encode_metadata(metadata),
            ClientToken=job_name,
        )
    return str(response["ModelPackageArn"])
