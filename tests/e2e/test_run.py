"""End to end: `radimpress run` on generated reports, through the real state machine on moto."""

from __future__ import annotations

import io
import json

import pytest

from radimpress.spec import SPECS_DIR
from radimpress_training.models import DEFAULT_MODEL, available_models
from radimpress_workstation.cli import main
from radimpress_workstation.console import Console
from radimpress_workstation.model_specs import local_spec
from radimpress_workstation.runtime import LocalRun, RunFailed, summaries
from radimpress_workstation.synthetic import write_demo_files

# The Wait states are entered only while a job is still running at a check (local jobs on small
# files often finish first); tests/integration/test_pipeline_moto.py drives the Wait path.
TRAIN_STATES = {"Ingest", "Route", "StartTraining", "TrainingStatus", "TrainingDone"}
TRAIN_STATES |= {"RegisterModel", "Publish"}
INFER_STATES = {"Ingest", "Route", "ResolveModels", "SummarizeEachModel", "StartTransform"}
INFER_STATES |= {"TransformStatus", "TransformDone", "Score", "Publish"}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = write_demo_files(root / "synthetic", train=200, infer=60, seed=3)
    stream = io.StringIO()
    run = LocalRun(
        data.train, data.infer, [DEFAULT_MODEL], root / "out", Console(stream), dataset="synthetic"
    )
    return data, run.run(), stream.getvalue()


def _labels(result):
    return sorted({row["model"] for row in result.score_rows})


def test_the_executions_visit_the_pipelines_states(local_run):
    _, result, _ = local_run
    train, infer = result.phases
    assert (train.phase, infer.phase) == ("train", "infer")
    assert train.execution.status == infer.execution.status == "SUCCEEDED"
    assert set(train.execution.visited) >= TRAIN_STATES
    assert set(infer.execution.visited) >= INFER_STATES
    assert "RecordFailure" not in train.execution.visited + infer.execution.visited
    # Every job is checked right after it starts; a Wait is always followed by another check.
    for visited, start, check, wait in (
        (train.execution.visited, "StartTraining", "TrainingStatus", "WaitForTraining"),
        (infer.execution.visited, "StartTransform", "TransformStatus", "WaitForTransform"),
    ):
        assert visited.count(check) == visited.count(start) + visited.count(wait)
    # Two models (baseline and trained) went through Batch Transform and scoring.
    assert infer.execution.visited.count("Score") == 2


def test_every_input_record_is_scored_or_rejected(local_run):
    data, result, _ = local_run
    assert result.input_records == data.infer_records == 65
    assert result.rejected == data.infer_bad == 5
    labels = _labels(result)
    assert len(labels) == 2
    for label in labels:
        rows = [r for r in result.score_rows if r["model"] == label]
        scored = [r for r in rows if isinstance(r.get("rouge1"), dict)]
        assert len(scored) + result.rejected == result.input_records
        assert len({r["study_id"] for r in rows}) == len(rows)


def test_outputs_are_written_under_the_run_folder(local_run):
    _, result, _ = local_run
    out = result.out_dir
    assert out.name == result.run_id
    for name in ("impressions.jsonl", "scores.jsonl", "rejected.jsonl", "summary.json"):
        assert (out / name).is_file(), name
    impressions = [json.loads(x) for x in (out / "impressions.jsonl").read_text().splitlines()]
    assert len(impressions) == 2 * 60
    assert all(row["generated"] for row in impressions)
    rejected = (out / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 5
    assert list(out.joinpath("results").rglob("*.parquet"))
    assert list(out.joinpath("results").rglob("report.html"))
    summary = json.loads((out / "summary.json").read_text())
    assert {row["model"] for row in summary["models_scored"]} == set(_labels(result))


def test_the_trained_default_beats_the_lead_baseline(local_run):
    _, result, _ = local_run
    groups = {g.model: g for g in summaries(result.score_rows)}
    assert set(groups) == {f"fine-tuned ({DEFAULT_MODEL})", "pre-trained (lead)"}, groups
    trained, baseline = groups[f"fine-tuned ({DEFAULT_MODEL})"], groups["pre-trained (lead)"]
    for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert trained.mean_f1[metric] > baseline.mean_f1[metric] + 0.1, metric
    stats = trained.distributions["rouge1"]
    assert stats.count == 60 and trained.dataset == "synthetic"
    assert stats.min <= stats.p25 <= stats.p50 <= stats.p75 <= stats.max


def test_progress_names_states_and_jobs_but_never_report_text(local_run):
    data, result, printed = local_run
    assert "-> Ingest" in printed and "-> RegisterModel" in printed
    assert "training job" in printed and "transform job" in printed
    assert "Completed" in printed
    records = [json.loads(x) for x in data.infer.read_text().splitlines()[:20]]
    history = json.dumps(
        [p.execution.history for p in result.phases], default=str, ensure_ascii=False
    )
    for record in records:
        for text in (record["findings"], record.get("impression")):
            assert text not in printed
            assert text not in history


def test_cli_prints_the_tables_and_a_failure_exits_non_zero(tmp_path, capsys):
    data = write_demo_files(tmp_path / "small", train=40, infer=10, seed=9, with_bad=False)
    # Inference only (no --train): one execution, the baseline alone.
    assert main(["run", "--infer", str(data.infer), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Mean ROUGE F1 per model and dataset" in printed
    assert "Distribution of per-report ROUGE F1" in printed
    assert "pre-trained (lead): scored 10 + rejected 0 = 10" in printed
    assert "impressions.jsonl" in printed

    broken = tmp_path / "broken" / "train.jsonl"
    broken.parent.mkdir()
    broken.write_text("this is not JSON\n")
    code = main(["run", "--train", str(broken), "--infer", str(data.infer),
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert code == 2  # found before any training (issue 18 item 6)
    error = capsys.readouterr().err
    assert error.startswith("radimpress run: error: --train: not JSON")


def test_shipped_local_specs_are_the_generated_ones():
    for model in available_models():
        path = SPECS_DIR / f"local-{model}.json"
        if path.exists():
            assert json.loads(path.read_text()) == local_spec(model), path
    assert (SPECS_DIR / f"local-{DEFAULT_MODEL}.json").exists()


def test_an_image_with_no_local_container_fails_at_start_training_naming_the_local_models(
    tmp_path,
):
    # JumpStart specs run on the container double (tests/integration/test_jumpstart_double.py);
    # an image that neither the double nor a local model answers for is refused.
    data = write_demo_files(tmp_path / "js", train=20, infer=5, seed=4, with_bad=False)
    raw = json.loads((SPECS_DIR / "jumpstart-flan-t5-xl.json").read_text(encoding="utf-8"))
    raw.pop("regions")
    raw["training"]["image_uri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/custom:1"
    spec_path = tmp_path / "custom-spec.json"
    spec_path.write_text(json.dumps(raw), encoding="utf-8")
    run = LocalRun(
        data.train,
        data.infer,
        [DEFAULT_MODEL],
        tmp_path / "out",
        Console(io.StringIO()),
        spec=str(spec_path),
    )
    with pytest.raises(RunFailed) as failed:
        run.run()
    assert failed.value.phase == "train" and failed.value.state == "StartTraining"
    for model in available_models():
        assert model in failed.value.cause
    assert "RecordFailure" in failed.value.execution.visited
