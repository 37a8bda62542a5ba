"""Our boto3 requests equal the ones the SageMaker Python SDK v2 sends for flan-t5-xl 1.2.2.

The SDK reads the JumpStart metadata fixture (tests/fixtures/jumpstart, built from the real public
metadata by its build_fixture.py) through its local-override variables. ``JumpStartEstimator.fit``,
``JumpStartModel`` and its transformer run with every SageMaker call captured before it is sent,
so the training, model and transform requests the Lambdas build are compared with the SDK's own.
The checked-in spec must be exactly what the resolver writes from that fixture.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radimpress.errors import SpecError
from radimpress.jumpstart import (
    build_fine_tuned_model_request,
    build_pretrained_model_request,
    build_training_request,
    build_transform_request,
    transform_line,
)
from radimpress.spec import ModelSpec, load_spec

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "jumpstart"
SHIPPED = ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json"
MODEL_ID = "huggingface-text2text-flan-t5-xl"
VERSION = "1.2.2"
JOB = "radimpress-ft-parity0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"
KMS = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201"
TRAIN = "s3://radimpress-data/runs/r1/train/data/"
OUTPUT = "s3://radimpress-data/runs/r1/train/output"
TUNED = "s3://radimpress-data/runs/r1/train/output/job/output/model.tar.gz"
TF_INPUT = "s3://radimpress-data/runs/r1/transform/pre-trained/input.jsonl"
TF_OUTPUT = "s3://radimpress-data/runs/r1/transform/pre-trained/output"


@pytest.fixture(scope="module")
def sdk():
    """The SDK pointed at the fixture metadata (set before anything reads JumpStart metadata)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_JUMPSTART_MANIFEST_LOCAL_ROOT_DIR_OVERRIDE", str(FIXTURE))
        mp.setenv("AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE", str(FIXTURE))
        mp.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        import boto3
        import sagemaker

        from radimpress_training import jumpstart_resolver

        session = sagemaker.Session(
            boto_session=boto3.Session(region_name="us-east-1"),
            sagemaker_config=jumpstart_resolver.SDK_CONFIG,
        )
        yield sagemaker, session, jumpstart_resolver


@pytest.fixture(scope="module")
def resolved(sdk) -> dict:
    _, _, resolver = sdk
    return resolver.resolve(region="us-east-1", source="test")


@pytest.fixture(scope="module")
def spec(resolved) -> ModelSpec:
    return ModelSpec("fixture", resolved)


