"""Run lineage: the file digest Ingest takes, job durations from Describe* answers, the cost from
the price table, the lineage table's Parquet round trip, and what publish_run makes of it."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from handler_support import BUCKET
from results_data import put_rows, run_info, score_rows

from radimpress import lineage, pricing
from radimpress.events import IngestResult, JobStatusResult, PipelineState, ScoreResult
from radimpress.lineage import HashingReader, file_sha256, job_usage, priced, run_lineage
from radimpress.records import Purpose, Report, read_reports
from radimpress.results import publish_run
from radimpress.results.lineage import (
    attach_training_runs,
    lineage_json,
    lineage_record_key,
    lineage_rows,
)
from radimpress.results.parquet import write_parquet
from radimpress.results.report_lineage import render_lineage_section
from radimpress.results.schema import LINEAGE_COLUMNS
from radimpress.settings import Settings
from radimpress.steps.job_status import check_job
from radimpress.steps.publish import run_lineage_of

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
# SHA-256 of b"abc": FIPS 180-2, appendix B.1.
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def training_job(**more):
    """A DescribeTrainingJob answer as boto3 returns it (only the fields lineage reads)."""
    return {
        "TrainingJobName": "radimpress-ft-1",
        "TrainingJobStatus": "Completed",
        "ResourceConfig": {"InstanceType": "ml.p3.16xlarge", "InstanceCount": 1},
        "HyperParameters": {"epochs": '"3"', "learning_rate": '"0.0001"'},
        "TrainingStartTime": START,
        "TrainingEndTime": START + timedelta(hours=2),
        **more,
    }


def transform_job(minutes=12, count=1):
    return {
        "TransformJobName": "radimpress-tf-1",
        "TransformJobStatus": "Completed",
        "ModelName": "radimpress-pt-1",
        "TransformResources": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": count},
        "TransformStartTime": START,
        "TransformEndTime": START + timedelta(minutes=minutes),
    }


# ---- what went in: the file's digest and counts -----------------------------------------------


def test_file_sha256_of_a_known_file(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert file_sha256(path) == (ABC_SHA256, 3)


def test_hashing_reader_digests_exactly_the_bytes_read_and_drains_the_rest():
    reader = HashingReader(io.BytesIO(b"abc"))
    assert reader.read(2) == b"ab"
    reader.drain()
    assert (reader.sha256, reader.bytes) == (ABC_SHA256, 3)


def test_parsing_through_the_reader_gives_the_whole_files_digest_and_counts(tmp_path):
    """The parser stops at a JSON array's closing bracket; the drained digest is still the
    file's, and the records are counted as Ingest counts them."""
    records = [
        {"study_id": "1", "findings": "Lungs clear.", "impression": "Normal."},
        {"study_id": "2", "findings": "Effusion."},  # no impression: rejected for training
        {"study_id": "3", "findings": "Heart enlarged.", "impression": "Cardiomegaly."},
    ]
    raw = (json.dumps(records) + "\n\n   \n").encode()
    (tmp_path / "train.json").write_bytes(raw)
    reader = HashingReader(io.BytesIO(raw))
    outcomes = list(read_reports(reader, Purpose.TRAIN, "train.json"))
    reader.drain()
    assert sum(isinstance(o, Report) for o in outcomes) == 2 and len(outcomes) == 3
    assert reader.sha256 == hashlib.sha256(raw).hexdigest()
    assert (reader.sha256, reader.bytes) == file_sha256(tmp_path / "train.json")


# ---- job durations from Describe* --------------------------------------------------------------


def test_training_job_usage_from_a_describe_answer():
    usage = job_usage("training", training_job(BillableTimeInSeconds=6000))
    assert usage == {
        "kind": "training",
        "name": "radimpress-ft-1",
        "instance_type": "ml.p3.16xlarge",
        "instance_count": 1,
        "started_at": "2026-11-24T08:00:00+00:00",
        "ended_at": "2026-11-24T10:00:00+00:00",
        "seconds": 7200.0,
        "billable_seconds": 6000.0,  # managed spot: billed less than it ran
        "billed_seconds": 6000.0,
        "hyperparameters": {"epochs": '"3"', "learning_rate": '"0.0001"'},
    }


