"""A kept model put back into a new embedded stack, registered as a training run leaves it.

``radimpress run --model-from RUN_DIR`` trains nothing. Before its inference execution, for each
model kept in RUN_DIR (``trained_models``), this does what the end of a training execution did:

1. the archive goes where the training job wrote it, ``models/<job>/output/model.tar.gz`` in the
   stack's bucket, written as that job would write it: as the SageMaker execution role, with the
   job's output encryption (``OutputDataConfig.KmsKeyId``), so the bucket policy decides;
2. the SageMaker calls the handlers make answer DescribeTrainingJob for that job with the
   description the run kept (``RestoredTrainingJobs``; bucket, role and key rebased onto this
   stack's), so no job runs;
3. the stack's own RegisterModel function is invoked with the event the state machine gives it
   (bucket, the training run id, dataset, job name): RegisterModel's normal code creates the
   SageMaker model and a model package version of the stack's group, pending approval, exactly
   as after training;
4. that version is approved as an operator approves one (UpdateModelPackage,
   ``ModelApprovalStatus=Approved``, the reason in ApprovalDescription): asking for RUN_DIR's
   model by name is the operator's decision, and the promotion gate, which judges a new
   fine-tune on held-out studies, has no new fine-tune to judge.

ResolveModels then picks it up in the inference execution like any registered fine-tune;
``check_used`` confirms afterwards that the run really compared it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from radimpress_workstation.trained_models import KeptModel

REGISTER_FUNCTION = "RegisterModelFunction"  # template.yaml's logical id
ROLE_VARIABLE = "RADIMPRESS_SAGEMAKER_ROLE_ARN"
KMS_VARIABLE = "RADIMPRESS_KMS_KEY_ARN"
_TIMES = ("CreationTime", "LastModifiedTime", "TrainingStartTime", "TrainingEndTime")


class ModelRestoreFailed(RuntimeError):
    """The kept model could not be registered in the new stack, or the run did not use it."""


class RestoredTrainingJobs:
    """The local job backend, answering DescribeTrainingJob also for the jobs whose models were
    restored (as they were described when they ended); every other call is the backend's."""

    def __init__(self, backend: Any, described: Mapping[str, dict[str, Any]]) -> None:
        self._backend = backend
        self._described = dict(described)

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        from radimpress_workstation.embedded.aws_authorization import require_sagemaker_call

        described = self._described.get(TrainingJobName)
        if described is None:
            return self._backend.describe_training_job(TrainingJobName=TrainingJobName)
        require_sagemaker_call("DescribeTrainingJob", {"TrainingJobName": TrainingJobName})
        return json.loads(json.dumps(described, default=str), object_hook=_times)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _times(mapping: dict[str, Any]) -> dict[str, Any]:
    """The description's times back as datetimes, as boto3 returns them."""
    for key in _TIMES:
        if isinstance(mapping.get(key), str):
            mapping[key] = datetime.fromisoformat(mapping[key])
    return mapping


def _register_function(stack: Any) -> Any:
    for function in stack.functions.values():
        if function.logical_id == REGISTER_FUNCTION:
            return function
    raise ModelRestoreFailed(f"template.yaml has no {REGISTER_FUNCTION} to register the model")


def rebased(described: Mapping[str, Any], bucket: str, role: str, kms_key: str) -> dict[str, Any]:
    """The kept DescribeTrainingJob moved onto this stack: its bucket, role and KMS key (each
    embedded stack names them anew), the job's name, times and settings unchanged."""
    old_bucket = str(described["ModelArtifacts"]["S3ModelArtifacts"]).split("/", 3)[2]
    text = json.dumps(described).replace(f"s3://{old_bucket}/", f"s3://{bucket}/")
    moved: dict[str, Any] = json.loads(text)
    moved["RoleArn"] = role
    for section in ("OutputDataConfig", "ResourceConfig"):
        config = moved.get(section) or {}
        for field in ("KmsKeyId", "VolumeKmsKeyId"):
            if field in config:
                config[field] = kms_key
    return moved


def restore(stack: Any, kept: KeptModel, backend_factory: Any) -> dict[str, Any]:
    """Register ``kept`` in ``stack`` as its training run did; returns RegisterModel's answer.

    ``backend_factory`` gives the local job backend the handlers use as SageMaker; from here on
    the handlers get it wrapped in ``RestoredTrainingJobs``."""
    from radimpress import clients
    from radimpress.layout import fine_tuned_archive_key
    from radimpress_workstation.embedded.aws_authorization import job_s3
    from radimpress_workstation.job_backend.s3_files import output_encryption

    kept.check_archive()
    function = _register_function(stack)
    environment = function.environment
    bucket = stack.bucket
    described = rebased(
        kept.training_job, bucket, environment[ROLE_VARIABLE], environment.get(KMS_VARIABLE, "")
    )
    key = fine_tuned_archive_key(kept.job_name)
    described["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://{bucket}/{key}"}
    s3 = job_s3(described["RoleArn"], lambda: stack.client("s3"))
    extra = output_encryption(described.get("OutputDataConfig") or {})
    s3.upload_file(str(kept.archive), bucket, key, ExtraArgs=extra)
    clients.override(
        "sagemaker", lambda: RestoredTrainingJobs(backend_factory(), {kept.job_name: described})
    )
    event = {
        "bucket": bucket,
        "run_id": kept.training_run_id,
        "dataset": kept.dataset,
        "job_name": kept.job_name,
    }
    response = stack.client("lambda").invoke(
        FunctionName=function.name, Payload=json.dumps(event).encode()
    )
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise ModelRestoreFailed(
            f"RegisterModel refused the model of {kept.folder}: "
            f"{answer.get('errorType', 'Error')}: {answer.get('errorMessage', '')}"
        )
    if answer.get("package_arn"):
        _approve(str(answer["package_arn"]), kept)
    return dict(answer)


def _approve(package_arn: str, kept: KeptModel) -> None:
    """Approve the package version RegisterModel created for ``kept``, as an operator would."""
    from radimpress import clients

    clients.sagemaker().update_model_package(
        ModelPackageArn=package_arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=(
            f"radimpress run --model-from: the model run {kept.run_id} trained "
            f"(training job {kept.job_name}), asked for by name"
        )[:1024],
    )


def check_used(output: Mapping[str, Any], kept: KeptModel) -> None:
    """The inference execution compared the restored model (ResolveModels chose its training
    job), or ModelRestoreFailed: a run labelled as reusing RUN_DIR's model must have used it."""
    items = (output.get("models") or {}).get("items") or []
    used = [item.get("training_job") for item in items if item.get("training_job")]
    if kept.job_name not in used:
        chosen = ", ".join(str(u) for u in used) or "no fine-tuned model"
        raise ModelRestoreFailed(
            f"the model of {kept.folder} (training job {kept.job_name}) was registered, but "
            f"ResolveModels chose {chosen}"
        )
