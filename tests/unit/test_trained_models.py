"""Kept models: what a training run leaves in its folder, finding it again with clear errors,
choosing the model asked for, putting it back into a stack (the pieces that need no stack), and
loading it as a served model."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from handler_support import BUCKET

from radimpress.spec import load_spec
from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD, BadRequest
from radimpress_workstation.model_restore import (
    ModelRestoreFailed,
    RestoredTrainingJobs,
    check_used,
    rebased,
)
from radimpress_workstation.served_model import SCRATCH, choose_served, served_model
from radimpress_workstation.trained_models import (
    MANIFEST,
    KeptModel,
    ModelFromError,
    choose,
    keep_trained_model,
    kept_models,
    model_label,
)

SENTINEL = "SENTINEL-91c2 right lower lobe opacity"
JOB = "radimpress-local-ft-0123456789abcdef0123"
KEY = f"models/{JOB}/output/model.tar.gz"
ROLE = "arn:aws:iam::123456789012:role/old-SageMakerExecutionRole-1"
KMS = "arn:aws:kms:us-east-1:123456789012:key/old"


def model_archive(model: str = "retrieval") -> bytes:
    """A real local model trained on a few pairs (one holds the sentinel), as model.tar.gz."""
    import tempfile

    from radimpress_training.models import TrainingPair, get_model_class

    pairs = [TrainingPair(f"Finding {i} is present. Lungs are clear.", f"Finding {i}.")
             for i in range(12)]  # fmt: skip
    pairs.append(TrainingPair(f"{SENTINEL} is seen.", SENTINEL))
    with tempfile.TemporaryDirectory() as folder:
        get_model_class(model)().fit(pairs).save(folder)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(Path(folder).iterdir()):
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


def described(model: str = "retrieval") -> dict[str, Any]:
    ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return {
        "TrainingJobName": JOB,
        "TrainingJobStatus": "Completed",
        "AlgorithmSpecification": {"TrainingImage": f"radimpress-local/{model}"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/", "KmsKeyId": KMS},
        "ResourceConfig": {"InstanceType": "local", "VolumeKmsKeyId": KMS},
        "InputDataConfig": [
            {"DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/runs/r-train/data/"}}}
        ],
        "CreationTime": ended,
        "TrainingEndTime": ended,
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/{KEY}"},
    }


def keep(s3, run_dir: Path, model: str = "retrieval", label: str | None = None) -> KeptModel:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=model_archive(model))
    (run_dir / "summary.json").write_text(json.dumps({"training": {"file": "t.jsonl"}}))
    return keep_trained_model(
        s3,
        out_dir=run_dir,
        label=label or model,
        spec=load_spec(f"local-{model}"),
        spec_reference=f"local-{model}",
        training_job=described(model),
        model={"ModelName": JOB, "PrimaryContainer": {"Image": f"radimpress-local/{model}"}},
        run_id=run_dir.name,
        training_run_id=f"{run_dir.name}-train-{model}",
        dataset="synthetic",
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "local-20260101-000000-abcdef"
    folder.mkdir(parents=True)
    return folder


# ----- keeping ---------------------------------------------------------------------------------


def test_a_kept_model_is_its_archive_and_a_manifest_without_report_text(s3, run_dir):
    kept = keep(s3, run_dir)
    assert kept.archive == run_dir / "models" / "retrieval" / "model.tar.gz"
    assert kept.archive.read_bytes() == s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    record = json.loads((kept.folder / MANIFEST).read_text())
    assert record["training_job"]["TrainingEndTime"] == "2026-01-02T03:04:05+00:00"
    assert record["archive"]["bytes"] == kept.archive.stat().st_size
    assert record["spec"]["model_id"] == "radimpress-local-retrieval"
    assert kept.local_model == "retrieval" and kept.job_name == JOB
    assert SENTINEL not in (kept.folder / MANIFEST).read_text()
    assert not list(kept.folder.glob(".*partial"))
    kept.check_archive()


def test_the_label_is_the_model_or_the_specs_stem():
    assert model_label("select", None) == "select"
    assert model_label("select", "jumpstart-flan-t5-xl") == "jumpstart-flan-t5-xl"
    assert model_label("select", "/x/specs/my-spec.json") == "my-spec"


# ----- finding it again ------------------------------------------------------------------------


def test_a_run_folder_with_its_model_is_found(s3, run_dir):
    keep(s3, run_dir)
    (found,) = kept_models(run_dir)
    assert found.job_name == JOB and found.run_id == run_dir.name


@pytest.mark.parametrize(
    ("summary", "reason"),
    [
        ({"training": None}, "the run had no --train file"),
        (
            {"training": None, "model_from": {"run_dir": "/o/r1", "run_id": "r1"}},
            "it reused the model of run r1 (/o/r1); use that folder",
        ),
        ({"training": {"file": "t.jsonl"}}, "ran before runs kept their models"),
    ],
)
def test_a_run_folder_without_a_model_says_why(run_dir, summary, reason):
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ModelFromError) as caught:
        kept_models(run_dir)
    assert reason in caught.value.what and caught.value.where == str(run_dir)


def test_what_is_not_a_run_folder_is_named(tmp_path):
    with pytest.raises(ModelFromError, match="no such folder"):
        kept_models(tmp_path / "missing")
    (tmp_path / "file.jsonl").write_text("{}")
    with pytest.raises(ModelFromError, match="not a folder"):
        kept_models(tmp_path / "file.jsonl")
    with pytest.raises(ModelFromError, match="not a run folder"):
        kept_models(tmp_path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.pop("training_job"), "field 'training_job' is missing"),
        (lambda r: r["spec"].pop("model_id"), "field 'spec.model_id' is missing"),
        (lambda r: r.update(schema_version=9), "field 'schema_version' is 9, not 1"),
        (lambda r: r.update(archive="x"), "field 'archive' is not an object"),
    ],
)
def test_a_broken_manifest_names_its_file_and_field(s3, run_dir, change, reason):
    kept = keep(s3, run_dir)
    record = json.loads((kept.folder / MANIFEST).read_text())
    change(record)
    (kept.folder / MANIFEST).write_text(json.dumps(record))
    with pytest.raises(ModelFromError) as caught:
        kept_models(run_dir)
    assert caught.value.what == reason and caught.value.where == str(kept.folder / MANIFEST)


def test_a_changed_or_missing_archive_is_refused(s3, run_dir):
    kept = keep(s3, run_dir)
    kept.archive.write_bytes(kept.archive.read_bytes() + b"x")
    with pytest.raises(ModelFromError, match="SHA-256 differs"):
        kept.check_archive()
    kept.archive.unlink()
    with pytest.raises(ModelFromError, match="archive is missing"):
        kept.check_archive()


def test_choose_by_model_by_spec_or_all(s3, run_dir):
    (kept,) = [keep(s3, run_dir)]
    assert choose([kept], models=None, spec=None) == [kept]
    assert choose([kept], models=["retrieval"], spec=None) == [kept]
    assert choose([kept], models=None, spec=load_spec("local-retrieval")) == [kept]
    with pytest.raises(ModelFromError, match="holds no trained 'select' model"):
        choose([kept], models=["select"], spec=None)
    with pytest.raises(ModelFromError, match="not with --spec jumpstart-flan-t5-xl"):
        choose([kept], models=None, spec=load_spec("jumpstart-flan-t5-xl"))


# ----- putting it back (no stack) --------------------------------------------------------------


def test_the_kept_description_is_rebased_onto_the_new_stack_only():
    old = json.loads(json.dumps(described(), default=str))
    moved = rebased(old, "new-bucket", "arn:aws:iam::123456789012:role/new", "new-key")
    assert moved["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://new-bucket/{KEY}"
    assert moved["OutputDataConfig"] == {"S3OutputPath": "s3://new-bucket/models/",
                                         "KmsKeyId": "new-key"}  # fmt: skip
    assert moved["ResourceConfig"]["VolumeKmsKeyId"] == "new-key"
    assert moved["RoleArn"].endswith("role/new")
    assert moved["TrainingJobName"] == JOB and moved["TrainingEndTime"] == old["TrainingEndTime"]


class Backend:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        self.asked.append(TrainingJobName)
        return {"TrainingJobName": TrainingJobName}

    def create_model(self, **request: Any) -> str:
        return "created"


def test_restored_jobs_are_described_as_kept_and_the_rest_is_the_backends():
    backend = Backend()
    kept = json.loads(json.dumps(described(), default=str))
    jobs = RestoredTrainingJobs(backend, {JOB: kept})
    answer = jobs.describe_training_job(TrainingJobName=JOB)
    assert answer["TrainingEndTime"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert backend.asked == []  # no job by that name was asked of the backend
    assert jobs.describe_training_job(TrainingJobName="other") == {"TrainingJobName": "other"}
    assert jobs.create_model(ModelName="m") == "created"


def test_a_run_that_did_not_compare_the_reused_model_fails(s3, run_dir):
    kept = keep(s3, run_dir)
    check_used({"models": {"items": [{"model_key": "pre-trained"}, {"training_job": JOB}]}}, kept)
    with pytest.raises(ModelRestoreFailed, match="ResolveModels chose no fine-tuned model"):
        check_used({"models": {"items": [{"model_key": "pre-trained"}]}}, kept)


# ----- serving it ------------------------------------------------------------------------------


def test_a_kept_local_model_is_served_behind_the_1x_contract(s3, run_dir):
    from radimpress_training.models import load_model

    kept = keep(s3, run_dir)
    with served_model(kept, ENDPOINT_MAX_PAYLOAD) as served:
        assert (run_dir / SCRATCH).is_dir()
        body = {"text_inputs": ["Finding 3 is present. Lungs are clear.", f"{SENTINEL} is seen."]}
        answer = served.invoke(json.dumps(body).encode(), "application/json", None)
        with kept.extracted(run_dir / "check") as folder:
            expected = load_model(folder).predict(body["text_inputs"])
        assert answer == {"generated_texts": expected}
        with pytest.raises(BadRequest) as caught:
            served.invoke(b'{"inputs": "x"}', "application/json", None)
        assert caught.value.status == 400
    assert not (run_dir / SCRATCH).exists()  # the extracted archive goes with the server


def test_several_kept_models_need_model(s3, run_dir):
    first = keep(s3, run_dir, label="retrieval")
    second = keep(s3, run_dir, model="restate")
    assert choose_served([first, second], "restate", run_dir) == second
    with pytest.raises(ModelFromError, match=r"several trained models \(retrieval, restate\)"):
        choose_served([first, second], None, run_dir)
    with pytest.raises(ModelFromError, match="holds no trained 'select' model"):
        choose_served([first, second], "select", run_dir)


def test_an_archive_the_container_cannot_load_is_a_usage_error(s3, run_dir):
    kept = keep(s3, run_dir)
    record = dict(kept.record, model={"PrimaryContainer": {"Image": "radimpress-local/select"}})
    with (
        pytest.raises(ModelFromError, match="cannot be served"),
        served_model(KeptModel(kept.folder, record), ENDPOINT_MAX_PAYLOAD),
    ):
        pass
