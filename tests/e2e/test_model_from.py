"""End to end: ``radimpress run --model-from RUN_DIR`` summarises with the model a run trained and
kept, through the same pipeline, without training again; a RUN_DIR that cannot give the model
asked for is a usage error (exit 2) found before anything runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from radimpress_workstation.cli import main
from radimpress_workstation.job_backend.backend import LocalJobBackend

FINE_TUNED = "fine-tuned (select)"


def impressions(folder: Path, model: str) -> dict[str, str]:
    rows = [json.loads(line) for line in (folder / "impressions.jsonl").read_text().splitlines()]
    return {r["study_id"]: r["generated"] for r in rows if r["model"] == model}


def only_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


@pytest.fixture(scope="module")
def reused(trained_run, tmp_path_factory):
    """A --model-from run of the trained run's folder, with every CreateTrainingJob counted."""
    out = tmp_path_factory.mktemp("reuse") / "out"
    trainings: list[str] = []
    mp = pytest.MonkeyPatch()
    original = LocalJobBackend.create_training_job

    def counted(self, **request):
        trainings.append(request.get("TrainingJobName", ""))
        return original(self, **request)

    mp.setattr(LocalJobBackend, "create_training_job", counted)
    try:
        argv = ["run", "--model-from", str(trained_run.folder), "--infer",
                str(trained_run.data.infer), "--out", str(out), "--quiet"]  # fmt: skip
        code = main(argv)
    finally:
        mp.undo()
    return code, only_folder(out), trainings


def test_the_training_run_keeps_its_model_in_its_folder(trained_run):
    folder = trained_run.folder / "models" / "select"
    record = json.loads((folder / "model.json").read_text())
    assert (folder / "model.tar.gz").stat().st_size == record["archive"]["bytes"] > 0
    assert record["run_id"] == trained_run.folder.name
    assert record["training_run_id"] == f"{trained_run.folder.name}-train-select"


def test_reuse_summarises_with_the_kept_model_and_trains_nothing(trained_run, reused):
    code, folder, trainings = reused
    assert code == 0
    assert trainings == []  # no CreateTrainingJob reached the job backend
    summary = json.loads((folder / "summary.json").read_text())
    assert [e["phase"] for e in summary["executions"]] == ["infer"]
    assert "training_job" not in summary["timings_seconds"]
    assert summary["training"] is None
    kept = json.loads((trained_run.folder / "models" / "select" / "model.json").read_text())
    assert summary["model_from"]["run_id"] == trained_run.folder.name
    assert summary["model_from"]["run_dir"] == str(trained_run.folder.resolve())
    (model,) = summary["model_from"]["models"]
    assert model["training_job"] == kept["training_job"]["TrainingJobName"]
    assert model["archive_sha256"] == kept["archive"]["sha256"]
    # the same model on the same findings: the same impressions as the run that trained it
    assert impressions(folder, FINE_TUNED) == impressions(trained_run.folder, FINE_TUNED)
    assert not (folder / "models").exists()  # it reused a model; it kept none of its own


def test_reuse_results_lead_back_to_the_training_run(trained_run, reused):
    _, folder, _ = reused
    (scores,) = (folder / "results").glob("scores/run_date=*/*.parquet")
    tuned = [r for r in pq.read_table(scores).to_pylist() if r["model_role"] == "fine-tuned"]
    assert tuned and {r["training_run_id"] for r in tuned} == {
        f"{trained_run.folder.name}-train-select"
    }
    assert {r["run_id"] for r in tuned} == {folder.name}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "restate"], "it holds no trained 'restate' model"),
        (["--spec", "jumpstart-flan-t5-xl"], "not with --spec jumpstart-flan-t5-xl"),
        (["--train", "{infer}"], "--model-from reuses a trained model; leave out --train"),
    ],
)
def test_asking_for_another_model_is_a_usage_error(trained_run, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    extra = [a.replace("{infer}", str(trained_run.data.infer)) for a in extra]
    argv = ["run", "--model-from", str(trained_run.folder), "--infer",
            str(trained_run.data.infer), "--out", str(out), *extra]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress run: error: ") and message in err
    assert not out.exists() or not list(out.iterdir())  # nothing ran


def test_a_run_dir_without_a_usable_model_is_a_usage_error(trained_run, reused, tmp_path, capsys):
    _, reuse_folder, _ = reused
    tampered = tmp_path / "copy" / trained_run.folder.name
    shutil.copytree(trained_run.folder, tampered)
    archive = tampered / "models" / "select" / "model.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-10])
    cases = [
        (tmp_path / "nowhere", "no such folder"),
        (trained_run.data.infer, "not a folder"),
        (trained_run.data.infer.parent, "not a run folder"),
        (reuse_folder, f"it reused the model of run {trained_run.folder.name}"),
        (tampered, "SHA-256 differs"),
    ]
    for run_dir, message in cases:
        out = tmp_path / "out"
        argv = ["run", "--model-from", str(run_dir), "--infer", str(trained_run.data.infer),
                "--out", str(out), "--quiet"]  # fmt: skip
        assert main(argv) == 2, run_dir
        err = capsys.readouterr().err
        assert err.startswith("radimpress run: error: --model-from: ") and message in err, err
        assert not out.exists() or not list(out.iterdir())


def test_a_jumpstart_fine_tune_is_reused_on_the_container_double(trained_run, tmp_path):
    data = trained_run.data
    first, second = tmp_path / "first", tmp_path / "second"
    argv = ["run", "--spec", "jumpstart-flan-t5-xl", "--train", str(data.train), "--infer",
            str(data.infer), "--out", str(first), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    trained = only_folder(first)
    assert (trained / "models" / "jumpstart-flan-t5-xl" / "model.tar.gz").is_file()
    argv = ["run", "--model-from", str(trained), "--infer", str(data.infer), "--out",
            str(second), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    reused = only_folder(second)
    label = "fine-tuned (huggingface-text2text-flan-t5-xl, stand-in: restate)"
    assert impressions(reused, label) == impressions(trained, label) != {}
    summary = json.loads((reused / "summary.json").read_text())
    assert summary["model_from"]["models"][0]["spec"] == "jumpstart-flan-t5-xl"
