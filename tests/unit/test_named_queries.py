"""Every Athena named query in template.yaml, run on DuckDB over results written by publish_run.

Numbers are checked against Python: means with statistics.fmean, sample std with statistics.stdev,
percentiles with numpy's default linear interpolation (what pandas describe() prints in the blog),
and win/tie/loss counts per report. The runs exercise what the queries must get right: a superseded
run, a run whose publishing failed on a bad row (nothing written), a run killed after its scores
object and before its summary (scores without the commit marker), an inference run without
references.
"""

from __future__ import annotations

import statistics

import boto3
import numpy as np
import pytest
from moto import mock_aws
from results_data import identity, put_rows, run_info, score_rows

from radimpress.results import publish_run
from radimpress.results.publish import ScoreRowError
from radimpress_workstation import sql

BUCKET = "radimpress-test"
METRIC_COLS = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rougel", "rougeLsum": "rougelsum"}
# (dataset, model) -> (rows, seed, skill) of the run that must count (the latest complete one).
LATEST = {
    ("dev1", "fine-tuned"): (60, 11, 0.6),
    ("dev1", "pretrained"): (60, 12, 0.25),
    ("dev1", "lead"): (60, 13, 0.25),
    ("dev2", "fine-tuned"): (41, 21, 0.45),
    ("dev2", "pretrained"): (41, 22, 0.15),
}


