"""The JumpStart container double on its own: metadata, training checks, archive layout, bodies.

Fast and socket-free: the double is driven through the local job backend over moto's S3 (the
``s3`` fixture), with requests built by radimpress.jumpstart from the shipped spec.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_support import BUCKET, ROLE

from radimpress import jumpstart
from radimpress.spec import ModelSpec, load_spec
from radimpress_workstation.job_backend.backend import LocalJobBackend
from radimpress_workstation.job_backend.job_record import ContainerError
from radimpress_workstation.job_backend.jumpstart import (
    artifacts,
    find_jumpstart_container,
    standin,
)
from radimpress_workstation.job_backend.jumpstart.metadata import catalog
from radimpress_workstation.job_backend.jumpstart.serving import TgiServer

DLC = "763104351884.dkr.ecr.{region}.amazonaws.com/{repo}"
TRAIN_1X = DLC.format(
    region="us-east-1",
    repo="huggingface-pytorch-training:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
)
TRAIN_2X = DLC.format(
    region="us-east-1",
    repo="huggingface-pytorch-training:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04",
)
TGI = DLC.format(
    region="us-east-1",
    repo="huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04",
)
# The 2.0.0 inference image the old spec named: no JumpStart version publishes it.
UNPUBLISHED = DLC.format(
    region="us-east-1",
    repo="huggingface-pytorch-inference:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04",
)
PROMPT = "Summarize.\n\nFindings: Heart size is normal. Lungs are clear.\n\nImpression:"


@pytest.fixture
def spec() -> ModelSpec:
    return load_spec("jumpstart-flan-t5-xl", region="us-east-1")


@pytest.fixture
def backend(s3, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    jobs = LocalJobBackend(s3_factory=lambda: s3)
    yield jobs
    jobs.shutdown()


def mutated(spec: ModelSpec, **changes: Any) -> ModelSpec:
    """``spec`` with ``section__field=value`` changes (``training__image_uri=...``)."""
    raw = json.loads(json.dumps(spec.raw))
    raw.pop("regions", None)
    for path, value in changes.items():
        section, name = path.split("__")
        raw[section][name] = value
    return ModelSpec(name=spec.name, raw=raw)


def upload_training_set(s3, spec: ModelSpec, n: int = 12) -> None:
    lines = [
        {"findings": f"Finding {i} is present. Lungs are clear.", "impression": f"Finding {i}."}
        for i in range(n)
    ]
    body = "".join(json.dumps(x) + "\n" for x in lines)
    s3.put_object(Bucket=BUCKET, Key="train/train.jsonl", Body=body.encode())
    template = json.dumps(jumpstart.training_template(spec))
    s3.put_object(Bucket=BUCKET, Key="train/template.json", Body=template.encode())


def training_request(spec: ModelSpec, name: str = "ft-1", **kwargs: Any) -> dict[str, Any]:
    return jumpstart.build_training_request(
        spec,
        job_name=name,
        role_arn=ROLE,
        train_uri=f"s3://{BUCKET}/train/",
        output_uri=f"s3://{BUCKET}/out",
        region="us-east-1",
        **kwargs,
    )


def run_training(backend, s3, spec, request=None) -> dict[str, Any]:
    upload_training_set(s3, spec)
    request = request or training_request(spec)
    backend.create_training_job(**request)
    backend.wait(60)
    return backend.describe_training_job(TrainingJobName=request["TrainingJobName"])


def archive_names(s3, url: str) -> list[str]:
    key = url.split("/", 3)[3]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return sorted(tar.getnames())


def transform(
    backend, s3, spec, model_request, bodies, name="tf-1", instance_type=""
) -> dict[str, Any]:
    backend.create_model(**model_request)
    body = "".join(
        json.dumps({"study_id": f"S{i}", "inputs": b}) + "\n" for i, b in enumerate(bodies)
    )
    s3.put_object(Bucket=BUCKET, Key=f"{name}/input.jsonl", Body=body.encode())
    request = jumpstart.build_transform_request(
        job_name=name,
        model_name=model_request["ModelName"],
        input_uri=f"s3://{BUCKET}/{name}/input.jsonl",
        output_uri=f"s3://{BUCKET}/{name}/out",
        instance_type=spec.inference["instance_type"],
        spec=spec,
    )
    if instance_type:
        request["TransformResources"]["InstanceType"] = instance_type
    backend.create_transform_job(**request)
    backend.wait(60)
    described = backend.describe_transform_job(TransformJobName=name)
    if described["TransformJobStatus"] == "Completed":
        out = s3.get_object(Bucket=BUCKET, Key=f"{name}/out/input.jsonl.out")["Body"].read()
        described["lines"] = [json.loads(x) for x in out.decode().splitlines()]
    return described


def pretrained(spec: ModelSpec) -> dict[str, Any]:
    return jumpstart.build_pretrained_model_request(spec, prefix="t", role_arn=ROLE)


def body(spec: ModelSpec, prompt: str = PROMPT, **kwargs: Any) -> dict[str, Any]:
    settings = {"max_length": 128, "num_beams": 1, **kwargs}
    return jumpstart.request_body(prompt, spec=spec, **settings)


# ----- metadata ---------------------------------------------------------------------------------


def test_the_catalog_resolves_images_per_region_and_instance_family(spec):
    versions = {v.version: v for v in catalog()}
    assert {"1.2.2", "2.2.3"} <= set(versions)
    v1 = versions["1.2.2"]
    assert v1.training_images["us-east-1"]["p3"] == spec.training["image_uri"]
    assert v1.hosting_images["us-east-1"]["g5"] == spec.inference["image_uri"]
    assert "cpu" in v1.hosting_images["us-east-1"]["m5"]
    assert v1.hyperparameters["epochs"]["min"] == 1


def test_only_deep_learning_container_images_are_the_doubles():
    assert find_jumpstart_container(TRAIN_1X) is not None
    assert find_jumpstart_container("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1") is None
    assert find_jumpstart_container("radimpress-local/lead") is None


def test_stand_in_artifacts_are_laid_out_as_the_real_ones(spec):
    def names(uri: str) -> list[str]:
        data = artifacts.cache_object(uri.split("/", 3)[3])
        assert data is not None
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return sorted(tar.getnames())

    assert "code/inference.py" in names(spec.inference["model_uri"])  # prepacked
    assert "transfer_learning.py" in names(spec.training["source_uri"])
    assert "config.json" in names(spec.training["model_uri"])
    assert artifacts.cache_object("huggingface-infer/unknown.tar.gz") is None


def test_prompts_are_unwrapped_by_the_template_or_the_findings_label(spec):
    parts = standin._template_parts(spec.prompt_template)
    assert standin.unwrap(jumpstart.render_prompt(spec, "A. B."), parts) == "A. B."
    assert standin.unwrap("Findings: A. B.\nImpression:", None) == "A. B."
    assert standin.unwrap("plain text", None) == "plain text"


# ----- training ---------------------------------------------------------------------------------


def test_the_fine_tune_writes_weights_and_inference_code_into_model_tar_gz(backend, s3, spec):
    job = run_training(backend, s3, spec)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    names = archive_names(s3, job["ModelArtifacts"]["S3ModelArtifacts"])
    assert {"code/inference.py", "config.json", artifacts.STANDIN_FILE} <= set(names)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"epoch": '"3"'}, "unrecognized arguments: --epoch"),
        ({"epochs": '"0"'}, "epochs=0 is out of range"),
        ({"learning_rate": '"fast"'}, "argument --learning_rate: invalid float"),
        ({"peft_type": '"prefix"'}, "choose from lora, none"),
    ],
)
def test_hyperparameters_are_checked_as_the_script_parses_them(backend, s3, spec, change, reason):
    request = training_request(spec)
    request["HyperParameters"].update(change)
    job = run_training(backend, s3, spec, request)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].split(": ", 1)[1].startswith("AlgorithmError")
    assert reason in job["FailureReason"]


def test_a_2x_training_image_with_1x_artifacts_fails_the_job(backend, s3, spec):
    job = run_training(backend, s3, mutated(spec, training__image_uri=TRAIN_2X))
    assert job["TrainingJobStatus"] == "Failed"
    assert "training image and artifacts from different versions" in job["FailureReason"]


def test_an_instance_family_without_a_training_image_fails_the_job(backend, s3, spec):
    request = training_request(spec)
    request["ResourceConfig"]["InstanceType"] = "ml.m5.xlarge"
    job = run_training(backend, s3, spec, request)
    assert "has no training image for ml.m5.xlarge" in job["FailureReason"]


def test_a_renamed_training_channel_fails_the_job(backend, s3, spec):
    request = training_request(spec)
    request["InputDataConfig"][0]["ChannelName"] = "train"
    job = run_training(backend, s3, spec, request)
    assert "unknown channel(s) train" in job["FailureReason"]


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"training__image_uri": TRAIN_1X.replace("us-east-1", "eu-west-1")}, "in region eu-west"),
        ({"training__enable_network_isolation": False}, "EnableNetworkIsolation=true"),
        ({"training__image_uri": TRAIN_1X.replace("1.13.1", "9.9.9")}, "not found"),
    ],
)
def test_the_service_refuses_training_requests(backend, s3, spec, mutation, reason):
    with pytest.raises(ClientError) as raised:
        backend.create_training_job(**training_request(mutated(spec, **mutation)))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert reason in raised.value.response["Error"]["Message"]


def test_a_jumpstart_cache_uri_of_another_region_is_refused(backend, spec):
    request = training_request(spec)
    channel = request["InputDataConfig"][1]["DataSource"]["S3DataSource"]
    channel["S3Uri"] = channel["S3Uri"].replace("us-east-1", "us-west-2")
    with pytest.raises(ClientError, match="is in region us-west-2"):
        backend.create_training_job(**request)


# ----- models and transform ---------------------------------------------------------------------


def test_the_pretrained_model_answers_the_1x_body_with_generated_texts(backend, s3, spec):
    job = transform(backend, s3, spec, pretrained(spec), [body(spec), body(spec, max_length=2)])
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    first, second = (line["SageMakerOutput"] for line in job["lines"])
    assert first == {"generated_texts": ["Heart size is normal."]}
    assert second == {"generated_texts": ["Heart size"]}  # max_length bounds the output


def test_the_fine_tuned_model_serves_from_code_inside_its_archive(backend, s3, spec):
    artifact = run_training(backend, s3, spec)["ModelArtifacts"]["S3ModelArtifacts"]
    request = jumpstart.build_fine_tuned_model_request(
        spec, model_name="ft-1", model_data_url=artifact, role_arn=ROLE
    )
    job = transform(backend, s3, spec, request, [body(spec)])
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert jumpstart.generated_text(job["lines"][0], "line 1")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"max_new_tokens": 20}, "unsupported parameter(s) max_new_tokens"),
        ({"num_beams": 0}, "parameter num_beams has an invalid value"),
        ({"num_return_sequences": 3}, "num_return_sequences must be <= num_beams"),
    ],
)
def test_generation_settings_outside_the_containers_contract_fail_the_line(
    backend, s3, spec, extra, reason
):
    job = transform(backend, s3, spec, pretrained(spec), [body(spec), {**body(spec), **extra}])
    assert job["TransformJobStatus"] == "Failed"
    assert "input.jsonl line 2" in job["FailureReason"]
    assert "Bad HTTP status received from algorithm: 400" in job["FailureReason"]
    assert reason in job["FailureReason"]


def test_a_2x_body_on_the_1x_container_fails_the_line(backend, s3, spec):
    tgi_body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 128}}
    job = transform(backend, s3, spec, pretrained(spec), [tgi_body])
    assert job["TransformJobStatus"] == "Failed"
    assert "input.jsonl line 1" in job["FailureReason"]
    assert "'text_inputs' is required" in job["FailureReason"]
    assert PROMPT not in job["FailureReason"]  # never quotes the report


def test_a_1x_body_on_tgi_fails_the_line_with_422():
    server = TgiServer.__new__(TgiServer)
    server.limit = 1 << 20
    with pytest.raises(ContainerError, match="422"):
        server.decode({"text_inputs": PROMPT, "max_length": 10})
    assert server.decode({"inputs": PROMPT, "parameters": {"max_new_tokens": 5}}) == (PROMPT, 5)


def test_an_archive_without_code_falls_back_to_the_default_handler_and_fails(
    backend, s3, spec, monkeypatch
):
    monkeypatch.setattr(standin, "PACK_INFERENCE_CODE", False)
    artifact = run_training(backend, s3, spec)["ModelArtifacts"]["S3ModelArtifacts"]
    assert "code/inference.py" not in archive_names(s3, artifact)
    request = jumpstart.build_fine_tuned_model_request(
        spec, model_name="ft-1", model_data_url=artifact, role_arn=ROLE
    )
    job = transform(backend, s3, spec, request, [body(spec)])
    assert job["TransformJobStatus"] == "Failed"
    assert "no code/inference.py in the model archive" in job["FailureReason"]


def test_a_submit_directory_on_s3_fails_the_model(backend, s3, spec):
    request = pretrained(spec)
    environment = request["PrimaryContainer"]["Environment"]
    environment["SAGEMAKER_SUBMIT_DIRECTORY"] = spec.inference["source_uri"]
    job = transform(backend, s3, spec, request, [body(spec)])
    assert job["TransformJobStatus"] == "Failed"
    assert "never downloads code" in job["FailureReason"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"EnableNetworkIsolation": False}, "set EnableNetworkIsolation=true"),
        ({"image": UNPUBLISHED}, "not found"),
        ({"image": TGI.replace("us-east-1", "eu-west-1")}, "in region eu-west-1"),
    ],
)
def test_the_service_refuses_model_requests(backend, spec, change, reason):
    request = pretrained(spec)
    if "image" in change:
        request["PrimaryContainer"]["Image"] = change.pop("image")
    request.update(change)
    with pytest.raises(ClientError) as raised:
        backend.create_model(**request)
    assert reason in raised.value.response["Error"]["Message"]


def test_a_gpu_image_on_a_cpu_instance_fails_the_transform(backend, s3, spec):
    job = transform(backend, s3, spec, pretrained(spec), [body(spec)], instance_type="ml.m5.xlarge")
    assert job["TransformJobStatus"] == "Failed"
    assert (
        "is not the image JumpStart serves this model with on ml.m5.xlarge"
        in (job["FailureReason"])
    )
