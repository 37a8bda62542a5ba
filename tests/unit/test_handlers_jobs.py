"""StartTraining, JobStatus, RegisterModel, ResolveModels and StartTransform against moto."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from handler_support import BUCKET, ROLE, jsonl

from radimpress import clients
from radimpress.errors import JobFailed, JobWaitExceeded, TransientAwsError
from radimpress.handlers import (
    ingest,
    job_status,
    register_model,
    resolve_models,
    start_training,
    start_transform,
)
from radimpress.sagemaker_jobs import create_once
from radimpress.steps.job_status import check_job


def ingested(aws, context, route: str, run_id: str) -> dict:
    reports = [
        {"study_id": f"s{i}", "findings": f"Finding XXXX {i}.", "impression": f"Impression {i}."}
        for i in range(3)
    ]
    key = f"incoming/{route}/demo/{run_id}.jsonl"
    aws.put(key, jsonl(reports))
    event = {"bucket": BUCKET, "key": key, "run_id": run_id, "started_at": ""}
    return ingest.handler(event, context)


def train(aws, context, run_id: str = "run-t") -> dict:
    result = ingested(aws, context, "train", run_id)
    event = {"bucket": BUCKET, "run_id": run_id, "dataset": "demo", "records": result["records"]}
    return start_training.handler(event, context)


def test_start_training_sends_the_jumpstart_request(aws, context):
    started = train(aws, context)
    assert started["kind"] == "training" and started["job_name"].startswith("radimpress-ft-")
    job = aws.sagemaker.describe_training_job(TrainingJobName=started["job_name"])
    assert job["RoleArn"] == ROLE
    assert job["HyperParameters"]["epochs"] == '"3"'
    # Under models/ (kept), not runs/ (expires): the registered model serves from it as it is.
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/models/"
    assert job["OutputDataConfig"]["CompressionType"] == "GZIP"
    channel = job["InputDataConfig"][0]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/runs/run-t/train/data/"


def test_retried_start_reuses_the_existing_job(context):
    calls = []

    def create(**request):
        calls.append(request["TrainingJobName"])
        raise ClientError(
            {"Error": {"Code": "ResourceInUse", "Message": "Training job names must be unique"}},
            "CreateTrainingJob",
        )

    assert create_once(create, {"TrainingJobName": "j"}, "training job j") is False
    assert calls == ["j"]


def test_job_status_completed_with_moto(aws, context):
    started = train(aws, context)
    event = {**started, "max_wait_seconds": 3600}
    assert job_status.handler(event, context)["status"] == "Completed"


class FakeSageMaker:
    def __init__(self, status: str, reason: str | None = None) -> None:
        self.status, self.reason, self.stopped = status, reason, []

    def describe_training_job(self, TrainingJobName):
        job = {"TrainingJobName": TrainingJobName, "TrainingJobStatus": self.status}
        if self.reason:
            job["FailureReason"] = self.reason
        return job

    def describe_transform_job(self, TransformJobName):
        return {"TransformJobName": TransformJobName, "TransformJobStatus": self.status}

    def stop_training_job(self, TrainingJobName):
        self.stopped.append(TrainingJobName)

    def stop_transform_job(self, TransformJobName):
        self.stopped.append(TransformJobName)


def test_failed_job_raises_with_sagemakers_reason():
    fake = FakeSageMaker("Failed", "AlgorithmError: CUDA out of memory")
    with pytest.raises(
        JobFailed, match="training job j Failed: AlgorithmError: CUDA out of memory"
    ):
        check_job(fake, "training", "j", started_epoch=0, max_wait_seconds=10, now=lambda: 5)


def test_in_progress_within_and_beyond_the_maximum_wait():
    fake = FakeSageMaker("InProgress")
    ok = check_job(fake, "transform", "t", started_epoch=100, max_wait_seconds=60, now=lambda: 130)
    assert ok.model_dump() == {"status": "InProgress", "elapsed_seconds": 30, "usage": None}
    with pytest.raises(JobWaitExceeded, match="still InProgress after 61 s"):
        check_job(fake, "transform", "t", started_epoch=100, max_wait_seconds=60, now=lambda: 161)
    assert fake.stopped == ["t"]


def test_throttling_becomes_transient_aws_error(aws, context):
    import boto3

    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "describe_training_job", service_error_code="ThrottlingException", http_status_code=400
    )
    clients.override("sagemaker", lambda: client)
    event = {"kind": "training", "job_name": "j", "started_epoch": 0, "max_wait_seconds": 60}
    with stubber, pytest.raises(TransientAwsError, match="ThrottlingException"):
        job_status.handler(event, context)


def _register(aws, context, run_id: str, **extra) -> dict:
    started = train(aws, context, run_id)
    aws.write_training_artifact(started["job_name"])
    event = {"bucket": BUCKET, "run_id": run_id, "dataset": "demo", "job_name": started["job_name"]}
    return register_model.handler({**event, **extra}, context)


def test_register_creates_a_pending_package_version_and_resolve_ignores_it(aws, context):
    registered = _register(aws, context, "run-r", train_records=900)
    # The training job wrote its archive under models/, outside runs/ (which the lifecycle rule
    # expires); SageMaker's layout is <S3OutputPath>/<job>/output/model.tar.gz. Nothing is copied.
    archive = f"models/{registered['model_name']}/output/model.tar.gz"
    assert registered["model_data_url"] == f"s3://{BUCKET}/{archive}"
    assert aws.keys("models/") == [archive]  # no pointer object any more: the registry decides
    model = aws.sagemaker.describe_model(ModelName=registered["model_name"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == registered["model_data_url"]
    package = aws.sagemaker.describe_model_package(ModelPackageName=registered["package_arn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageVersion"] == registered["package_version"] == 1
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == registered["model_data_url"]
    assert container["Image"] == model["PrimaryContainer"]["Image"]
    meta = package["CustomerMetadataProperties"]
    assert meta["training_job"] == registered["model_name"]
    assert meta["spec"] == "jumpstart-flan-t5-xl" and meta["train_records"] == "900"
    assert meta["hp_epochs"] == "3" and len(meta["hyperparameters_sha256"]) == 64
    assert registered["gate"] is None  # nothing held out: the gate decides on AutoApprove alone

    # Pending: inference runs still compare the pre-trained model only.
    models = resolve_models.handler({"bucket": BUCKET, "run_id": "run-i"}, context)["models"]
    assert [m["model_key"] for m in models] == ["pre-trained"]
    pretrained = aws.sagemaker.describe_model(ModelName=models[0]["model_name"])
    assert pretrained["PrimaryContainer"]["ModelDataUrl"].endswith(".tar.gz")
    again = resolve_models.handler({"bucket": BUCKET, "run_id": "run-j"}, context)["models"]
    assert again == models  # the pre-trained model is created once and reused


def test_an_approved_version_is_the_fine_tuned_model_and_a_rejected_one_never(aws, context):
    first = _register(aws, context, "run-a")
    second = _register(aws, context, "run-b")
    assert (first["package_version"], second["package_version"]) == (1, 2)
    aws.sagemaker.update_model_package(
        ModelPackageArn=first["package_arn"], ModelApprovalStatus="Approved"
    )
    aws.sagemaker.update_model_package(
        ModelPackageArn=second["package_arn"], ModelApprovalStatus="Rejected"
    )
    models = resolve_models.handler({"bucket": BUCKET, "run_id": "run-i"}, context)["models"]
    assert [m["model_key"] for m in models] == ["pre-trained", "fine-tuned"]
    fine_tuned = models[1]
    assert fine_tuned["model_name"] == first["model_name"]
    assert (fine_tuned["package_arn"], fine_tuned["package_version"]) == (first["package_arn"], 1)
    assert fine_tuned["training_run_id"] == "run-a"
    # A later registration names the approved version as the gate's baseline.
    third = _register(aws, context, "run-c", holdout_key="runs/run-c/ingest/holdout.jsonl")
    assert third["baseline_package_arn"] == first["package_arn"]
    assert [m["model_key"] for m in third["gate"]["models"]] == ["candidate", "fine-tuned"]
    assert third["gate"]["records_key"] == "runs/run-c/ingest/holdout.jsonl"


def test_a_retried_registration_creates_no_second_version(aws, context):
    started = train(aws, context, "run-t")
    aws.write_training_artifact(started["job_name"])
    event = {"bucket": BUCKET, "run_id": "run-t", "dataset": "d", "job_name": started["job_name"]}
    once = register_model.handler(event, context)
    twice = register_model.handler(event, context)
    assert once["package_arn"] == twice["package_arn"]
    listed = aws.sagemaker.list_model_packages(ModelPackageGroupName="radimpress-fine-tuned")
    assert len(listed["ModelPackageSummaryList"]) == 1


def test_a_missing_training_artifact_fails_the_registration_clearly(aws, context):
    started = train(aws, context, "run-m")
    with pytest.raises(JobFailed, match=r"model artifact s3://.*model\.tar\.gz is missing"):
        register_model.handler(
            {"bucket": BUCKET, "run_id": "run-m", "dataset": "d", "job_name": started["job_name"]},
            context,
        )


def test_an_approved_version_of_another_spec_is_ignored(aws, context):
    registered = _register(aws, context, "run-o")
    aws.sagemaker.update_model_package(
        ModelPackageArn=registered["package_arn"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"spec": "local-retrieval"},
    )
    models = resolve_models.handler({"bucket": BUCKET, "run_id": "run-i"}, context)["models"]
    assert [m["model_key"] for m in models] == ["pre-trained"]


def test_start_transform_writes_prompts_and_starts_the_job(aws, context):
    result = ingested(aws, context, "infer", "run-x")
    (model,) = resolve_models.handler({"bucket": BUCKET, "run_id": "run-x"}, context)["models"]
    event = {
        "bucket": BUCKET,
        "run_id": "run-x",
        "records_key": result["records_key"],
        "model": model,
    }
    started = start_transform.handler(event, context)
    assert started["output_key"] == "runs/run-x/transform/pre-trained/output/input.jsonl.out"
    lines = aws.lines("runs/run-x/transform/pre-trained/input.jsonl")
    assert [line["study_id"] for line in lines] == ["s0", "s1", "s2"]
    inputs = lines[0]["inputs"]
    assert inputs["max_length"] == 96 and inputs["num_beams"] == 2
    assert "Finding ___ 0." in inputs["text_inputs"]  # de-identified placeholder normalised
    job = aws.sagemaker.describe_transform_job(TransformJobName=started["job_name"])
    assert job["ModelName"] == model["model_name"]
    assert job["DataProcessing"]["JoinSource"] == "Input"