def publish(s3, run_id, dataset, models, *, started="2026-11-20T10:00:00Z", unscored=0):
    keys = []
    for model, (n, seed, skill) in models.items():
        rows = score_rows(run_id, dataset, model, n, seed, skill=skill, unscored=unscored)
        keys.append(put_rows(s3, BUCKET, f"runs/{run_id}/scores/{model}.jsonl", rows))
    return publish_run(
        s3, BUCKET, run_id=run_id, dataset=dataset, score_keys=keys, run=run_info(started)
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        # Superseded: an older dev1 run of fine-tuned and pretrained (other numbers).
        publish(s3, "old", "dev1", {"fine-tuned": (60, 1, 0.9), "pretrained": (60, 2, 0.9)})
        # The runs that count, on two dates.
        publish(
            s3,
            "r-dev1",
            "dev1",
            {m: v for (d, m), v in LATEST.items() if d == "dev1"},
            started="2026-11-23T09:00:00Z",
        )
        publish(
            s3,
            "r-dev2",
            "dev2",
            {m: v for (d, m), v in LATEST.items() if d == "dev2"},
            started="2026-11-24T09:00:00Z",
        )
        # Newer, but without references: nothing scored, so it must not replace r-dev1.
        publish(
            s3,
            "infer",
            "dev1",
            {"fine-tuned": (10, 3, 0.5)},
            unscored=10,
            started="2026-11-24T11:00:00Z",
        )
        # Newer still, killed after its scores object and before the summary (the commit marker):
        # a whole run's scores without a summary, which no query may count.
        killed = publish(
            s3, "killed", "dev1", {"pretrained": (60, 6, 1.0)}, started="2026-11-24T12:30:00Z"
        )
        s3.delete_object(Bucket=BUCKET, Key=killed["summary_key"])
        # Newer still, but a bad row stops publishing before anything is written.
        good = put_rows(
            s3,
            BUCKET,
            "runs/dead/scores/pretrained.jsonl",
            score_rows("dead", "dev1", "pretrained", 60, 4, skill=1.0),
        )
        bad_rows = score_rows("dead", "dev1", "lead", 5, 5, skill=1.0)
        bad_rows[2]["rouge1"] = "oops"
        bad = put_rows(s3, BUCKET, "runs/dead/scores/lead.jsonl", bad_rows)
        with pytest.raises(ScoreRowError):
            publish_run(
                s3,
                BUCKET,
                run_id="dead",
                dataset="dev1",
                score_keys=[good, bad],
                run=run_info("2026-11-24T12:00:00Z"),
            )
        copied = sql.mirror_results(s3, BUCKET, folder)
    # One scores, texts, per-observation and summary object per committed run (old, r-dev1,
    # r-dev2, infer), the killed run's scores, texts and per-observation objects alone, nothing
    # of the dead run.
    assert copied == 19
    by_id = {r.query.logical_id: r for r in sql.run_named_queries(folder)}
    return folder, by_id


def expected_f1():
    """(dataset, model) -> {metric col: [f1 of each scored report]} of the runs that count."""
    out = {}
    for (dataset, model), (n, seed, skill) in LATEST.items():
        run_id = f"r-{dataset}"
        rows = score_rows(run_id, dataset, model, n, seed, skill=skill)
        out[dataset, model] = {
            col: [r[metric]["fmeasure"] for r in rows] for metric, col in METRIC_COLS.items()
        }
        out[dataset, model]["clinical"] = [r["clinical"]["f1"] for r in rows]
        out[dataset, model]["missed"] = [r["clinical"]["missed"] for r in rows]
        out[dataset, model]["study_id"] = [r["study_id"] for r in rows]
    return out


def order(model: str) -> tuple[int, str, str]:
    """The A/B order of the queries and the report: fine-tuned, candidate, pre-trained."""
    ident = identity(model)
    rank = ("fine-tuned", "candidate", "pre-trained").index(ident["model_role"])
    return rank, ident["model_name"], model


def test_every_named_query_in_the_template_runs(results):
    _, by_id = results
    assert set(by_id) >= {"MeanRougeQuery", "RougeDistributionQuery", "ModelComparisonQuery"}
    assert set(by_id) == {q.logical_id for q in sql.load_named_queries()}
    for result in by_id.values():
        assert result.rows, result.query.logical_id
        assert result.query.name.startswith("radimpress ")


def test_mean_rouge_table(results):
    _, by_id = results
    rows = by_id["MeanRougeQuery"].records()
    want = expected_f1()
    keys = [(d, identity(m)["model_role"], identity(m)["model_name"], m) for d, m in want]
    assert [(r["dataset"], r["model_role"], r["model_name"], r["model"]) for r in rows] == sorted(
        keys
    )
    for row in rows:
        values = want[row["dataset"], row["model"]]
        assert row["run_id"] == f"r-{row['dataset']}"
        assert row["reports"] == len(values["rouge1"])
        for col in METRIC_COLS.values():
            assert row[col] == pytest.approx(statistics.fmean(values[col]), rel=1e-12, abs=1e-15)
        assert row["clinical_f1"] == pytest.approx(statistics.fmean(values["clinical"]), abs=1e-12)


def test_distribution_table_matches_pandas_describe(results):
    _, by_id = results
    rows = by_id["RougeDistributionQuery"].records()
    want = expected_f1()
    assert len(rows) == len(want) * 5
    assert [r["metric"] for r in rows[:5]] == [
        "clinical",
        "rouge1",
        "rouge2",
        "rougel",
        "rougelsum",
    ]
    for row in rows:
        values = want[row["dataset"], row["model"]][row["metric"]]
        q25, q50, q75 = np.percentile(values, [25, 50, 75])  # linear interpolation
        assert row["count"] == len(values)
        assert row["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12, abs=1e-15)
        assert row["std"] == pytest.approx(statistics.stdev(values), rel=1e-9)
        assert (row["min"], row["max"]) == (min(values), max(values))
        # Exact, not approximate: these sit between grid values, so a nearest-rank or t-digest
        # answer would differ.
        assert row["p25"] == pytest.approx(q25, abs=1e-12)
        assert row["p50"] == pytest.approx(q50, abs=1e-12)
        assert row["p75"] == pytest.approx(q75, abs=1e-12)


def test_percentiles_interpolate_between_ranks(results):
    """dev2 has 41 reports: (n-1)*0.25 = 10 is a rank; with 60 reports 14.75 is not."""
    _, by_id = results
    row = next(
        r
        for r in by_id["RougeDistributionQuery"].records()
        if (r["dataset"], r["model"], r["metric"]) == ("dev1", "lead", "rouge2")
    )
    ordered = sorted(expected_f1()["dev1", "lead"]["rouge2"])
    assert row["p25"] == pytest.approx(ordered[14] + 0.75 * (ordered[15] - ordered[14]), abs=1e-12)


def test_model_comparison_wins_ties_losses(results):
    _, by_id = results
    rows = by_id["ModelComparisonQuery"].records()
    want = expected_f1()
    expected = {}
    for dataset in ("dev1", "dev2"):
        models = sorted((m for d, m in want if d == dataset), key=order)
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                for col in (*METRIC_COLS.values(), "clinical"):
                    fa = dict(zip(want[dataset, a]["study_id"], want[dataset, a][col], strict=True))
                    fb = dict(zip(want[dataset, b]["study_id"], want[dataset, b][col], strict=True))
                    diffs = [fa[s] - fb[s] for s in fa if s in fb]
                    expected[dataset, a, b, col] = (
                        len(diffs),
                        sum(d > 0 for d in diffs),
                        sum(d == 0 for d in diffs),
                        sum(d < 0 for d in diffs),
                        statistics.fmean(diffs),
                    )
    assert {r["run_id"] for r in rows} == {"r-dev1", "r-dev2"}  # pairs only within one run
    got = {
        (r["dataset"], r["model_a"], r["model_b"], r["metric"]): (
            r["reports"],
            r["wins_a"],
            r["ties"],
            r["wins_b"],
            r["mean_diff"],
        )
        for r in rows
    }
    assert set(got) == set(expected)
    ties = 0
    for key, (n, wins, tie, losses, mean) in expected.items():
        g = got[key]
        assert g[:4] == (n, wins, tie, losses), key
        assert g[4] == pytest.approx(mean, abs=1e-12)
        ties += tie
    assert ties > 0  # the generated grid makes ties happen, so the tie column is really tested


def test_transpiled_sql_is_duckdb_specific():
    for query in sql.load_named_queries():
        duck = query.duckdb_sql()
        if "max_by(" in query.sql:
            assert "ARG_MAX(" in duck


def test_queries_run_with_no_results_yet(tmp_path):
    results = sql.run_named_queries(tmp_path)
    assert results and all(r.rows == [] for r in results)
    text = sql.format_result(results[0])
    assert "(no rows)" in text


def test_save_results_writes_csv_and_text(results, tmp_path):
    folder, _ = results
    written = sql.save_results(sql.run_named_queries(folder), tmp_path / "q")
    names = {p.name for p in written}
    assert "MeanRougeQuery.csv" in names and "queries.txt" in names
    text = (tmp_path / "q" / "queries.txt").read_text()
    assert "mean ROUGE and clinical F1 by model and dataset" in text and "fine-tuned" in text


def test_cli_prints_every_query_and_refuses_a_missing_folder(results, capsys, tmp_path):
    from radimpress_workstation.cli import main

    folder, _ = results
    assert main(["queries", str(folder), "--show-sql", "--save", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    for query in sql.load_named_queries():
        assert query.name in out and f"-- {query.logical_id} (DuckDB)" in out
    assert (tmp_path / "s" / "ModelComparisonQuery.csv").exists()
    assert main(["queries", str(tmp_path / "missing")]) == 2


def test_report_comparison_agrees_with_the_sql(results):
    """The report's model-vs-model table (Python) and ModelComparisonQuery (SQL) agree."""
    from radimpress.results.publish import ModelResults, flatten_row
    from radimpress.results.report import comparison_rows

    _, by_id = results
    models = []
    for (dataset, model), (n, seed, skill) in LATEST.items():
        if dataset != "dev1":
            continue
        m = ModelResults(label=model, key=model)
        for i, raw in enumerate(score_rows("r-dev1", dataset, model, n, seed, skill=skill)):
            m.add(flatten_row(raw, source="s", line=i + 1, run_id="r-dev1", dataset=dataset))
        models.append(m)
    from_sql = {
        (r["model_a"], r["model_b"], r["metric"]): r
        for r in by_id["ModelComparisonQuery"].records()
        if r["dataset"] == "dev1"
    }
    rows = comparison_rows(models)
    assert len(rows) == len(from_sql) == 3 * 5
    # Same direction: A is the same model in both, so the numbers agree as they are.
    for row in rows:
        sql_row = from_sql[row["model_a"], row["model_b"], row["metric"]]
        for name in ("reports", "wins_a", "ties", "wins_b"):
            assert row[name] == sql_row[name], (row, name)
        assert row["mean_diff"] == pytest.approx(sql_row["mean_diff"], abs=1e-12)
    tuned = from_sql["fine-tuned", "pretrained", "rougel"]
    assert tuned["mean_diff"] > 0  # the better, fine-tuned model is A


def test_worst_reports_are_ordered_by_clinical_then_rouge_l_then_id(results):
    _, by_id = results
    rows = by_id["WorstReportsQuery"].records()
    want = expected_f1()
    assert {(r["dataset"], r["model"]) for r in rows} == set(want)
    for (dataset, model), values in want.items():
        got = [r for r in rows if (r["dataset"], r["model"]) == (dataset, model)]
        keys = zip(values["clinical"], values["rougel"], values["study_id"], strict=True)
        ranked = sorted(keys)[:10]
        assert [(r["clinical_f1"], r["rougel_f1"], r["study_id"]) for r in got] == ranked
        assert [r["worst_rank"] for r in got] == list(range(1, 11))
        # The text comes from the texts table, joined on run, model and study: each row's own.
        n, seed, skill = LATEST[dataset, model]
        rows_of_run = score_rows(f"r-{dataset}", dataset, model, n, seed, skill=skill)
        source = {r["study_id"]: r for r in rows_of_run}
        for r in got:
            texts = (r["findings"], r["reference"], r["generated"])
            want_row = source[r["study_id"]]
            assert texts == (want_row["findings"], want_row["reference"], want_row["generated"])


def test_run_history_lists_complete_runs_newest_first(results):
    _, by_id = results
    rows = by_id["RunHistoryQuery"].records()
    # The dead run has no summary; every other run lists one row per model.
    assert [r["run_id"] for r in rows] == ["infer"] + ["r-dev2"] * 2 + ["r-dev1"] * 3 + ["old"] * 2
    infer = rows[0]
    assert (infer["reports"], infer["scored"], infer["rougel_f1"]) == (10, 0, None)
    assert {r["run_date"] for r in rows} == {"2026-11-20", "2026-11-23", "2026-11-24"}
    # Each model's Model Registry version (issue 20): results_data's fine-tuned model is v3,
    # "lead" plays a candidate (v4), the pre-trained model has none.
    versions = {r["model"]: r["model_package_version"] for r in rows if r["run_id"] == "r-dev1"}
    assert versions == {"fine-tuned": 3, "pretrained": None, "lead": 4}
    arns = {r["model_package_arn"] for r in rows if r["model"] == "fine-tuned"}
    assert arns == {"arn:aws:sagemaker:us-east-1:123456789012:model-package/s-fine-tuned/3"}


def test_results_written_before_a_column_existed_read_it_as_null(tmp_path):
    """As Athena does (the Glue table has every column): a folder whose files all predate the
    package columns still answers the queries that name them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from radimpress.results.parquet import arrow_schema
    from radimpress.results.schema import RUN_COLUMNS

    old = [(n, t) for n, t in RUN_COLUMNS if not n.startswith("model_package_")]
    folder = tmp_path / "runs" / "run_date=2026-01-01"
    folder.mkdir(parents=True)
    row = {name: None for name, _ in old} | {"run_id": "before", "model": "fine-tuned"}
    pq.write_table(pa.Table.from_pylist([row], schema=arrow_schema(old)), folder / "r.parquet")
    con = sql.connect(tmp_path)
    try:
        got = con.execute("SELECT run_id, model_package_version, model_package_arn FROM runs")
        assert got.fetchall() == [("before", None, None)]
    finally:
        con.close()


def test_missed_findings_lists_every_report_missing_a_positive_observation(results):
    _, by_id = results
    rows = by_id["MissedFindingsQuery"].records()
    want = expected_f1()
    expected = {
        (dataset, model, study, "; ".join(missed))
        for (dataset, model), values in want.items()
        for study, missed in zip(values["study_id"], values["missed"], strict=True)
        if missed
    }
    assert {(r["dataset"], r["model"], r["study_id"], r["clinical_missed"]) for r in rows} == (
        expected
    )
    assert {r["run_id"] for r in rows} == {"r-dev1", "r-dev2"}
    for r in rows:  # the texts table's text of this very row
        assert r["generated"] == f"Generated by {r['model']} for {r['study_id']}."
        assert r["findings"].startswith(f"Findings of {r['study_id']}. ")


def test_no_query_reads_a_run_without_its_summary(results):
    """The killed run (scores object, no summary) and the dead run appear in no query."""
    _, by_id = results
    for result in by_id.values():
        for record in result.records():
            assert record.get("run_id") not in ("killed", "dead"), result.query.logical_id


def test_scores_written_before_schema_3_keep_their_text_in_the_queries(tmp_path):
    """A results folder with a schema-2 scores object (text columns inside) and no texts object:
    the local scores view shows the Glue columns only, as Athena does, and the texts view reads
    the old object's text, so the worst-reports query still shows it beside a new run's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from radimpress.results.parquet import arrow_schema
    from radimpress.results.schema import REPORT_TEXT, SCORE_COLUMNS

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        new = publish(s3, "new", "dev1", {"fine-tuned": (20, 1, 0.5)})
        sql.mirror_results(s3, BUCKET, tmp_path)
    date = "run_date=2026-11-20"
    scores = pq.read_table(tmp_path / "scores" / date / "new.parquet").to_pylist()
    texts = {
        r["study_id"]: r
        for r in pq.read_table(tmp_path / "texts" / date / "new.parquet").to_pylist()
    }
    at = SCORE_COLUMNS.index(("study_id", "string")) + 1
    v2 = [
        *SCORE_COLUMNS[:at],
        *((n, "string") for n in REPORT_TEXT),
        *SCORE_COLUMNS[at:],
    ]
    old_rows = [
        r
        | {"run_id": "old", "dataset": "dev2", "schema_version": 2}
        | {n: "old " + str(texts[r["study_id"]][n]) for n in REPORT_TEXT}
        for r in scores
    ]
    pq.write_table(
        pa.Table.from_pylist(old_rows, schema=arrow_schema(v2)),
        tmp_path / "scores" / date / "old.parquet",
    )
    summary = pq.read_table(tmp_path / "runs" / date / "new.parquet")
    old_summary = [r | {"run_id": "old", "dataset": "dev2"} for r in summary.to_pylist()]
    pq.write_table(
        pa.Table.from_pylist(old_summary, schema=summary.schema),
        tmp_path / "runs" / date / "old.parquet",
    )
    assert new["texts_key"].endswith("new.parquet")

    con = sql.connect(tmp_path)
    try:
        columns = [row[0] for row in con.execute("DESCRIBE scores").fetchall()]
        assert columns == [n for n, _ in SCORE_COLUMNS] + ["run_date"]
        by_run = dict(con.execute("SELECT run_id, count(*) FROM texts GROUP BY run_id").fetchall())
        assert by_run == {"new": 20, "old": 20}
    finally:
        con.close()
    (worst,) = [q for q in sql.load_named_queries() if q.logical_id == "WorstReportsQuery"]
    con = sql.connect(tmp_path)
    try:
        cursor = con.execute(worst.duckdb_sql())
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
    assert {r["run_id"] for r in rows} == {"new", "old"}
    for r in rows:
        want = texts[r["study_id"]]
        prefix = "old " if r["run_id"] == "old" else ""
        assert r["findings"] == prefix + want["findings"]
        assert r["generated"] == prefix + want["generated"]
