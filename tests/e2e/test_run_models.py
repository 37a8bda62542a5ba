"""End to end: a run comparing several local models is ONE run: one id, one set of tables, one
report naming every model, and the named queries see all of them."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from radimpress_workstation import sql
from radimpress_workstation.console import Console
from radimpress_workstation.runtime import LocalRun
from radimpress_workstation.synthetic import write_demo_files

MODELS = ["restate", "retrieval"]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-models")
    data = write_demo_files(root / "synthetic", train=120, infer=30, seed=5, with_bad=False)
    run = LocalRun(
        data.train, data.infer, MODELS, root / "out", Console(io.StringIO()), dataset="synthetic"
    )
    return run.run()


def test_one_run_one_set_of_tables_naming_every_model(two_models):
    result = two_models
    results = result.out_dir / "results"
    (scores,) = results.glob("scores/run_date=*/*.parquet")
    (summary,) = results.glob("runs/run_date=*/*.parquet")
    assert scores.stem == summary.stem == result.run_id  # one run id: folder, CLI and Parquet
    rows = pq.read_table(scores).to_pylist()
    assert {(r["model_role"], r["model_name"]) for r in rows} == {
        ("pre-trained", "lead"),
        ("fine-tuned", "restate"),
        ("fine-tuned", "retrieval"),
    }
    assert {r["run_id"] for r in rows} == {result.run_id}
    tuned = [r for r in rows if r["model_role"] == "fine-tuned"]
    assert all(r["training_job"] and r["training_run_id"] for r in tuned)
    assert all(r["clinical_f1"] is not None for r in rows)
    runs = pq.read_table(summary).to_pylist()
    assert len(runs) == 3 and all(r["rougel_f1_ci_low"] <= r["rougel_f1"] for r in runs)


def test_one_report_compares_all_models(two_models):
    (report,) = (two_models.out_dir / "results").rglob("report.html")
    assert two_models.files["report"] == report
    html = report.read_text(encoding="utf-8")
    for label in ("fine-tuned (restate)", "fine-tuned (retrieval)", "pre-trained (lead)"):
        assert label in html
    assert "Where fine-tuned (restate) lost to pre-trained (lead)" in html
    summary = json.loads((two_models.out_dir / "summary.json").read_text())
    assert summary["run_id"] == two_models.run_id


def test_named_queries_see_every_model_of_the_run(two_models):
    by_id = {r.query.logical_id: r for r in sql.run_named_queries(two_models.out_dir / "results")}
    means = by_id["MeanRougeQuery"].records()
    assert {r["model_name"] for r in means} == {"lead", "restate", "retrieval"}
    pairs = {(r["model_a"], r["model_b"]) for r in by_id["ModelComparisonQuery"].records()}
    assert ("fine-tuned (restate)", "pre-trained (lead)") in pairs  # A = the fine-tuned model
    assert len(pairs) == 3
