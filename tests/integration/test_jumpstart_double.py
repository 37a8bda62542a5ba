"""The JumpStart spec end to end on the local runtime, through the JumpStart container double.

train -> register -> transform -> score runs with ``jumpstart-flan-t5-xl`` as ``radimpress run
--spec jumpstart-flan-t5-xl`` runs it; then each known cloud-only defect is put back (in the
spec or in the double's stand-in training script) and the run must fail, naming why.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from radimpress.spec import SPECS_DIR
from radimpress_workstation.console import Console
from radimpress_workstation.job_backend.jumpstart import standin
from radimpress_workstation.runtime import LocalRun, RunFailed
from radimpress_workstation.synthetic import write_demo_files

SPEC = "jumpstart-flan-t5-xl"
IMAGE_2X_TRAINING = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
    "2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04"
)
TGI_PAYLOAD = {
    "prompt_key": "inputs",
    "parameters_key": "parameters",
    "max_length_key": "max_new_tokens",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_demo_files(tmp_path_factory.mktemp("js-data"), train=60, infer=12, seed=5)


def run(data, out: Path, spec: str = SPEC):
    local = LocalRun(
        data.train, data.infer, ["restate"], out, Console(io.StringIO()), dataset="js", spec=spec
    )
    return local.run()


def write_spec(tmp_path: Path, mutate) -> str:
    raw = json.loads((SPECS_DIR / f"{SPEC}.json").read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "mutated-spec.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return str(path)


def test_a_jumpstart_run_succeeds_end_to_end_on_the_double(data, tmp_path):
    result = run(data, tmp_path / "out")
    train, infer = result.phases
    assert train.execution.status == infer.execution.status == "SUCCEEDED"
    roles = {row["model_role"] for row in result.score_rows}
    assert roles == {"pre-trained", "fine-tuned"}
    assert {row["model_name"] for row in result.score_rows} == {"huggingface-text2text-flan-t5-xl"}
    scored = [row for row in result.score_rows if row["model_role"] == "fine-tuned"]
    assert len(scored) == result.input_records - result.rejected
    assert all(row["generated"] for row in scored)


def _training_image_2x(raw: dict[str, Any]) -> None:
    raw["training"]["image_uri"] = IMAGE_2X_TRAINING
    raw["regions"]["us-east-1"]["training"]["image_uri"] = IMAGE_2X_TRAINING


def _submit_directory_on_s3(raw: dict[str, Any]) -> None:
    raw["inference"]["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = raw["inference"]["source_uri"]


def _body_2x(raw: dict[str, Any]) -> None:
    raw["inference"]["payload"].update(TGI_PAYLOAD)


def _isolation_off(raw: dict[str, Any]) -> None:
    raw["inference"]["enable_network_isolation"] = False


def _epoch(raw: dict[str, Any]) -> None:
    # A spec whose name list was edited to let the misspelling through the request-side check.
    raw["training"]["hyperparameters"]["epoch"] = raw["training"]["hyperparameters"].pop("epochs")
    raw["training"]["hyperparameter_names"].append("epoch")


def _wrong_region_image(raw: dict[str, Any]) -> None:
    image = raw["regions"]["eu-west-1"]["training"]["image_uri"]
    raw["training"]["image_uri"] = image
    raw["regions"]["us-east-1"]["training"]["image_uri"] = image


@pytest.mark.parametrize(
    ("mutate", "state", "reason"),
    [
        pytest.param(
            _training_image_2x,
            "TrainingStatus",
            "training image and artifacts from different versions",
            id="version-pairing",
        ),
        pytest.param(
            _submit_directory_on_s3,
            "RegisterModel",
            "never downloaded by the Hugging Face inference toolkit",
            id="submit-directory-on-s3",
        ),
        pytest.param(_body_2x, "TransformStatus", "'text_inputs' is required", id="2x-body"),
        pytest.param(_isolation_off, "", "set EnableNetworkIsolation=true", id="isolation-off"),
        pytest.param(_epoch, "TrainingStatus", "unrecognized arguments: --epoch", id="epoch"),
        pytest.param(_wrong_region_image, "StartTraining", "is in region eu-west-1", id="region"),
    ],
)
def test_each_cloud_only_defect_put_back_fails_the_run(data, tmp_path, mutate, state, reason):
    with pytest.raises(RunFailed) as failed:
        run(data, tmp_path / "out", write_spec(tmp_path, mutate))
    assert reason in failed.value.cause
    if state:
        assert failed.value.state == state


def test_a_fine_tuned_archive_without_code_fails_the_transform(data, tmp_path, monkeypatch):
    monkeypatch.setattr(standin, "PACK_INFERENCE_CODE", False)
    with pytest.raises(RunFailed) as failed:
        run(data, tmp_path / "out")
    assert failed.value.phase == "infer"
    assert "no code/inference.py in the model archive" in failed.value.cause
