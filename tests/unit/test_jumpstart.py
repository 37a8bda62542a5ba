"""Request shapes built from the shipped spec, valid for botocore's SageMaker model.

moto's SageMaker accepts any request (a transform job for a model that does not exist), so the
exact requests the steps send are pinned with botocore's Stubber in test_aws_requests.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from radimpress import jumpstart
from radimpress.errors import OutputMismatch, SpecError
from radimpress.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"
KMS = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.fixture(scope="module")
def spec():
    return load_spec("jumpstart-flan-t5-xl")


@pytest.fixture(scope="module")
def model():
    return botocore.session.get_session().get_service_model("sagemaker")


def assert_valid(model, operation: str, request: dict) -> None:
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def training(spec, **overrides):
    kwargs = dict(
        job_name="radimpress-ft-0123456789abcdef0123",
        role_arn=ROLE,
        train_uri="s3://bucket/runs/r1/train/data/",
        output_uri="s3://bucket/runs/r1/train/output",
        region="us-east-1",
        epochs=3,
        kms_key_arn=KMS,
        tags={"radimpress:run-id": "r1"},
    )
    kwargs.update(overrides)
    return jumpstart.build_training_request(spec, **kwargs)


def test_training_request_shape(spec, model):
    request = training(spec)
    assert_valid(model, "CreateTrainingJob", request)
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://bucket/runs/r1/train/output",
        "CompressionType": "GZIP",
        "KmsKeyId": KMS,
    }
    assert request["HyperParameters"]["epochs"] == '"3"'
    assert "epoch" not in request["HyperParameters"]
    training_channel = request["InputDataConfig"][0]
    assert training_channel["ChannelName"] == "training"
    assert training_channel["DataSource"]["S3DataSource"]["S3Uri"].endswith("/train/data/")
    assert request["ResourceConfig"]["InstanceType"] == spec.training["instance_type"]
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    assert request["AlgorithmSpecification"]["MetricDefinitions"]
    assert {"Key": "radimpress:run-id", "Value": "r1"} in request["Tags"]


def test_instance_type_and_epochs_come_from_the_stack(spec):
    request = training(spec, instance_type="ml.g5.48xlarge", epochs=7)
    assert request["ResourceConfig"]["InstanceType"] == "ml.g5.48xlarge"
    assert request["HyperParameters"]["epochs"] == '"7"'


def test_template_json_uses_the_spec_prompt(spec):
    template = jumpstart.training_template(spec)
    assert template["completion"] == "{impression}"
    assert "{findings}" in template["prompt"]
    assert jumpstart.render_prompt(spec, "Lungs clear.").count("Lungs clear.") == 1


def test_model_requests_use_model_data_url_to_a_tarball(spec, model):
    pretrained = jumpstart.build_pretrained_model_request(spec, prefix="radimpress", role_arn=ROLE)
    assert_valid(model, "CreateModel", pretrained)
    container = pretrained["PrimaryContainer"]
    assert container["ModelDataUrl"] == spec.inference["model_uri"]
    assert container["ModelDataUrl"].endswith(".tar.gz")
    assert "ModelDataSource" not in container
    assert pretrained["ModelName"] == jumpstart.pretrained_model_name(spec, "radimpress")

    tuned = jumpstart.build_fine_tuned_model_request(
        spec,
        model_name="radimpress-ft-0123456789abcdef0123",
        model_data_url="s3://bucket/runs/r1/train/output/job/output/model.tar.gz",
        role_arn=ROLE,
    )
    assert_valid(model, "CreateModel", tuned)
    env = tuned["PrimaryContainer"]["Environment"]
    # The toolkit never downloads code from S3: inference.py travels inside model.tar.gz
    # (the prepacked training script writes code/), so no S3 location and isolation stays on.
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in env
    assert env == spec.inference["environment"]
    assert tuned["EnableNetworkIsolation"] is True
    assert pretrained["EnableNetworkIsolation"] is True
    assert tuned["PrimaryContainer"]["Image"] == spec.inference["image_uri"]


def test_an_s3_submit_directory_is_refused(spec):
    import copy

    from radimpress.spec import ModelSpec

    raw = copy.deepcopy(spec.raw)
    raw["inference"]["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = "s3://b/sourcedir.tar.gz"
    with pytest.raises(SpecError, match="never downloaded"):
        jumpstart.build_fine_tuned_model_request(
            ModelSpec("s3-code", raw),
            model_name="m",
            model_data_url="s3://b/model.tar.gz",
            role_arn=ROLE,
        )


@pytest.mark.parametrize(
    ("instance_type", "has_key"),
    [
        ("ml.p3.16xlarge", True),
        ("ml.p3.8xlarge", True),
        ("ml.m5.xlarge", True),
        ("ml.g5.2xlarge", False),
        ("ml.g4dn.4xlarge", False),
        ("ml.p3dn.24xlarge", False),
        ("ml.p4d.24xlarge", False),
        ("ml.m5d.xlarge", False),
    ],
)
def test_job_volumes_use_the_data_key_unless_instance_store(instance_type, has_key):
    """SageMaker refuses VolumeKmsKeyId on instance-store types (their disks are hardware-encrypted)."""
    request = jumpstart.build_transform_request(
        job_name="j",
        model_name="m",
        input_uri="s3://b/in",
        output_uri="s3://b/out",
        instance_type=instance_type,
        kms_key_arn=KMS,
    )
    assert ("VolumeKmsKeyId" in request["TransformResources"]) is has_key
    assert jumpstart.has_instance_storage(instance_type) is not has_key


def test_training_volume_key_and_supported_instance_types(spec):
    request = training(spec)  # ml.p3.16xlarge: EBS
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    with pytest.raises(SpecError, match=r"1\.2\.2 does not support training on ml\.c5\.xlarge"):
        training(spec, instance_type="ml.c5.xlarge")
    with pytest.raises(SpecError, match=r"does not support inference on ml\.c5\.xlarge"):
        jumpstart.build_transform_request(
            job_name="j",
            model_name="m",
            input_uri="s3://b/in",
            output_uri="s3://b/out",
            instance_type="ml.c5.xlarge",
            spec=spec,
        )


def test_request_bodies_follow_the_containers_payload_contract(spec):
    import copy

    from radimpress.spec import ModelSpec

    assert jumpstart.request_body("p", max_length=8, num_beams=2, spec=spec) == {
        "text_inputs": "p",
        "max_length": 8,
        "num_beams": 2,
    }
    raw = copy.deepcopy(spec.raw)
    raw["inference"]["payload"] = {
        "container": "tgi",
        "prompt_key": "inputs",
        "parameters_key": "parameters",
        "max_length_key": "max_new_tokens",
        "response_path": "[0].generated_text",
    }
    tgi = ModelSpec("tgi", raw)
    assert jumpstart.request_body("p", max_length=8, num_beams=2, spec=tgi) == {
        "inputs": "p",
        "parameters": {"max_new_tokens": 8, "num_beams": 2},
    }


@pytest.mark.parametrize(
    "url", ["s3://bucket/models/weights/", "https://example.com/model.tar.gz", "model.tar.gz"]
)
def test_uncompressed_or_non_s3_model_data_is_refused(spec, url):
    with pytest.raises(SpecError, match=r"tar\.gz"):
        jumpstart.build_fine_tuned_model_request(
            spec, model_name="m", model_data_url=url, role_arn=ROLE
        )


def test_transform_request_carries_study_id_through(model):
    request = jumpstart.build_transform_request(
        job_name="radimpress-tf-0123456789abcdef0123",
        model_name="radimpress-pt-0123456789abcdef0123",
        input_uri="s3://bucket/runs/r1/transform/pre-trained/input.jsonl",
        output_uri="s3://bucket/runs/r1/transform/pre-trained/output",
        instance_type="ml.g5.2xlarge",
        kms_key_arn=KMS,
    )
    assert_valid(model, "CreateTransformJob", request)
    assert request["DataProcessing"] == {
        "InputFilter": "$.inputs",
        "JoinSource": "Input",
        "OutputFilter": "$['study_id','SageMakerOutput']",
    }
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == "application/json"
    assert "VolumeKmsKeyId" not in request["TransformResources"]  # g5: instance store
    assert request["TransformOutput"]["AssembleWith"] == "Line"


def test_transform_line_and_generated_text():
    line = jumpstart.transform_line("s1", "prompt", max_length=64, num_beams=4)
    assert line == {
        "study_id": "s1",
        "inputs": {"text_inputs": "prompt", "max_length": 64, "num_beams": 4},
    }
    out = {"study_id": "s1", "SageMakerOutput": {"generated_texts": ["No acute findings."]}}
    assert jumpstart.generated_text(out, "x") == "No acute findings."
    assert jumpstart.generated_text({"SageMakerOutput": [{"generated_text": "a"}]}, "x") == "a"
    with pytest.raises(OutputMismatch, match="line 3"):
        jumpstart.generated_text({"study_id": "s1", "SageMakerOutput": {}}, "file line 3")


# SageMaker's name pattern for training jobs, transform jobs (CreateTrainingJob TrainingJobName,
# CreateTransformJob TransformJobName in the SageMaker API reference; botocore's service model for
# sagemaker carries the same pattern with max 63), written out here rather than taken from the code
# under test. CreateModel's ModelName pattern, [a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?, accepts the
# same names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# template.yaml's StackName rule: lowercase, at most 39 characters, so '<stack>-<kind>-<20 hex>'
# fits 63. The longest allowed stack name, ending on a hyphen as the rule allows:
LONGEST_STACK = "r" + "a1-" * 12 + "z-"


def test_sagemaker_name_pattern_is_botocores(model):
    """The pattern above is the one botocore validates with (its service model for sagemaker)."""
    for operation, member in (
        ("CreateTrainingJob", "TrainingJobName"),
        ("CreateTransformJob", "TransformJobName"),
    ):
        shape = model.operation_model(operation).input_shape.members[member]
        assert shape.metadata["pattern"] == SAGEMAKER_NAME.pattern[1:-1]
        assert shape.metadata["max"] == 63
    # The pattern itself, on names that are and are not valid:
    assert SAGEMAKER_NAME.match("a" * 63) and not SAGEMAKER_NAME.match("a" * 64)
    assert SAGEMAKER_NAME.match("a--b") and not SAGEMAKER_NAME.match("-a")
    for bad in ("a-", "a_b", "a.b", "a b", ""):
        assert not SAGEMAKER_NAME.match(bad), bad


@pytest.mark.parametrize("prefix", ["radimpress", "a", LONGEST_STACK])
def test_resource_names_are_deterministic_and_valid(prefix):
    assert len(LONGEST_STACK) == 39 and LONGEST_STACK.lower() == LONGEST_STACK
    a = jumpstart.resource_name(prefix, "ft", "run-1")
    assert a == jumpstart.resource_name(prefix, "ft", "run-1")
    assert a != jumpstart.resource_name(prefix, "ft", "run-2")
    assert a.startswith(f"{prefix}-ft-")
    long_run = "x" * 80  # execution names may be 80 characters
    names = [
        a,
        jumpstart.resource_name(prefix, "tf", long_run, "fine-tuned"),
        jumpstart.pretrained_model_name(load_spec("jumpstart-flan-t5-xl"), prefix),
    ]
    for name in names:
        assert SAGEMAKER_NAME.match(name), name
    if prefix == LONGEST_STACK:
        assert [len(n) for n in names] == [63, 63, 63]


@pytest.mark.parametrize("prefix", ["Radimpress_1", "a" * 40, "-radimpress"])
def test_a_name_sagemaker_would_refuse_is_refused_here(prefix):
    with pytest.raises(SpecError, match="not a valid SageMaker name"):
        jumpstart.resource_name(prefix, "ft", "run-1")


def test_spec_selection_by_name_path_and_environment(tmp_path, monkeypatch):
    from radimpress.spec import load_spec as load

    monkeypatch.setenv("RADIMPRESS_MODEL_SPEC", "local-retrieval")
    assert load().is_local
    shipped = json.loads(
        (ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json").read_text()
    )
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({**shipped, "model_version": "9.9.9"}))
    monkeypatch.setenv("RADIMPRESS_MODEL_SPEC", str(path))
    monkeypatch.setenv("RADIMPRESS_MODEL_VERSION", "*")
    assert load().model_version == "9.9.9"
    monkeypatch.setenv("RADIMPRESS_MODEL_VERSION", "1.2.2")
    with pytest.raises(SpecError, match=re.escape("is for 9.9.9 but the stack asks for 1.2.2")):
        load()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schema_version": 2}, "schema_version 2"),
        ({"training": None}, "section 'training' is missing"),
        (
            {"inference": {"image_uri": "x", "instance_type": "y", "prompt_template": "no slot"}},
            "lacks '{findings}'",
        ),
    ],
)
def test_malformed_specs_are_named(tmp_path, change, problem):
    shipped = json.loads(
        (ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json").read_text()
    )
    path = tmp_path / f"bad{len(problem)}.json"
    path.write_text(json.dumps({**shipped, **change}))
    with pytest.raises(SpecError, match=re.escape(problem)) as err:
        load_spec(str(path))
    assert str(path) in str(err.value)


def test_unknown_spec_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"known specs: .*jumpstart-flan-t5-xl"):
        load_spec("no-such-spec")


def test_settings_name_a_bad_number(monkeypatch):
    from radimpress.settings import Settings

    monkeypatch.setenv("RADIMPRESS_EPOCHS", "three")
    with pytest.raises(SpecError, match="RADIMPRESS_EPOCHS must be an integer"):
        Settings.from_env()


def test_a_rewritten_spec_file_is_read_again(tmp_path):
    import os

    shipped = json.loads(
        (ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json").read_text()
    )
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**shipped, "model_version": "1.0.0"}))
    assert load_spec(str(path)).model_version == "1.0.0"
    path.write_text(json.dumps({**shipped, "model_version": "1.0.1"}))
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert load_spec(str(path)).model_version == "1.0.1"