def test_without_billable_time_a_training_job_is_billed_for_its_run():
    usage = job_usage("training", training_job())
    assert usage["billable_seconds"] is None and usage["billed_seconds"] == 7200.0


def test_transform_job_usage_and_a_job_still_running():
    usage = job_usage("transform", transform_job(minutes=12, count=2))
    assert usage["seconds"] == 720.0 and usage["billed_seconds"] == 720.0
    assert usage["instance_count"] == 2 and usage["model_name"] == "radimpress-pt-1"
    running = {k: v for k, v in transform_job().items() if k != "TransformEndTime"}
    assert job_usage("transform", running)["seconds"] is None


def test_a_completed_status_check_carries_the_jobs_usage():
    class Fake:
        def describe_training_job(self, TrainingJobName):
            return training_job(BillableTimeInSeconds=7000)

    result = check_job(Fake(), "training", "j", started_epoch=0, max_wait_seconds=10, now=lambda: 5)
    assert result.status == "Completed" and result.usage is not None
    assert result.usage["billed_seconds"] == 7000.0


# ---- cost from the price table ------------------------------------------------------------------


def test_cost_is_instance_seconds_times_the_tables_price():
    jobs = [
        job_usage("training", training_job(BillableTimeInSeconds=1800)),
        job_usage("transform", transform_job(minutes=12, count=2)),
    ]
    out, cost = priced(jobs, "us-east-1")
    # 1800 s x 28.152 $/h = $14.076; 2 x 720 s x 1.515 $/h = $0.606
    assert out[0]["cost_usd"] == pytest.approx(14.076)
    assert out[1]["cost_usd"] == pytest.approx(0.606)
    assert cost["usd"] == pytest.approx(14.682)
    assert cost["unpriced_jobs"] == []
    assert cost["prices_as_of"] == pricing.PRICES_AS_OF
    assert cost["source"] == "https://aws.amazon.com/sagemaker/pricing/"


def test_a_region_without_prices_is_unpriced_not_priced_with_another():
    jobs = [job_usage("transform", transform_job())]
    out, cost = priced(jobs, "eu-west-1")
    assert out[0]["cost_usd"] is None
    assert cost["usd"] is None and cost["unpriced_jobs"] == ["radimpress-tf-1"]
    assert pricing.job_cost("ml.unknown", 1, 3600, "us-east-1") is None


def test_smoke_reads_the_same_table(monkeypatch):
    from radimpress_workstation.aws_checks import job_costs

    class Fake:
        def describe_transform_job(self, TransformJobName):
            return transform_job(minutes=12)

    monkeypatch.setitem(pricing.PRICES_USD_PER_HOUR["us-east-1"], "ml.g5.2xlarge", 3.0)
    lines = job_costs.cost_lines(Fake(), {"radimpress-tf-1": "transform"}, "us-east-1")
    assert lines[0] == "transform job radimpress-tf-1: ml.g5.2xlarge x1, 720 s, ~$0.60"


# ---- the run's lineage, its rows and the report -----------------------------------------------


def ingest_result(route="infer", **more):
    return IngestResult(
        route=route,
        run_id=f"run-{route}",
        dataset="openi",
        source_key=f"incoming/{route}/openi/{route}.jsonl",
        started_at="2026-11-24T08:00:00+00:00",
        records=40,
        rejected=2,
        version_id="v1",
        input_sha256=ABC_SHA256,
        input_bytes=3,
        **more,
    )


