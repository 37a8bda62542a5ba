"""Our boto3 training request equals the one the SageMaker Python SDK v2 sends.

The SDK reads the JumpStart metadata fixture (tests/fixtures/jumpstart) through its local-override
variables; ``JumpStartEstimator.fit`` is run and its CreateTrainingJob call captured before it is
sent. The checked-in spec must be exactly what the resolver writes from that fixture.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from radimpress.errors import SpecError
from radimpress.jumpstart import build_training_request
from radimpress.spec import ModelSpec, load_spec

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "jumpstart"
MODEL_ID = "huggingface-text2text-flan-t5-xl"
JOB = "radimpress-ft-parity0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"
TRAIN = "s3://radimpress-data/runs/r1/train/data/"
OUTPUT = "s3://radimpress-data/runs/r1/train/output"


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
    return resolver.resolve(region="us-east-1", model_version="*", source="test")


def sdk_request(sdk, hyperparameters: dict[str, str]) -> dict:
    _, session, resolver = sdk
    from sagemaker.jumpstart.estimator import JumpStartEstimator

    estimator = JumpStartEstimator(
        model_id=MODEL_ID,
        model_version="2.3.0",
        role=ROLE,
        instance_type="ml.p3.16xlarge",
        hyperparameters=hyperparameters,
        output_path=OUTPUT,
        sagemaker_session=session,
    )
    return resolver.capture_training_request(estimator, TRAIN, JOB)


def test_checked_in_spec_is_what_the_resolver_writes_from_the_fixture(resolved):
    shipped = json.loads(
        (ROOT / "functions/radimpress/specs/jumpstart-flan-t5-xl.json").read_text()
    )
    assert "fixture" in shipped["source"].lower()  # honest about where it came from
    assert {**shipped, "source": ""} == {**resolved, "source": ""}


def test_training_request_matches_the_sdk(sdk, resolved):
    sent = sdk_request(sdk, {"epochs": "5"})
    ours = build_training_request(
        ModelSpec("fixture", resolved),
        job_name=JOB,
        role_arn=ROLE,
        train_uri=TRAIN,
        output_uri=OUTPUT,
        region="us-east-1",
        instance_type="ml.p3.16xlarge",
        epochs=5,
    )
    # What we add on purpose: GZIP output said explicitly (Batch Transform needs model.tar.gz).
    assert ours["OutputDataConfig"].pop("CompressionType") == "GZIP"
    # What we leave out on purpose: SDK defaults for Debugger and Profiler output.
    expected = copy.deepcopy(sent)
    assert expected.pop("DebugHookConfig")["S3OutputPath"] == OUTPUT
    assert expected.pop("ProfilerConfig")["S3OutputPath"] == OUTPUT
    assert ours == expected
    hps = ours["HyperParameters"]
    assert hps["epochs"] == '"5"'
    assert hps["sagemaker_program"] == '"transfer_learning.py"'
    assert hps["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    assert hps["sagemaker_job_name"] == json.dumps(JOB)
    assert [c["ChannelName"] for c in ours["InputDataConfig"]] == ["training", "model", "code"]


def test_epochs_default_and_names_agree_with_the_sdk(sdk, resolved):
    sagemaker, session, _ = sdk
    from sagemaker import hyperparameters

    defaults = hyperparameters.retrieve_default(
        model_id=MODEL_ID, model_version="2.3.0", sagemaker_session=session
    )
    assert set(defaults) == set(resolved["training"]["hyperparameter_names"])
    assert resolved["training"]["hyperparameters"]["epochs"] == "3"  # the blog's setting
    with pytest.raises(sagemaker.jumpstart.exceptions.JumpStartHyperparametersError):
        hyperparameters.validate(
            model_id=MODEL_ID,
            model_version="2.3.0",
            hyperparameters={**defaults, "epoch": "3"},
            sagemaker_session=session,
        )
    spec = ModelSpec("fixture", resolved)
    spec.training["hyperparameters"]["epoch"] = "3"
    try:
        with pytest.raises(SpecError, match="epoch"):
            build_training_request(
                spec, job_name=JOB, role_arn=ROLE, train_uri=TRAIN, output_uri=OUTPUT, region="x"
            )
    finally:
        del spec.training["hyperparameters"]["epoch"]


def test_shipped_spec_loads_and_matches_the_template_defaults():
    spec = load_spec("jumpstart-flan-t5-xl")
    assert spec.model_id == MODEL_ID
    assert spec.inference["model_uri"].endswith(".tar.gz")
    names = {m["Name"] for m in spec.training["metric_definitions"]}
    assert any("train-loss" in n for n in names)
    assert any("eval-loss" in n for n in names)
    assert any("epoch" in n for n in names)


def test_resolver_command_writes_the_spec(sdk, tmp_path, resolved):
    _, _, resolver = sdk
    target = tmp_path / "spec.json"
    code = resolver.main(
        [
            "--region",
            "us-east-1",
            "--metadata-dir",
            str(FIXTURE),
            "--output",
            str(target),
            "--source",
            "test",
        ]
    )
    assert code == 0
    assert json.loads(target.read_text()) == resolved