class Captured:
    """Every SageMaker request the SDK makes, answered locally instead of sent."""

    def __init__(self, session: Any) -> None:
        self.events = session.sagemaker_client.meta.events
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def _capture(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.append((model.name, json.loads(json.dumps(params))))

    def _answer(self, model: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        arn = "arn:aws:sagemaker:us-east-1:123456789012:x/y"
        parsed = {"ModelArn": arn, "TransformJobArn": arn, "TrainingJobArn": arn}
        return AWSResponse("https://sagemaker", 200, {}, None), parsed

    def __enter__(self) -> Captured:
        self.events.register_first("before-parameter-build.sagemaker", self._capture)
        self.events.register_first("before-call.sagemaker", self._answer)
        return self

    def __exit__(self, *_: Any) -> None:
        self.events.unregister("before-parameter-build.sagemaker", self._capture)
        self.events.unregister("before-call.sagemaker", self._answer)

    def one(self, operation: str) -> dict[str, Any]:
        found = [p for name, p in self.requests if name == operation]
        assert len(found) == 1, (operation, [n for n, _ in self.requests])
        return found[0]


@pytest.fixture(scope="module")
def sdk_transform(sdk) -> Iterator[tuple[dict, dict]]:
    """CreateModel + CreateTransformJob of ``JumpStartModel(...).transformer(...).transform``."""
    _, session, _ = sdk
    from sagemaker.jumpstart.model import JumpStartModel

    model = JumpStartModel(
        model_id=MODEL_ID, model_version=VERSION, role=ROLE, sagemaker_session=session
    )
    with Captured(session) as captured:  # transformer() creates the model
        transformer = model.transformer(
            instance_count=1,
            instance_type="ml.g5.2xlarge",
            strategy="SingleRecord",
            assemble_with="Line",
            output_path=TF_OUTPUT,
            output_kms_key=KMS,
            accept="application/json",
            max_concurrent_transforms=1,
            max_payload=6,
        )
        transformer.transform(
            TF_INPUT,
            content_type="application/json",
            split_type="Line",
            input_filter="$.inputs",
            join_source="Input",
            output_filter="$['study_id','SageMakerOutput']",
            job_name="radimpress-tf-parity",
            wait=False,
            logs=False,
        )
    yield captured.one("CreateModel"), captured.one("CreateTransformJob")


def sdk_request(sdk, hyperparameters: dict[str, str], **kwargs: Any) -> dict:
    _, session, resolver = sdk
    from sagemaker.jumpstart.estimator import JumpStartEstimator

    estimator = JumpStartEstimator(
        model_id=MODEL_ID,
        model_version=VERSION,
        role=ROLE,
        instance_type="ml.p3.16xlarge",
        hyperparameters=hyperparameters,
        output_path=OUTPUT,
        sagemaker_session=session,
        **kwargs,
    )
    return resolver.capture_training_request(estimator, TRAIN, JOB)


def test_checked_in_spec_is_what_the_resolver_writes_from_the_fixture(resolved):
    shipped = json.loads(SHIPPED.read_text())
    assert "fixture" in shipped["source"].lower()  # honest about where it came from
    assert {**shipped, "source": ""} == {**resolved, "source": ""}
    assert shipped["model_version"] == VERSION


def test_training_request_matches_the_sdk(sdk, spec):
    sent = sdk_request(sdk, {"epochs": "5"}, volume_kms_key=KMS, output_kms_key=KMS)
    ours = build_training_request(
        spec,
        job_name=JOB,
        role_arn=ROLE,
        train_uri=TRAIN,
        output_uri=OUTPUT,
        region="us-east-1",
        instance_type="ml.p3.16xlarge",
        epochs=5,
        kms_key_arn=KMS,
    )
    # What we add on purpose: GZIP output said explicitly (Batch Transform needs model.tar.gz),
    # and the run capped at the longest wait (the SDK keeps the metadata's 100 h max_run).
    assert ours["OutputDataConfig"].pop("CompressionType") == "GZIP"
    assert sent["StoppingCondition"]["MaxRuntimeInSeconds"] == 360000
    assert ours["StoppingCondition"]["MaxRuntimeInSeconds"] == 172800
    ours["StoppingCondition"] = sent["StoppingCondition"]
    # What we leave out on purpose: SDK defaults for Debugger and Profiler output.
    expected = copy.deepcopy(sent)
    assert expected.pop("DebugHookConfig")["S3OutputPath"] == OUTPUT
    assert expected.pop("ProfilerConfig")["S3OutputPath"] == OUTPUT
    assert ours == expected
    assert ours["ResourceConfig"]["VolumeKmsKeyId"] == KMS  # p3 has EBS volumes
    hps = ours["HyperParameters"]
    assert hps["epochs"] == '"5"'
    assert hps["sagemaker_program"] == '"transfer_learning.py"'
    assert hps["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    assert hps["sagemaker_job_name"] == json.dumps(JOB)
    assert [c["ChannelName"] for c in ours["InputDataConfig"]] == ["training", "model", "code"]
    assert "/prepack/" in ours["InputDataConfig"][2]["DataSource"]["S3DataSource"]["S3Uri"]


def test_training_run_is_capped_by_the_executions_max_wait(spec):
    request = build_training_request(
        spec,
        job_name=JOB,
        role_arn=ROLE,
        train_uri=TRAIN,
        output_uri=OUTPUT,
        region="us-east-1",
        max_runtime_seconds=3600,
    )
    assert request["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600


def test_pretrained_model_request_matches_jumpstart_model(sdk_transform, spec):
    sent_model, _ = sdk_transform
    ours = build_pretrained_model_request(spec, prefix="radimpress", role_arn=ROLE)
    assert ours["ModelName"].startswith("radimpress-pt-")
    # Names and tags are ours (deterministic, per stack); the rest is the SDK's request.
    expected = {**sent_model, "ModelName": ours["ModelName"], "Tags": ours["Tags"]}
    assert ours == expected
    container = ours["PrimaryContainer"]
    assert container["ModelDataUrl"].endswith(".tar.gz")  # prepacked: code/ inside
    # The toolkit's default code dir (/opt/ml/model/code) is used: the SDK sets no S3 location.
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in container["Environment"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert ours["EnableNetworkIsolation"] is True


def test_fine_tuned_model_request_matches_jumpstart_model_with_model_data(sdk, spec):
    _, session, _ = sdk
    from sagemaker.jumpstart.model import JumpStartModel

    model = JumpStartModel(
        model_id=MODEL_ID,
        model_version=VERSION,
        role=ROLE,
        model_data=TUNED,
        sagemaker_session=session,
    )
    with Captured(session) as captured:
        model.create(instance_type="ml.g5.2xlarge")
    sent = captured.one("CreateModel")
    ours = build_fine_tuned_model_request(
        spec, model_name="radimpress-ft-x", model_data_url=TUNED, role_arn=ROLE
    )
    assert ours == {**sent, "ModelName": "radimpress-ft-x", "Tags": ours["Tags"]}
    # No inference script from S3 (the toolkit never downloads one): isolation stays on.
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in ours["PrimaryContainer"]["Environment"]
    assert ours["EnableNetworkIsolation"] is True


def test_transform_request_matches_the_sdk_transformer(sdk_transform, spec):
    _, sent = sdk_transform
    ours = build_transform_request(
        job_name="radimpress-tf-parity",
        model_name=sent["ModelName"],
        input_uri=TF_INPUT,
        output_uri=TF_OUTPUT,
        instance_type="ml.g5.2xlarge",
        kms_key_arn=KMS,
        spec=spec,
    )
    # g5 volumes are instance store (hardware-encrypted): no VolumeKmsKeyId, as the SDK sends.
    assert "VolumeKmsKeyId" not in ours["TransformResources"]
    assert ours == {**sent, "Tags": ours["Tags"]}


def test_transform_lines_are_the_1x_containers_body(spec):
    line = transform_line("s1", "prompt", max_length=64, num_beams=2, spec=spec)
    assert line == {
        "study_id": "s1",
        "inputs": {"text_inputs": "prompt", "max_length": 64, "num_beams": 2},
    }
    assert spec.payload["response_path"] == "generated_texts[0]"


def test_epochs_default_and_names_agree_with_the_sdk(sdk, resolved):
    sagemaker, session, _ = sdk
    from sagemaker import hyperparameters

    defaults = hyperparameters.retrieve_default(
        model_id=MODEL_ID, model_version=VERSION, sagemaker_session=session
    )
    assert set(defaults) == set(resolved["training"]["hyperparameter_names"])
    assert resolved["training"]["hyperparameters"]["epochs"] == "3"  # the blog's setting
    with pytest.raises(sagemaker.jumpstart.exceptions.JumpStartHyperparametersError):
        hyperparameters.validate(
            model_id=MODEL_ID,
            model_version=VERSION,
            hyperparameters={**defaults, "epoch": "3"},
            sagemaker_session=session,
        )
    spec = ModelSpec("fixture", copy.deepcopy(resolved))
    spec.training["hyperparameters"]["epoch"] = "3"
    with pytest.raises(SpecError, match="epoch"):
        build_training_request(
            spec, job_name=JOB, role_arn=ROLE, train_uri=TRAIN, output_uri=OUTPUT, region=""
        )


def test_every_region_of_the_metadata_has_its_own_images_and_bucket(resolved, spec):
    assert sorted(resolved["regions"]) == ["eu-west-1", "us-east-1", "us-west-2"]
    for region, uris in resolved["regions"].items():
        for section in uris.values():
            for key in ("image_uri", "model_uri", "source_uri"):
                if key in section:
                    assert region in section[key], (region, key)
    eu = build_training_request(
        spec, job_name=JOB, role_arn=ROLE, train_uri=TRAIN, output_uri=OUTPUT, region="eu-west-1"
    )
    assert ".eu-west-1." in eu["AlgorithmSpecification"]["TrainingImage"]
    channels = {c["ChannelName"]: c for c in eu["InputDataConfig"]}
    assert (
        "jumpstart-cache-prod-eu-west-1" in channels["model"]["DataSource"]["S3DataSource"]["S3Uri"]
    )
    pretrained = build_pretrained_model_request(
        spec, prefix="radimpress", role_arn=ROLE, region="us-west-2"
    )
    assert ".us-west-2." in pretrained["PrimaryContainer"]["Image"]
    with pytest.raises(SpecError, match=r"no images for region ap-south-1.*eu-west-1"):
        build_training_request(
            spec,
            job_name=JOB,
            role_arn=ROLE,
            train_uri=TRAIN,
            output_uri=OUTPUT,
            region="ap-south-1",
        )


def test_shipped_spec_is_region_checked_when_loaded(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    spec = load_spec("jumpstart-flan-t5-xl")
    assert spec.region == "eu-west-1" and ".eu-west-1." in spec.inference["image_uri"]
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    with pytest.raises(SpecError, match=r"1\.2\.2.*no images for region ap-southeast-2"):
        load_spec("jumpstart-flan-t5-xl")


@pytest.mark.parametrize(
    ("version", "region", "problem"),
    [
        ("2.2.3", "us-east-1", r"2\.2\.3: the pre-trained artifact .* is not a model\.tar\.gz"),
        ("9.9.9", "us-east-1", r"9\.9\.9 is not in the JumpStart metadata"),
        ("1.2.2", "ap-south-1", r"1\.2\.2 has no JumpStart images for region ap-south-1"),
        ("*", "us-east-1", "give an exact version"),
    ],
)
def test_resolver_fails_clearly_naming_the_version(sdk, version, region, problem):
    _, _, resolver = sdk
    with pytest.raises(resolver.MetadataError, match=problem):
        resolver.resolve(region=region, model_version=version, source="test")


def test_resolver_command_writes_the_spec(sdk, tmp_path, resolved, capsys):
    _, _, resolver = sdk
    target = tmp_path / "spec.json"
    args = ["--region", "us-east-1", "--metadata-dir", str(FIXTURE), "--output", str(target)]
    assert resolver.main([*args, "--source", "test"]) == 0
    assert json.loads(target.read_text()) == resolved
    assert resolver.main([*args, "--model-version", "2.2.3"]) == 2
    assert "2.2.3" in capsys.readouterr().err