def test_publish_puts_the_states_usage_and_settings_into_the_lineage(monkeypatch):
    monkeypatch.setenv("RADIMPRESS_MODEL_SPEC", "local-select")
    monkeypatch.setattr(lineage, "BUILD_VERSION_FILE", lineage.BUILD_VERSION_FILE.with_name("x"))
    transform = job_usage("transform", transform_job())
    state = PipelineState(
        bucket=BUCKET,
        key="incoming/infer/openi/infer.jsonl",
        ingest=ingest_result(),
        scores=[
            ScoreResult(model_key="pre-trained", job_usage=transform),
            ScoreResult(model_key="fine-tuned", failed=True, error="JobFailed"),
        ],
    )
    settings = Settings.from_env()
    made = run_lineage_of(state, settings)
    assert made["input"] == {
        "purpose": "infer",
        "file": "incoming/infer/openi/infer.jsonl",
        "version_id": "v1",
        "bytes": 3,
        "sha256": ABC_SHA256,
        "records": 40,
        "rejected": 2,
    }
    assert [j["name"] for j in made["jobs"]] == ["radimpress-tf-1"]  # the failed model ran none
    assert made["settings"]["model_spec"] == "local-select"
    assert made["settings"]["model_id"] == "radimpress-local-select"
    assert made["settings"]["generation"] == {
        "max_length": settings.max_length,
        "num_beams": settings.num_beams,
    }
    assert made["code_version"].startswith("radimpress ")  # no build version baked in here
    train = PipelineState(
        bucket=BUCKET,
        key="k",
        ingest=ingest_result("train"),
        job_status=JobStatusResult(
            status="Completed", elapsed_seconds=9, usage=job_usage("training", training_job())
        ),
    )
    assert [j["kind"] for j in run_lineage_of(train, settings)["jobs"]] == ["training"]


def test_code_version_is_the_baked_build_version(tmp_path, monkeypatch):
    baked = tmp_path / "BUILD_VERSION"
    baked.write_text("v1.2-3-gabcdef0-dirty\n")
    monkeypatch.setattr(lineage, "BUILD_VERSION_FILE", baked)
    assert lineage.code_version() == "v1.2-3-gabcdef0-dirty"


def made_lineage(route="train", region="us-east-1"):
    return run_lineage(
        run_id=f"run-{route}",
        route=route,
        dataset="openi",
        ingest=ingest_result(route).model_dump(),
        jobs=[job_usage("training", training_job(BillableTimeInSeconds=1800))],
        settings={"region": region, "generation": {"max_length": 128, "num_beams": 1}},
        started_at="2026-11-24T08:00:00+00:00",
        ended_at=START + timedelta(hours=3),
        version="v9",
    )


def test_lineage_rows_round_trip_through_parquet():
    made = made_lineage()
    sink = io.BytesIO()
    assert write_parquet(lineage_rows(made), LINEAGE_COLUMNS, sink) == 1
    (row,) = pq.read_table(io.BytesIO(sink.getvalue())).to_pylist()
    assert row["run_id"] == "run-train" and row["route"] == "train"
    assert row["input_sha256"] == ABC_SHA256 and row["input_records"] == 40
    assert row["input_bytes"] == 3 and row["code_version"] == "v9"
    assert row["started_at"] == START and row["ended_at"] == START + timedelta(hours=3)
    assert row["run_seconds"] == 3 * 3600
    assert row["job_started_at"] == START and row["job_seconds"] == 7200.0
    assert row["billable_seconds"] == 1800.0
    assert row["job_cost_usd"] == pytest.approx(14.076) == row["run_cost_usd"]
    assert json.loads(row["hyperparameters"]) == {"epochs": '"3"', "learning_rate": '"0.0001"'}
    assert json.loads(row["settings"])["generation"] == {"max_length": 128, "num_beams": 1}
    assert row["prices_as_of"] == pricing.PRICES_AS_OF


