"""End to end: two local runs carry their lineage (summary.json, Parquet, report); `radimpress
compare` lines their models up side by side and refuses a folder that is not a complete run;
`radimpress queries RUN1 RUN2` runs the named queries over both."""

from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from radimpress_workstation import sql
from radimpress_workstation.cli import main
from radimpress_workstation.run_folders import mark_incomplete
from radimpress_workstation.synthetic import write_demo_files


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A run of select, then a run of select and restate on a larger training file."""
    root = tmp_path_factory.mktemp("compare")
    out = root / "out"
    folders = []
    for name, train, models in (("first", 40, ["select"]), ("second", 60, ["select", "restate"])):
        data = write_demo_files(root / name, train=train, infer=12, seed=5, with_bad=False)
        argv = ["run", "--train", str(data.train), "--infer", str(data.infer), "--out", str(out)]
        argv += [arg for model in models for arg in ("--model", model)]
        before = set(out.iterdir()) if out.exists() else set()
        assert main([*argv, "--quiet"]) == 0
        (folder,) = set(out.iterdir()) - before
        folders.append((folder, data))
    return folders


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_run_records_its_lineage(two_runs):
    folder, data = two_runs[1]
    lineage = json.loads((folder / "summary.json").read_text())["lineage"]
    assert lineage["run_id"] == folder.name and lineage["runtime"] == "local"
    assert lineage["input"]["sha256"] == sha256(data.infer)
    assert lineage["input"]["records"] == 12
    assert lineage["cost"] is None  # local jobs bill nothing
    assert lineage["code_version"]
    assert [j["kind"] for j in lineage["jobs"]] == ["transform"] * 4  # 2 models x (lead + tuned)
    assert all(j["seconds"] is not None and j["seconds"] >= 0 for j in lineage["jobs"])
    trainings = lineage["training_runs"]
    assert [t["route"] for t in trainings] == ["train", "train"]
    assert {t["input"]["sha256"] for t in trainings} == {sha256(data.train)}
    assert all(t["input"]["records"] == 60 for t in trainings)
    assert all(t["jobs"][0]["hyperparameters"] for t in trainings)
    # The fine-tuned rows' training_run_id reaches the training run's lineage rows.
    (scores,) = (folder / "results" / "scores").rglob("*.parquet")
    (lineage_file,) = (folder / "results" / "lineage").rglob("*.parquet")
    lineage_rows = pq.read_table(lineage_file).to_pylist()
    trained_by = {r["training_run_id"] for r in pq.read_table(scores).to_pylist()} - {""}
    assert trained_by == {t["run_id"] for t in trainings}
    assert trained_by <= {r["run_id"] for r in lineage_rows if r["route"] == "train"}
    html = next((folder / "results").rglob("report.html")).read_text(encoding="utf-8")
    assert "<h2>Lineage</h2>" in html and sha256(data.infer) in html
    assert sha256(data.train) in html


def test_a_reused_model_keeps_its_training_runs_lineage(two_runs, tmp_path):
    """run --model-from: nothing is trained, yet the lineage names the training run behind the
    model, as the run that trained it recorded it, and counts its rows only there."""
    (first, data), _ = two_runs
    out = tmp_path / "out"
    argv = ["run", "--model-from", str(first), "--infer", str(data.infer), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    (folder,) = out.iterdir()
    lineage = json.loads((folder / "summary.json").read_text())["lineage"]
    original = json.loads((first / "summary.json").read_text())["lineage"]["training_runs"]
    (reused,) = lineage["training_runs"]
    assert reused["reused_from"] == str(first)
    assert {k: v for k, v in reused.items() if k != "reused_from"} == original[0]
    assert reused["run_id"] not in lineage["executions"]
    (rows_file,) = (folder / "results" / "lineage").rglob("*.parquet")
    assert {r["route"] for r in pq.read_table(rows_file).to_pylist()} == {"infer"}
    html = next((folder / "results").rglob("report.html")).read_text(encoding="utf-8")
    assert f"<h3>Training run {reused['run_id']}</h3>" in html and "Model reused from" in html


def test_compare_prints_and_writes_the_models_side_by_side(two_runs, tmp_path, capsys):
    (first, _), (second, _) = two_runs
    assert main(["compare", str(second), str(first), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.index(first.name) < printed.index(second.name)  # oldest run first
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["run_id"] for r in data["runs"]] == [first.name, second.name]
    models = {m["model"]: m["runs"] for m in data["models"]}
    assert set(models) == {"fine-tuned (select)", "fine-tuned (restate)", "pre-trained (lead)"}
    select = models["fine-tuned (select)"]
    assert [r["run_id"] for r in select] == [first.name, second.name]  # the same model over time
    for folder, entry in zip((first, second), select, strict=True):
        (summary,) = (folder / "results" / "runs").rglob("*.parquet")
        row = next(
            r for r in pq.read_table(summary).to_pylist() if r["model"] == "fine-tuned (select)"
        )
        assert entry["rougel_f1"] == row["rougel_f1"]
        assert entry["clinical_f1"] == row["clinical_f1"]
    assert select[1]["rougel_f1_change"] == pytest.approx(
        select[1]["rougel_f1"] - select[0]["rougel_f1"]
    )
    assert "fine-tuned (restate)" in page and first.name in page and second.name in page


def test_compare_refuses_a_folder_that_is_not_a_complete_run(two_runs, tmp_path, capsys):
    (first, _), _ = two_runs
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "lambda.log").write_text("")
    assert main(["compare", str(first), str(broken), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress compare: error: not a complete run: no results")
    assert err.rstrip().endswith(str(broken))
    mark_incomplete(broken, "interrupted (Ctrl-C)")
    assert main(["compare", str(first), str(broken)]) == 2
    assert "INCOMPLETE.json is there (interrupted (Ctrl-C))" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_queries_run_over_the_union_of_run_folders(two_runs, capsys):
    (first, _), (second, _) = two_runs
    assert main(["queries", str(first), str(second)]) == 0
    assert "over 2 results folders" in capsys.readouterr().out
    results = sql.run_named_queries([first / "results", second / "results"])
    history = next(r for r in results if r.query.logical_id == "RunHistoryQuery").records()
    assert {r["run_id"] for r in history} == {first.name, second.name}
    con = sql.connect([first / "results", second / "results", first / "results"])
    try:
        counted = con.execute("SELECT run_id, count(*) FROM runs GROUP BY run_id").fetchall()
        assert dict(counted) == {first.name: 2, second.name: 3}  # each folder once
        joined = con.execute(
            "SELECT count(DISTINCT l.run_id) FROM scores s JOIN lineage l "
            "ON s.training_run_id = l.run_id"
        ).fetchone()
        assert joined == (3,)  # the training runs of select (run 1), select and restate (run 2)
    finally:
        con.close()
