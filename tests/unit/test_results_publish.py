"""publish_run against moto S3: keys, Parquet contents, ordering, errors without patient text."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest
from handler_support import BUCKET
from results_data import METRICS, NASTY, put_rows, run_info, score_rows

from radimpress import layout
from radimpress.results import publish_run
from radimpress.results.publish import ScoreRowError
from radimpress.results.schema import (
    REPORT_TEXT,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    SCORE_COLUMNS,
    TEXT_COLUMNS,
)


def read_table(s3, key):
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def publish_two_models(s3, run_id="run-1", n=30):
    keys = []
    for model, skill, seed in (("pretrained", 0.3, 1), ("fine-tuned", 0.6, 2)):
        rows = score_rows(run_id, "dev1", model, n, seed, skill=skill, unscored=3)
        keys.append(put_rows(s3, BUCKET, f"runs/{run_id}/scores/{model}.jsonl", rows))
    return publish_run(s3, BUCKET, run_id=run_id, dataset="dev1", score_keys=keys, run=run_info())


def test_writes_scores_summary_and_report_under_projected_keys(s3):
    out = publish_two_models(s3)
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")["Contents"]
    )
    # One scores object for the whole run (every model): S3 shows it whole or not at all.
    assert keys == [
        "results/observations/run_date=2026-11-24/run-1.parquet",
        "results/reports/run-1/report.html",
        "results/runs/run_date=2026-11-24/run-1.parquet",
        "results/scores/run_date=2026-11-24/run-1.parquet",
        "results/texts/run_date=2026-11-24/run-1.parquet",
    ]
    assert out["scores_key"] == keys[3]
    assert out["texts_key"] == keys[4]
    assert out["summary_key"] == "results/runs/run_date=2026-11-24/run-1.parquet"
    assert out["report_key"] == "results/reports/run-1/report.html"
    assert out["scores_location"] == f"s3://{BUCKET}/results/scores/"
    head = s3.head_object(Bucket=BUCKET, Key=out["report_key"])
    assert head["ContentType"].startswith("text/html")


def test_score_table_has_every_row_flat_and_typed(s3):
    out = publish_two_models(s3)
    table = read_table(s3, out["scores_key"])
    assert table.column_names == [name for name, _ in SCORE_COLUMNS]
    texts = read_table(s3, out["texts_key"])
    assert texts.column_names == [name for name, _ in TEXT_COLUMNS]
    text_of = {(r["model"], r["study_id"]): r for r in texts.to_pylist()}
    everything = table.to_pylist()
    assert len(everything) == 60 and len(text_of) == 60
    rows = [
        r | text_of[r["model"], r["study_id"]] for r in everything if r["model"] == "pretrained"
    ]
    source = score_rows("run-1", "dev1", "pretrained", 30, 1, skill=0.3, unscored=3)
    assert len(rows) == 30
    for got, want in zip(rows, source, strict=True):
        for name in ("model_role", "model_name", "sagemaker_model", "training_job"):
            assert got[name] == want[name]
        if want["clinical"] is None:
            assert got["clinical_f1"] is None and got["clinical_missed"] is None
        else:
            assert got["clinical_f1"] == want["clinical"]["f1"]
            assert got["clinical_missed"] == "; ".join(want["clinical"]["missed"])
            assert got["clinical_missed_count"] == len(want["clinical"]["missed"])
            assert got["clinical_invented_count"] == len(want["clinical"]["invented"])
        assert got["schema_version"] == SCHEMA_VERSION
        assert (got["study_id"], got["findings"], got["reference"], got["generated"]) == (
            want["study_id"],
            want["findings"],
            want["reference"],
            want["generated"],
        )
        for metric in METRICS:
            col = metric.lower()
            if want[metric] is None:
                assert got[f"{col}_f1"] is None and got[f"{col}_precision"] is None
            else:
                assert got[f"{col}_precision"] == want[metric]["precision"]
                assert got[f"{col}_recall"] == want[metric]["recall"]
                assert got[f"{col}_f1"] == want[metric]["fmeasure"]
    assert NASTY in {r["findings"][-len(NASTY) :] for r in rows}


def test_summary_rows_and_returned_means_agree_with_python(s3):
    out = publish_two_models(s3)
    summary = read_table(s3, out["summary_key"])
    assert summary.column_names == [name for name, _ in RUN_COLUMNS]
    by_model = {r["model"]: r for r in summary.to_pylist()}
    assert set(by_model) == {"pretrained", "fine-tuned"}
    for model, skill, seed in (("pretrained", 0.3, 1), ("fine-tuned", 0.6, 2)):
        source = score_rows("run-1", "dev1", model, 30, seed, skill=skill, unscored=3)
        row = by_model[model]
        assert (row["reports"], row["scored"], row["records"], row["rejected"]) == (30, 27, 40, 2)
        assert row["started_at"].isoformat() == "2026-11-24T08:00:00+00:00"
        for metric in METRICS:
            values = [r[metric]["fmeasure"] for r in source if r[metric] is not None]
            assert row[f"{metric.lower()}_f1"] == pytest.approx(
                sum(values) / len(values), abs=1e-12
            )
            assert out["models"][model][metric] == row[f"{metric.lower()}_f1"]
            col = metric.lower()
            assert row[f"{col}_f1_ci_low"] < row[f"{col}_f1"] < row[f"{col}_f1_ci_high"]
        clinical = [r["clinical"] for r in source if r["clinical"] is not None]
        assert row["clinical_f1"] == pytest.approx(
            sum(c["f1"] for c in clinical) / len(clinical), abs=1e-12
        )
        assert row["missed_reports"] == sum(bool(c["missed"]) for c in clinical)
        assert row["clinical_f1_ci_low"] <= row["clinical_f1"] <= row["clinical_f1_ci_high"]
        assert row["model_role"] == ("fine-tuned" if model == "fine-tuned" else "pre-trained")
        assert row["sagemaker_model"] == f"sm-{model}"
    assert json.dumps(out)  # travels in Step Functions state
    assert "Lungs" not in json.dumps(out) and "Reference" not in json.dumps(out)


def test_report_then_scores_then_summary_last(s3, monkeypatch):
    order = []
    real = s3.upload_fileobj

    def spy(fileobj, bucket, key, **kw):
        order.append(key)
        return real(fileobj, bucket, key, **kw)

    monkeypatch.setattr(s3, "upload_fileobj", spy)
    publish_two_models(s3)
    assert [k.split("/")[1] for k in order] == [
        "reports",
        "scores",
        "texts",
        "observations",
        "runs",
    ]


@pytest.mark.parametrize("dies_at", [1, 2, 3, 4, 5])
def test_publish_dying_at_any_object_leaves_nothing_in_the_tables(s3, monkeypatch, dies_at):
    """Publish killed after its first (or second) object: no table shows the run, and publishing
    again writes it exactly once."""
    real = s3.upload_fileobj
    calls = []

    def failing(fileobj, bucket, key, **kw):
        calls.append(key)
        if len(calls) == dies_at:
            raise ConnectionError("killed")
        return real(fileobj, bucket, key, **kw)

    monkeypatch.setattr(s3, "upload_fileobj", failing)
    with pytest.raises(Exception, match="killed"):
        publish_two_models(s3)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    assert listed["KeyCount"] == 0
    monkeypatch.setattr(s3, "upload_fileobj", real)
    publish_two_models(s3)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")["KeyCount"] == 5
    scores = read_table(s3, "results/scores/run_date=2026-11-24/run-1.parquet")
    assert scores.num_rows == 60


def test_failure_midway_leaves_no_summary(s3):
    good = put_rows(
        s3, BUCKET, "runs/r/scores/a.jsonl", score_rows("r", "dev1", "a", 5, 1, skill=0.5)
    )
    bad_rows = score_rows("r", "dev1", "b", 5, 2, skill=0.5)
    bad_rows[3]["rouge2"]["recall"] = "high"
    bad = put_rows(s3, BUCKET, "runs/r/scores/b.jsonl", bad_rows)
    with pytest.raises(ScoreRowError) as err:
        publish_run(s3, BUCKET, run_id="r", dataset="dev1", score_keys=[good, bad], run=run_info())
    message = str(err.value)
    assert "runs/r/scores/b.jsonl" in message and "line 4" in message
    assert "study_id=dev1-0003" in message and "'rouge2.recall'" in message
    assert "Findings" not in message and "Reference" not in message
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    assert listed["KeyCount"] == 0  # nothing is written before every row has been read


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("dataset", "dev2", "field 'dataset'"),
        ("findings", None, "field 'findings'"),
        ("reference", 5, "field 'reference'"),
        ("rouge1", [0.1], "field 'rouge1'"),
        ("rougeLsum", None, "field 'rougeLsum': null while other metrics are scored"),
        ("model_package_version", "3", "field 'model_package_version': expected a positive"),
        ("model_package_version", True, "field 'model_package_version': expected a positive"),
        ("model_package_arn", 3, "field 'model_package_arn': expected a string"),
    ],
)
def test_bad_rows_name_file_line_and_field(s3, field, value, needle):
    rows = score_rows("r", "dev1", "a", 3, 1, skill=0.5)
    rows[1][field] = value
    key = put_rows(s3, BUCKET, "runs/r/scores/a.jsonl", rows)
    with pytest.raises(ScoreRowError, match=needle) as err:
        publish_run(s3, BUCKET, run_id="r", dataset="dev1", score_keys=[key], run=run_info())
    assert "line 2" in str(err.value)


def test_one_file_must_hold_one_model(s3):
    rows = score_rows("r", "dev1", "a", 3, 1, skill=0.5) + score_rows(
        "r", "dev1", "b", 1, 1, skill=0.5
    )
    key = put_rows(s3, BUCKET, "runs/r/scores/a.jsonl", rows)
    with pytest.raises(ScoreRowError, match="line 4: field 'model'"):
        publish_run(s3, BUCKET, run_id="r", dataset="dev1", score_keys=[key], run=run_info())


def test_republishing_overwrites_instead_of_duplicating(s3):
    publish_two_models(s3)
    publish_two_models(s3)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    assert listed["KeyCount"] == 5


def test_unscored_run_and_empty_score_file(s3):
    rows = score_rows("r", "dev1", "a", 4, 1, skill=0.5, unscored=4)
    a = put_rows(s3, BUCKET, "runs/r/scores/a.jsonl", rows)
    s3.put_object(Bucket=BUCKET, Key="runs/r/scores/empty.jsonl", Body=b"")
    out = publish_run(s3, BUCKET, run_id="r", dataset="dev1", score_keys=[a], run=run_info())
    assert out["models"] == {"a": dict.fromkeys((*METRICS, "clinical"))}
    out = publish_run(
        s3,
        BUCKET,
        run_id="r2",
        dataset="dev1",
        score_keys=["runs/r/scores/empty.jsonl"],
        run=run_info(),
    )
    table = read_table(s3, "results/scores/run_date=2026-11-24/r2.parquet")
    assert table.num_rows == 0 and table.column_names == [n for n, _ in SCORE_COLUMNS]
    texts = read_table(s3, out["texts_key"])
    assert texts.num_rows == 0 and texts.column_names == [n for n, _ in TEXT_COLUMNS]
    assert out["models"] == {"empty": dict.fromkeys((*METRICS, "clinical"))}


def test_run_date_is_the_utc_date_and_bad_runs_are_refused(s3):
    assert layout.run_date("2026-11-24T23:30:00-05:00") == "2026-11-25"
    assert layout.run_date("2026-11-24T10:00:00") == "2026-11-24"
    with pytest.raises(ValueError, match="started_at"):
        layout.run_date("yesterday")
    with pytest.raises(ValueError, match="missing field 'execution'"):
        info = run_info()
        del info["execution"]
        publish_run(s3, BUCKET, run_id="r", dataset="d", score_keys=[], run=info)


def test_importing_the_package_does_not_load_pyarrow():
    import subprocess
    import sys

    code = "import sys, radimpress.results; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_rows_from_schema_1_still_publish(s3):
    """Score rows written before the model and clinical fields existed still publish."""
    rows = score_rows("r", "dev1", "a", 4, 1, skill=0.5)
    for row in rows:
        for name in ("model_role", "model_name", "model_version", "sagemaker_model"):
            del row[name]
        del row["clinical"], row["training_job"], row["training_run_id"]
        del row["model_package_version"], row["model_package_arn"]
    key = put_rows(s3, BUCKET, "runs/r/scores/a.jsonl", rows)
    out = publish_run(s3, BUCKET, run_id="r", dataset="dev1", score_keys=[key], run=run_info())
    table = read_table(s3, out["scores_key"]).to_pylist()
    assert {r["model_role"] for r in table} == {""} and {r["clinical_f1"] for r in table} == {None}
    assert out["models"]["a"]["clinical"] is None
    assert {r["model_package_version"] for r in table} == {None}  # no package column: null


def test_package_version_reaches_the_scores_and_runs_tables(s3):
    """The Model Registry version each model stands for (issue 20), null for the pre-trained."""
    out = publish_two_models(s3)
    for key in (out["scores_key"], out["summary_key"]):
        table = read_table(s3, key).to_pylist()
        versions = {(r["model_role"], r["model_package_version"]) for r in table}
        assert versions == {("fine-tuned", 3), ("pre-trained", None)}, key


def test_rejected_records_are_counted_by_reason_in_the_report(s3):
    rejected = [
        {"position": 3, "reason": "expected a string", "study_id": "x", "field": "findings"},
        {"position": 5, "reason": "expected a string", "study_id": "y", "field": "findings"},
        {"position": 9, "reason": "not valid JSON", "study_id": None, "field": None},
    ]
    put_rows(s3, BUCKET, "runs/run-1/ingest/rejected.jsonl", rejected)
    out = publish_two_models(s3)
    html = s3.get_object(Bucket=BUCKET, Key=out["report_key"])["Body"].read().decode()
    assert (
        'field &#x27;findings&#x27;: expected a string</td><td data-label="Records">2</td>' in html
    )
    assert 'not valid JSON</td><td data-label="Records">1</td>' in html


def test_withdraw_run_removes_every_object_and_can_repeat(s3):
    from radimpress.results.publish import withdraw_run

    publish_two_models(s3)
    keys = withdraw_run(s3, BUCKET, run_id="run-1", started_at=run_info()["started_at"])
    assert keys[0].startswith("results/runs/")  # the commit marker goes first
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")["KeyCount"] == 0
    withdraw_run(s3, BUCKET, run_id="run-1", started_at=run_info()["started_at"])


def test_no_report_text_in_the_scores_object(s3):
    """S3 and IAM grant whole objects, not columns: a role that may read the scores (QuickSight's)
    must find no report text in them (schema version 3). Every text is in the texts object, on
    the scores' key."""
    out = publish_two_models(s3)
    raw = s3.get_object(Bucket=BUCKET, Key=out["scores_key"])["Body"].read()
    scores = pq.read_table(io.BytesIO(raw))
    assert not set(scores.column_names) & {*REPORT_TEXT}
    texts = read_table(s3, out["texts_key"]).to_pylist()
    every_text = {r[name] for r in texts for name in REPORT_TEXT} - {None, ""}
    assert len(every_text) > 100
    values = {v for column in scores.columns for v in column.to_pylist() if isinstance(v, str)}
    assert not values & every_text  # no text under another column name either
    key = ["run_id", "dataset", "model", "study_id"]
    assert sorted(tuple(r[k] for k in key) for r in scores.to_pylist()) == sorted(
        tuple(r[k] for k in key) for r in texts
    )
    assert NASTY in {r["findings"][-len(NASTY) :] for r in texts}


@pytest.mark.parametrize("models", [1, 2])
def test_study_ids_are_kept_only_when_a_run_has_models_to_pair(s3, monkeypatch, models):
    """A million study ids cost Publish about 64 MB; they serve only to pair two models' rows
    (paired comparisons, reports lost), so a one-model run keeps none (issue 19 item 8)."""
    from radimpress.results import publish

    built: list[publish.ModelResults] = []

    class Watched(publish.ModelResults):
        def __init__(self, **fields: Any) -> None:
            super().__init__(**fields)
            built.append(self)

    monkeypatch.setattr(publish, "ModelResults", Watched)
    keys = []
    for model in ("pretrained", "fine-tuned")[:models]:
        rows = score_rows("run-1", "dev1", model, 30, models, skill=0.5, unscored=3)
        keys.append(put_rows(s3, BUCKET, f"runs/run-1/scores/{model}.jsonl", rows))
    out = publish_run(s3, BUCKET, run_id="run-1", dataset="dev1", score_keys=keys, run=run_info())
    assert [m.scored for m in built] == [27] * models
    assert [len(m.studies) for m in built] == [27 if models == 2 else 0] * models
    summary = read_table(s3, out["summary_key"]).to_pylist()
    assert [row["scored"] for row in summary] == [27] * models


def test_lost_report_cards_show_each_studys_own_rows(s3, monkeypatch):
    """The report's "where the fine-tuned model lost" cards re-read only the rows they show,
    by their position in each score file: in files of different orders, with unscored rows
    and blank lines between, each card still pairs the two models' rows of one study."""
    import math
    import random

    from radimpress.results import publish, report

    shown: list[list[dict[str, Any]]] = []
    render = report.render_report

    def watching(run_info_, models, *, lost, **kwargs):
        shown.extend(pair["rows"] for pair in lost)
        return render(run_info_, models, lost=lost, **kwargs)

    monkeypatch.setattr(report, "render_report", watching)  # build_run imports it when it runs
    files = {}
    for model, skill, seed in (("pretrained", 0.6, 1), ("fine-tuned", 0.4, 2)):
        rows = score_rows("run-1", "dev1", model, 60, seed, skill=skill, unscored=4)
        random.Random(seed).shuffle(rows)
        files[model] = rows
        lines = "".join(
            json.dumps(r) + ("\n\n" if i % 9 == 0 else "\n") for i, r in enumerate(rows)
        )
        s3.put_object(Bucket=BUCKET, Key=f"runs/run-1/scores/{model}.jsonl", Body=lines.encode())
    keys = [f"runs/run-1/scores/{m}.jsonl" for m in files]
    publish_run(s3, BUCKET, run_id="run-1", dataset="dev1", score_keys=keys, run=run_info())

    def key(row):
        clinical = row["clinical"]["f1"] if row["clinical"] else math.nan
        return (-1.0 if math.isnan(clinical) else clinical, row["rougeL"]["fmeasure"])

    base = {r["study_id"]: r for r in files["pretrained"] if r["rougeL"] is not None}
    losses = sorted(
        (key(r)[0] - key(base[s])[0], key(r)[1] - key(base[s])[1], s)
        for r in files["fine-tuned"]
        if r["rougeL"] is not None and (s := r["study_id"]) in base and key(r) < key(base[s])
    )
    expected = [s for *_, s in losses[: publish.LOST_PER_PAIR]]
    assert len(shown) == 1 and len(expected) == publish.LOST_PER_PAIR
    assert [(a["study_id"], b["study_id"]) for a, b in shown[0]] == [(s, s) for s in expected]
    by_study = {m: {r["study_id"]: r for r in rows} for m, rows in files.items()}
    for a, b in shown[0]:
        assert a["generated"] == by_study["fine-tuned"][a["study_id"]]["generated"]
        assert b["generated"] == by_study["pretrained"][b["study_id"]]["generated"]


def test_rows_at_parses_only_the_lines_it_is_asked_for(s3):
    """The re-read for the report's cards costs a line split per row, not a JSON parse: a line
    it is not asked for is never parsed (here it could not be), one it is asked for is checked."""
    from radimpress.results.publish import rows_at

    good = score_rows("run-1", "dev1", "fine-tuned", 3, 1, skill=0.5)
    body = "not json\n" + json.dumps(good[1]) + "\n\n{broken\n" + json.dumps(good[2]) + "\n"
    s3.put_object(Bucket=BUCKET, Key="runs/run-1/scores/x.jsonl", Body=body.encode())
    wanted = {1: good[1]["study_id"], 3: good[2]["study_id"]}
    found = rows_at(s3, BUCKET, "runs/run-1/scores/x.jsonl", "run-1", "dev1", wanted)
    assert {p: r["study_id"] for p, r in found.items()} == wanted
    with pytest.raises(ScoreRowError, match="line 4: not valid JSON"):
        rows_at(s3, BUCKET, "runs/run-1/scores/x.jsonl", "run-1", "dev1", {2: "dev1-0000"})
    with pytest.raises(ScoreRowError, match="line 2: changed while being published"):
        rows_at(s3, BUCKET, "runs/run-1/scores/x.jsonl", "run-1", "dev1", {1: "dev1-0002"})


def test_score_files_are_streamed_in_64_kib_reads_not_botocores_1_kib(s3, monkeypatch):
    """botocore's StreamingBody.iter_lines reads 1,024 bytes at a time unless told otherwise
    (botocore/response.py, _DEFAULT_CHUNK_SIZE): a 50 MB score file was 50,000 reads, about a
    second of the Publish Lambda's CPU. Every line-streamed read of publish asks for 64 KiB."""
    from botocore.response import StreamingBody

    asked: list[int] = []
    real = StreamingBody.iter_lines

    def recorded(self, chunk_size=StreamingBody._DEFAULT_CHUNK_SIZE, keepends=False):
        asked.append(chunk_size)
        return real(self, chunk_size, keepends)

    monkeypatch.setattr(StreamingBody, "iter_lines", recorded)
    s3.put_object(
        Bucket=BUCKET,
        Key=layout.RunKeys("run-1").rejected,
        Body=b'{"field": "findings", "reason": "missing"}\n',
    )
    publish_two_models(s3)  # each model's score file, then the rejection reasons
    assert asked == [1 << 16] * 3