def test_a_run_without_jobs_still_has_a_row_and_a_local_run_has_its_training_runs():
    local = lineage.as_local({**made_lineage("infer"), "jobs": []}, "abc123-dirty")
    local["training_runs"] = [lineage.as_local(made_lineage("train"), "abc123-dirty")]
    rows = lineage_rows(local)
    assert [(r["run_id"], r["job_kind"]) for r in rows] == [
        ("run-infer", None),
        ("run-train", "training"),
    ]
    assert rows[0]["training_run_ids"] == "run-train"
    assert all(r["runtime"] == "local" and r["job_cost_usd"] is None for r in rows)
    assert rows[0]["run_cost_usd"] is None


def test_publish_run_writes_lineage_with_the_training_run_behind_the_model(s3):
    """The fine-tuned rows name training run ``train-run``: its published lineage record joins
    the inference run's lineage, in the JSON record, the Parquet rows and the report."""
    s3.put_object(
        Bucket=BUCKET,
        Key=lineage_record_key("results", "train-run"),
        Body=lineage_json({**made_lineage("train"), "run_id": "train-run"}),
    )
    keys = [
        put_rows(
            s3,
            BUCKET,
            f"runs/run-1/scores/{m}.jsonl",
            score_rows("run-1", "dev1", m, 8, i, skill=0.5),
        )
        for i, m in enumerate(("pretrained", "fine-tuned"))
    ]
    infer = {**made_lineage("infer"), "run_id": "run-1", "training_runs": []}
    publish_run(
        s3,
        BUCKET,
        run_id="run-1",
        dataset="dev1",
        score_keys=keys,
        run={**run_info(), "lineage": infer},
    )
    record = json.loads(
        s3.get_object(Bucket=BUCKET, Key="results/lineage-runs/run-1.json")["Body"].read()
    )
    assert [t["run_id"] for t in record["training_runs"]] == ["train-run"]
    assert record["training_runs"][0]["input"]["sha256"] == ABC_SHA256
    body = s3.get_object(Bucket=BUCKET, Key="results/lineage/run_date=2026-11-24/run-1.parquet")
    (row,) = pq.read_table(io.BytesIO(body["Body"].read())).to_pylist()
    assert row["training_run_ids"] == "train-run"
    report = s3.get_object(Bucket=BUCKET, Key="results/reports/run-1/report.html")["Body"].read()
    html = report.decode()
    assert "<h2>Lineage</h2>" in html and "<h3>Training run train-run</h3>" in html
    assert ABC_SHA256 in html


def test_a_training_run_not_found_is_listed_as_missing(s3):
    found = attach_training_runs(s3, BUCKET, {"run_id": "r", "training_runs": []}, ["gone", ""])
    assert found["training_runs"] == [{"run_id": "gone", "missing": True}]


def test_report_section_escapes_and_says_what_a_local_run_costs():
    local = lineage.as_local(made_lineage("infer"), "<b>v</b>")
    local["input"]["file"] = "<script>x</script>.jsonl"
    html = "".join(render_lineage_section(local))
    assert "&lt;script&gt;" in html and "<script>" not in html and "&lt;b&gt;v" in html
    assert "none: local jobs bill nothing" in html
    cloud = "".join(render_lineage_section(made_lineage("train")))
    assert cloud.count("$14.08") == 2  # the training job's estimate, and the run's
    assert "as of " + pricing.PRICES_AS_OF in cloud
    assert render_lineage_section(None) == []


def test_the_report_gives_each_transform_its_cost_per_1000_reports():
    """The same basis the Bedrock table uses, so the three models of a comparison line up."""
    lineage = {
        "runtime": "aws",
        "input": {"records": 2000},
        "jobs": [
            {"kind": "training", "name": "t", "cost_usd": 300.0},
            {"kind": "transform", "name": "x", "cost_usd": 3.03},
        ],
    }
    html = "".join(render_lineage_section(lineage))
    assert "Cost per 1,000 reports" in html
    assert "$1.5150" in html  # 3.03 USD for 2,000 reports
    assert html.count("$1.5150") == 1  # none for the training job
