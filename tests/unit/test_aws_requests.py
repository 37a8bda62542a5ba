"""The exact AWS requests behind the pipeline's guarantees, pinned with botocore's ``Stubber``.

moto accepts what real AWS refuses (a state machine that is not JSON, a transform job for a model
that does not exist) and ignores what real AWS enforces, so a moto round trip cannot show that a
request carries the condition or the field a guarantee rests on. Here each call is matched against
``expected_params`` before any response is given: dropping ``IfNoneMatch``, changing the
transform's ``DataProcessing`` or any training field fails the test (botocore also validates every
request against the service model first). Expected values are written by hand from the AWS API
reference cited at each test and from the shipped spec file, never computed with the code under
test. The stubbed clients never reach the network: the stub answers before anything is sent.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from handler_support import BUCKET

from radimpress import registry
from radimpress.claims import claim
from radimpress.events import ModelRef
from radimpress.settings import Settings
from radimpress.spec import load_spec
from radimpress.steps.start_training import start_training
from radimpress.steps.start_transform import start_transform

ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"
KMS = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201"
UPLOAD = "incoming/train/openi/reports.jsonl"
# claims/ + sha256("radimpress-test-data\nincoming/train/openi/reports.jsonl\nv1"), worked out
# once with hashlib on the command line (docs/contracts.md: one claim per object version).
CLAIM_KEY = "claims/1471ebabe4f1ded797344e047f02da5035cac91b315475516d855596df2d173a.json"
CLAIM_BODY = (
    b"{\n"
    b' "run_id": "run-1",\n'
    b' "bucket": "radimpress-test-data",\n'
    b' "key": "incoming/train/openi/reports.jsonl",\n'
    b' "version": "v1",\n'
    b' "claimed_at": "2026-11-30T06:00:00+00:00"\n'
    b"}"
)


def stubbed(service: str) -> Any:
    """A client whose calls a Stubber answers (dummy credentials: nothing is ever signed)."""
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def s3_stub(monkeypatch) -> Iterator[tuple[Any, Stubber]]:
    # Without a data key no SSE-KMS parameters are sent (storage.encryption_arguments).
    monkeypatch.delenv("RADIMPRESS_KMS_KEY_ARN", raising=False)
    client = stubbed("s3")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sagemaker_stub() -> Iterator[tuple[Any, Stubber]]:
    client = stubbed("sagemaker")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


# ---- the claim: PutObject with If-None-Match: * ------------------------------------------------
# PutObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html), If-None-Match:
# "Uploads the object only if the object key name does not already exist in the bucket
# specified. Otherwise, Amazon S3 returns a 412 Precondition Failed error. [...] Expects the '*'
# (asterisk) character." A conflicting concurrent write gets 409 ConditionalRequestConflict.

CLAIM_PUT = {
    "Bucket": BUCKET,
    "Key": CLAIM_KEY,
    "Body": CLAIM_BODY,
    "ContentType": "application/json",
    "IfNoneMatch": "*",
}


def test_the_claim_is_a_put_object_with_if_none_match_star(s3_stub):
    client, stubber = s3_stub
    stubber.add_response("put_object", {"ETag": '"c1"'}, CLAIM_PUT)
    held = claim(client, BUCKET, UPLOAD, "v1", "run-1", now="2026-11-30T06:00:00+00:00")
    assert (held.key, held.owner, held.ours) == (CLAIM_KEY, "run-1", True)


@pytest.mark.parametrize(
    ("code", "status"), [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409)]
)
def test_a_refused_claim_reads_the_owner_and_writes_nothing_else(s3_stub, code, status):
    client, stubber = s3_stub
    stubber.add_client_error(
        "put_object", service_error_code=code, http_status_code=status, expected_params=CLAIM_PUT
    )
    stubber.add_response(
        "get_object",
        {"Body": body(b'{"run_id": "run-0"}'), "ETag": '"c0"'},
        {"Bucket": BUCKET, "Key": CLAIM_KEY},
    )
    held = claim(client, BUCKET, UPLOAD, "v1", "run-1", now="2026-11-30T06:00:00+00:00")
    assert (held.owner, held.ours) == ("run-0", False)


# ---- the Model Registry: which fine-tuned model inference runs use -----------------------------
# ListModelPackages (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
# API_ListModelPackages.html): ModelPackageGroupName, ModelApprovalStatus, SortBy CreationTime |
# Name, SortOrder, NextToken for the next page. botocore's Stubber validates each request and
# response against the service model.

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/radimpress-fine-tuned/{}"
LIST = {
    "ModelPackageGroupName": "radimpress-fine-tuned",
    "SortBy": "CreationTime",
    "SortOrder": "Descending",
    "ModelApprovalStatus": "Approved",
}


def summary(version: int) -> dict[str, Any]:
    return {
        "ModelPackageArn": ARN.format(version),
        "ModelPackageGroupName": "radimpress-fine-tuned",
        "ModelPackageVersion": version,
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
    }


def described(version: int, trained_at: str, spec: str = "s") -> dict[str, Any]:
    meta = {"trained_at": trained_at, "training_job": f"job-{version}", "spec": spec}
    return {
        "ModelPackageName": "radimpress-fine-tuned",
        "ModelPackageArn": ARN.format(version),
        "ModelPackageVersion": version,
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved",
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "ModelPackageStatus": "Completed",
        "CustomerMetadataProperties": meta,
    }


def test_the_newest_finished_training_among_approved_versions_across_pages(sagemaker_stub):
    """Version 3 was registered last but trained first; version 2 (page 2) finished last."""
    client, stubber = sagemaker_stub
    stubber.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": [summary(3)], "NextToken": "page-2"},
        LIST,
    )
    stubber.add_response(
        "describe_model_package",
        described(3, "2026-11-30T06:00:00.000000+00:00"),
        {"ModelPackageName": ARN.format(3)},
    )
    stubber.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": [summary(2), summary(1)]},
        {**LIST, "NextToken": "page-2"},
    )
    for version, trained in ((2, "2026-12-01T06:00:00.000000+00:00"), (1, "2026-12-02T06:00:00")):
        spec = "s" if version == 2 else "other-spec"  # version 1: newest, but another spec
        stubber.add_response(
            "describe_model_package",
            described(version, trained, spec),
            {"ModelPackageName": ARN.format(version)},
        )
    found = registry.latest_approved(client, "radimpress-fine-tuned", matching={"spec": "s"})
    assert found is not None and found.version == 2


def test_a_gate_decision_is_one_update_with_status_reason_and_figures(sagemaker_stub):
    client, stubber = sagemaker_stub
    stubber.add_response(
        "update_model_package",
        {"ModelPackageArn": ARN.format(2)},
        {
            "ModelPackageArn": ARN.format(2),
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "not worse",
            "CustomerMetadataProperties": {"gate_candidate": "0.41", "gate_metric": "rouge_l"},
        },
    )
    registry.set_status(
        client,
        ARN.format(2),
        "Approved",
        description="not worse",
        metadata={"gate_candidate": 0.41, "gate_metric": "rouge_l", "gate_baseline": None},
    )


# ---- CreateTransformJob: study_id joined through to the output --------------------------------
# CreateTransformJob (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
# API_CreateTransformJob.html) and DataProcessing (.../API_DataProcessing.html): InputFilter is a
# JSONPath selecting the part of each input line sent to the model; JoinSource "Input" joins the
# whole input line to the model's output; OutputFilter selects what is written. SplitType "Line"
# with AssembleWith "Line" keeps one output line per input line. g5 volumes are instance store:
# no VolumeKmsKeyId (TransformResources), but the output is encrypted with the key.


def test_the_transform_job_request(s3, sagemaker_stub, settings):
    client, stubber = sagemaker_stub
    s3.put_object(
        Bucket=BUCKET,
        Key="runs/run-1/ingest/records.jsonl",
        Body=b'{"study_id": "s1", "findings": "Lungs clear."}\n',
    )
    job = "radimpress-tf-fa42152817e6235b1b63"  # sha256("run-1\x1fpre-trained")[:20]
    stubber.add_response(
        "create_transform_job",
        {"TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{job}"},
        {
            "TransformJobName": job,
            "ModelName": "radimpress-pt-model",
            "MaxConcurrentTransforms": 1,
            "MaxPayloadInMB": 6,
            "BatchStrategy": "SingleRecord",
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/runs/run-1/transform/pre-trained/input.jsonl",
                    }
                },
                "ContentType": "application/json",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": f"s3://{BUCKET}/runs/run-1/transform/pre-trained/output",
                "Accept": "application/json",
                "AssembleWith": "Line",
                "KmsKeyId": KMS,
            },
            "TransformResources": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1},
            "DataProcessing": {
                "InputFilter": "$.inputs",
                "JoinSource": "Input",
                "OutputFilter": "$['study_id','SageMakerOutput']",
            },
            "Tags": [
                {"Key": "radimpress:run-id", "Value": "run-1"},
                {"Key": "radimpress:model", "Value": "pre-trained"},
            ],
        },
    )
    started = start_transform(
        client,
        s3,
        BUCKET,
        load_spec("jumpstart-flan-t5-xl"),
        settings,
        run_id="run-1",
        records_key="runs/run-1/ingest/records.jsonl",
        model=ModelRef(
            model_key="pre-trained", label="pre-trained", model_name="radimpress-pt-model"
        ),
    )
    assert (started.job_name, started.lines) == (job, 1)
    assert started.output_key == "runs/run-1/transform/pre-trained/output/input.jsonl.out"


# ---- CreateTrainingJob: the JumpStart fine-tune --------------------------------------------------
# CreateTrainingJob (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
# API_CreateTrainingJob.html). The values are those of the shipped spec
# (functions/radimpress/specs/jumpstart-flan-t5-xl.json, JumpStart 1.2.2), JSON-encoded as the
# SageMaker SDK sends hyperparameters; CompressionType GZIP (OutputDataConfig) makes the
# model.tar.gz Batch Transform needs (S3OutputPath: "<path>/<job name>/output/model.tar.gz"); MaxRuntimeInSeconds (StoppingCondition) is the execution's
# wait bound when that is below the spec's 360000 s; p3 volumes are EBS: VolumeKmsKeyId applies.

JUMPSTART = "s3://jumpstart-cache-prod-us-east-1"
SPEC_HYPERPARAMETERS = {
    "epochs": '"5"',  # RADIMPRESS_EPOCHS, not the spec's "3"
    "max_steps": '"-1"',
    "seed": '"42"',
    "batch_size": '"64"',
    "learning_rate": '"0.0001"',
    "lr_scheduler_type": '"constant_with_warmup"',
    "warmup_ratio": '"0.0"',
    "warmup_steps": '"0"',
    "validation_split_ratio": '"0.05"',
    "train_data_split_seed": '"0"',
    "max_train_samples": '"-1"',
    "max_eval_samples": '"-1"',
    "max_input_length": '"-1"',
    "max_output_length": '"128"',
    "pad_to_max_length": '"True"',
    "gradient_accumulation_steps": '"1"',
    "weight_decay": '"0.0"',
    "adam_beta1": '"0.9"',
    "adam_beta2": '"0.999"',
    "adam_epsilon": '"1e-08"',
    "max_grad_norm": '"1.0"',
    "load_best_model_at_end": '"True"',
    "early_stopping_patience": '"3"',
    "early_stopping_threshold": '"0.0"',
    "label_smoothing_factor": '"0"',
    "logging_strategy": '"steps"',
    "logging_first_step": '"False"',
    "logging_steps": '"500"',
    "logging_nan_inf_filter": '"True"',
    "save_strategy": '"epoch"',
    "save_steps": '"500"',
    "save_total_limit": '"2"',
    "dataloader_drop_last": '"False"',
    "dataloader_num_workers": '"0"',
    "evalaution_strategy": '"epoch"',  # sic: the algorithm's own spelling
    "eval_steps": '"500"',
    "eval_accumulation_steps": '"None"',
    "gradient_checkpointing": '"True"',
    "auto_find_batch_size": '"False"',
    "preprocessing_num_workers": '"None"',
    "peft_type": '"none"',
    # Script mode: where the container finds the prepacked training script.
    "sagemaker_submit_directory": '"/opt/ml/input/data/code/sourcedir.tar.gz"',
    "sagemaker_program": '"transfer_learning.py"',
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": '"radimpress-ft-4e65d3fbe8ad6535681b"',
    "sagemaker_region": '"us-east-1"',
}


@pytest.fixture
def settings(monkeypatch) -> Settings:
    """The functions' settings as template.yaml's environment gives them."""
    for name, value in {
        "AWS_REGION": "us-east-1",
        "RADIMPRESS_BUCKET": BUCKET,
        "RADIMPRESS_RESOURCE_PREFIX": "radimpress",
        "RADIMPRESS_SAGEMAKER_ROLE_ARN": ROLE,
        "RADIMPRESS_KMS_KEY_ARN": KMS,
        "RADIMPRESS_TRAINING_INSTANCE_TYPE": "",
        "RADIMPRESS_TRANSFORM_INSTANCE_TYPE": "ml.g5.2xlarge",
        "RADIMPRESS_EPOCHS": "5",
        "RADIMPRESS_MAX_LENGTH": "96",
        "RADIMPRESS_NUM_BEAMS": "2",
        # The shipped spec is resolved from the offline fixture; the embedded stack allows it.
        "RADIMPRESS_OFFLINE_SPEC_ALLOWED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_the_training_job_request(sagemaker_stub, settings):
    client, stubber = sagemaker_stub
    job = "radimpress-ft-4e65d3fbe8ad6535681b"  # sha256("run-1")[:20]
    stubber.add_response(
        "create_training_job",
        {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}"},
        {
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": (
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
                    "1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04"
                ),
                "MetricDefinitions": [
                    {"Name": "huggingface-text2text:eval-loss", "Regex": "'eval_loss': ([0-9\\.]+)"}
                ],
            },
            "OutputDataConfig": {
                # SageMaker writes <S3OutputPath><job>/output/model.tar.gz: under models/,
                # which outlives runs/ (layout.FINE_TUNED_OUTPUT_PREFIX).
                "S3OutputPath": f"s3://{BUCKET}/models/",
                "CompressionType": "GZIP",
                "KmsKeyId": KMS,
            },
            "TrainingJobName": job,
            "StoppingCondition": {"MaxRuntimeInSeconds": 7200},
            "ResourceConfig": {
                "VolumeSizeInGB": 256,
                "InstanceCount": 1,
                "InstanceType": "ml.p3.16xlarge",
                "VolumeKmsKeyId": KMS,
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/runs/run-1/train/data/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ChannelName": "training",
                },
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": (
                                f"{JUMPSTART}/huggingface-training/"
                                "train-huggingface-text2text-flan-t5-xl.tar.gz"
                            ),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "application/x-sagemaker-model",
                    "InputMode": "File",
                    "ChannelName": "model",
                },
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": (
                                f"{JUMPSTART}/source-directory-tarballs/huggingface/"
                                "transfer_learning/text2text/prepack/v1.1.2/sourcedir.tar.gz"
                            ),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ChannelName": "code",
                },
            ],
            "HyperParameters": SPEC_HYPERPARAMETERS,
            "Tags": [
                {
                    "Key": "sagemaker-sdk:jumpstart-model-id",
                    "Value": "huggingface-text2text-flan-t5-xl",
                },
                {"Key": "sagemaker-sdk:jumpstart-model-version", "Value": "1.2.2"},
                {"Key": "radimpress:run-id", "Value": "run-1"},
                {"Key": "radimpress:dataset", "Value": "openi"},
            ],
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
        },
    )
    started, created = start_training(
        client,
        BUCKET,
        load_spec("jumpstart-flan-t5-xl"),
        settings,
        run_id="run-1",
        dataset="openi",
        max_wait_seconds=7200,
    )
    assert (started.job_name, created) == (job, True)


def test_a_retried_start_finds_its_own_training_job(sagemaker_stub, settings):
    """SageMaker refuses a second job of the same name (ResourceInUse): the retry's success."""
    client, stubber = sagemaker_stub
    stubber.add_client_error(
        "create_training_job",
        service_error_code="ResourceInUse",
        service_message="Training job names must be unique within an AWS account and region, "
        "and a training job with this name already exists",
        http_status_code=400,
    )
    started, created = start_training(
        client, BUCKET, load_spec("jumpstart-flan-t5-xl"), settings, run_id="run-1", dataset="x"
    )
    assert (started.job_name, created) == ("radimpress-ft-4e65d3fbe8ad6535681b", False)
