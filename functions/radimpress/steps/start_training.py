"""The StartTraining state: start the JumpStart fine-tune built from the resolved spec."""

from __future__ import annotations

import time
from typing import Any

from radimpress import jumpstart
from radimpress.errors import SpecError
from radimpress.events import JobStarted
from radimpress.layout import FINE_TUNED_OUTPUT_PREFIX, RunKeys
from radimpress.sagemaker_jobs import create_once
from radimpress.settings import Settings
from radimpress.spec import ModelSpec


def start_training(
    sagemaker: Any,
    bucket: str,
    spec: ModelSpec,
    settings: Settings,
    *,
    run_id: str,
    dataset: str,
    max_wait_seconds: int | None = None,
) -> tuple[JobStarted, bool]:
    """Create the training job once; returns the job to poll and whether this call created it.

    The job name derives from the run id, so a retried step finds its own job. Its maximum run
    time is at most the execution's wait bound, so SageMaker stops a job nobody watches any more.
    The job writes its archive under ``models/`` (not ``runs/``, which expires), where the
    registered model serves from: RegisterModel never copies the ~11 GB FLAN-T5 XL archive.
    """
    if spec.resolved_offline and not settings.offline_spec_allowed:
        raise SpecError(
            f"model spec {spec.name} was resolved from an offline metadata fixture (its training "
            "half is a sibling model's metadata): run `make resolve-jumpstart REGION="
            f"{settings.region}` with AWS credentials, commit the spec and deploy again"
        )
    keys = RunKeys(run_id)
    job_name = jumpstart.resource_name(settings.resource_prefix, "ft", run_id)
    training = jumpstart.build_training_request(
        spec,
        job_name=job_name,
        role_arn=settings.require_role(),
        train_uri=f"s3://{bucket}/{keys.train_data_prefix}",
        output_uri=f"s3://{bucket}/{FINE_TUNED_OUTPUT_PREFIX}",
        region=settings.region,
        instance_type=settings.training_instance_type,
        epochs=settings.epochs,
        kms_key_arn=settings.kms_key_arn,
        tags={"radimpress:run-id": run_id, "radimpress:dataset": dataset},
        max_runtime_seconds=max_wait_seconds,
    )
    created = create_once(
        sagemaker.create_training_job, training, f"training job {job_name}: create"
    )
    started = JobStarted(kind="training", job_name=job_name, started_epoch=int(time.time()))
    return started, created
