"""Placeholders come back in the input's convention: through `radimpress evaluate` and through a
local transform job (StartTransform's input lines -> the local container), whatever the training
file used. The pipeline normalises findings to ``___`` before a model sees them, so the original
convention has to travel beside them."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from handler_support import BUCKET, ROLE

from radimpress import jumpstart
from radimpress.spec import load_spec
from radimpress.steps.start_transform import write_transform_input
from radimpress_training.models import base
from radimpress_workstation.cli import main
from radimpress_workstation.job_backend.backend import LocalJobBackend
from radimpress_workstation.job_backend.job_record import ContainerError
from radimpress_workstation.job_backend.local_container import LocalServingModel

# Training impressions in one convention; test findings in another.
TRAIN = [
    {"study_id": "t1", "findings": "Heart normal. Lungs clear.", "impression": "Normal chest."},
    {
        "study_id": "t2",
        "findings": "Heart is enlarged since ___. Lungs clear.",
        "impression": "Cardiomegaly since ___.",
    },
    {"study_id": "t3", "findings": "Large left effusion.", "impression": "Left effusion."},
]
QUERY = "Heart is enlarged since {}. Lungs clear."


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("model", ["select", "restate", "consensus", "retrieval"])
@pytest.mark.parametrize("placeholder", ["XXXX", "___"])
def test_evaluate_answers_in_the_test_files_convention(
    tmp_path: Path, model: str, placeholder: str
) -> None:
    train = _write(tmp_path / "train.jsonl", TRAIN)
    test = _write(
        tmp_path / "test.jsonl",
        [{"study_id": "d1", "findings": QUERY.format(placeholder), "impression": "x"}],
    )
    out = tmp_path / "out"
    args = ["evaluate", "--train", str(train), "--test", str(test), "--output", str(out)]
    assert main([*args, "--model", model]) == 0
    generated = json.loads((out / "predictions.jsonl").read_text())["generated"]
    assert generated == f"Cardiomegaly since {placeholder}."


def test_transform_lines_carry_the_convention_for_local_specs_only() -> None:
    local, jumpstart_spec = load_spec("local-select"), load_spec("jumpstart-flan-t5-xl")
    line = jumpstart.transform_line(
        "s1", "p", max_length=8, num_beams=1, spec=local, placeholder_convention="XXXX"
    )
    assert line["inputs"][jumpstart.PLACEHOLDER_CONVENTION_FIELD] == "XXXX"
    line = jumpstart.transform_line(
        "s1", "p", max_length=8, num_beams=1, spec=jumpstart_spec, placeholder_convention="XXXX"
    )
    assert line["inputs"] == {"text_inputs": "p", "max_length": 8, "num_beams": 1}


def test_start_transform_detects_the_original_findings_convention(s3: Any) -> None:
    records = [
        {"study_id": "a", "findings": QUERY.format("XXXX")},
        {"study_id": "b", "findings": QUERY.format("___")},
        {"study_id": "c", "findings": "Lungs clear."},
    ]
    s3.put_object(
        Bucket=BUCKET,
        Key="records.jsonl",
        Body="".join(json.dumps(r) + "\n" for r in records).encode(),
    )
    settings = type("S", (), {"max_length": 50, "num_beams": 1})()
    for spec_name, want in (
        ("local-select", ["XXXX", "___", None]),
        ("jumpstart-flan-t5-xl", [None, None, None]),
    ):
        spec = load_spec(spec_name)
        write_transform_input(s3, BUCKET, "records.jsonl", "in.jsonl", spec, settings)  # type: ignore[arg-type]
        body = s3.get_object(Bucket=BUCKET, Key="in.jsonl")["Body"].read().decode()
        inputs = [json.loads(line)["inputs"] for line in body.splitlines()]
        assert [i.get(jumpstart.PLACEHOLDER_CONVENTION_FIELD) for i in inputs] == want
        assert "XXXX" not in body.replace('"XXXX"', "")  # prompts stay normalised


def _trained_select() -> Any:
    pairs = [base.TrainingPair(r["findings"], r["impression"]) for r in TRAIN]
    return base.get_model_class("select")().fit(pairs)


def test_local_serving_model_answers_each_line_in_its_convention() -> None:
    serving = LocalServingModel(_trained_select())
    field = jumpstart.PLACEHOLDER_CONVENTION_FIELD
    query = QUERY.format("___")
    bodies = [
        {"text_inputs": query, field: "XXXX"},
        {"text_inputs": query, field: "___"},
        {"text_inputs": query},
        query,
    ]
    answers = serving.predict([serving.decode(b) for b in bodies])
    texts = [a["generated_texts"][0] for a in answers]
    assert texts == [
        "Cardiomegaly since XXXX.",
        "Cardiomegaly since ___.",
        "Cardiomegaly since ___.",  # no convention given: the training impressions' one
        "Cardiomegaly since ___.",
    ]
    with pytest.raises(ContainerError, match=field):
        serving.decode({"text_inputs": query, field: "####"})
    with pytest.raises(ContainerError, match=field):
        serving.decode({"text_inputs": query, field: ["XXXX"]})


@pytest.mark.parametrize("placeholder", ["XXXX", "___"])
def test_local_transform_job_answers_in_the_inputs_convention(s3: Any, placeholder: str) -> None:
    model = _trained_select()
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in Path(tmp).iterdir():
                tar.add(path, arcname=path.name)
    s3.put_object(Bucket=BUCKET, Key="models/m/model.tar.gz", Body=archive.getvalue())
    records = [{"study_id": "a", "findings": QUERY.format(placeholder)}]
    s3.put_object(Bucket=BUCKET, Key="records.jsonl", Body=json.dumps(records[0]).encode())
    settings = type("S", (), {"max_length": 50, "num_beams": 1})()
    spec = load_spec("local-select")
    write_transform_input(s3, BUCKET, "records.jsonl", "tf/in/input.jsonl", spec, settings)  # type: ignore[arg-type]
    backend = LocalJobBackend(s3_factory=lambda: s3)
    try:
        backend.create_model(
            ModelName="select-m",
            PrimaryContainer={
                "Image": "radimpress-local/select",
                "ModelDataUrl": f"s3://{BUCKET}/models/m/model.tar.gz",
            },
            ExecutionRoleArn=ROLE,
        )
        request = jumpstart.build_transform_request(
            job_name="tf-1",
            model_name="select-m",
            input_uri=f"s3://{BUCKET}/tf/in/input.jsonl",
            output_uri=f"s3://{BUCKET}/tf/out",
            instance_type="ml.m5.large",
        )
        backend.create_transform_job(**request)
        backend.wait()
        status = backend.describe_transform_job(TransformJobName="tf-1")
        assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
    finally:
        backend.shutdown()
    line = s3.get_object(Bucket=BUCKET, Key="tf/out/input.jsonl.out")["Body"].read().decode()
    output = json.loads(line)
    assert jumpstart.generated_text(output, "line 1") == f"Cardiomegaly since {placeholder}."
