"""Publish and RecordFailure Lambdas: results, failure records and SNS messages without text."""

from __future__ import annotations

import json

import pytest
from handler_support import BUCKET, jsonl

from radimpress.handlers import publish, record_failure

INGEST = {
    "route": "infer",
    "run_id": "run-p",
    "dataset": "openi",
    "source_key": "incoming/infer/openi/dev.json",
    "started_at": "2026-11-24T08:00:00+00:00",
    "records_key": "runs/run-p/ingest/records.jsonl",
    "rejected_key": "runs/run-p/ingest/rejected.jsonl",
    "records": 2,
    "rejected": 1,
    "has_references": True,
}
SECRET = "Right upper lobe opacity"


def score_row(study_id: str, model: str, f1: float) -> dict:
    metric = {"precision": f1, "recall": f1, "fmeasure": f1}
    return {
        "run_id": "run-p",
        "dataset": "openi",
        "model": model,
        "study_id": study_id,
        "findings": SECRET,
        "reference": "Pneumonia.",
        "generated": "Opacity.",
        **{m: metric for m in ("rouge1", "rouge2", "rougeL", "rougeLsum")},
    }


def test_publish_writes_results_and_notifies_without_text(aws, context):
    for model, f1 in (("pre-trained", 0.2), ("fine-tuned", 0.6)):
        rows = [score_row("a", model, f1), score_row("b", model, f1)]
        aws.put(f"runs/run-p/scores/{model}.jsonl", jsonl(rows))
    scores = [
        {"model_key": m, "score_key": f"runs/run-p/scores/{m}.jsonl", "scored": 2, "generated": 2}
        for m in ("pre-trained", "fine-tuned")
    ]
    state = {"bucket": BUCKET, "key": INGEST["source_key"], "ingest": INGEST, "scores": scores}
    result = publish.handler({"execution": "run-p", "state": state}, context)
    assert result["notified"] is True
    assert result["summary_key"] in aws.keys("results/")
    assert any(k.endswith(".parquet") and "scores" in k for k in aws.keys("results/"))
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress infer run run-p succeeded"
    assert message["models"]["fine-tuned"]["rouge1"] == pytest.approx(0.6)
    assert message["records"] == 2 and message["rejected"] == 1
    assert SECRET not in json.dumps(message)


def test_training_runs_notify_the_registered_model(aws, context):
    state = {
        "bucket": BUCKET,
        "key": "incoming/train/mimic/t.json",
        "ingest": {**INGEST, "route": "train"},
        "model": {
            "model_name": "radimpress-ft-abc",
            "model_data_url": "s3://b/runs/run-p/train/output/j/output/model.tar.gz",
            "package_version": 3,
        },
    }
    result = publish.handler({"execution": "run-p", "state": state}, context)
    assert result == {
        "summary_key": None,
        "notified": True,
        "published": 0,
        "failed": 0,
        "failed_models": [],
    }
    ((_, message),) = aws.notifications()
    assert message["model_name"] == "radimpress-ft-abc"
    assert message["package_version"] == 3  # the registry version the notice names
    # No results, but the run's lineage, for the inference runs that will use its model.
    assert aws.keys("results/") == [
        "results/lineage-runs/run-p.json",
        "results/lineage/run_date=2026-11-24/run-p.parquet",
    ]
    lineage = json.loads(aws.read("results/lineage-runs/run-p.json"))
    assert lineage["route"] == "train" and lineage["input"]["file"] == INGEST["source_key"]
    assert lineage["model"]["model_name"] == "radimpress-ft-abc"


def test_record_failure_keeps_the_jobs_reason(aws, context):
    cause = json.dumps(
        {
            "errorType": "JobFailed",
            "errorMessage": "training job radimpress-ft-1 Failed: AlgorithmError: out of memory",
            "stackTrace": ["  File handler.py ..."],
        }
    )
    event = {
        "bucket": BUCKET,
        "key": "incoming/train/mimic/t.json",
        "execution": "run-f",
        "error": {"Error": "JobFailed", "Cause": cause},
    }
    result = record_failure.handler(event, context)
    assert result == {
        "failure_key": "runs/run-f/failure.json",
        "notified": True,
        "failure_written": True,
        "claim_released": False,
    }
    record = json.loads(aws.read("runs/run-f/failure.json"))
    assert record["error"] == "JobFailed"
    assert record["message"] == "training job radimpress-ft-1 Failed: AlgorithmError: out of memory"
    assert "stackTrace" not in json.dumps(record)
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-f failed: JobFailed"
    assert message["outcome"] == "failed"


def test_record_failure_with_a_states_error(aws, context):
    event = {
        "bucket": BUCKET,
        "execution": "run-g",
        "error": {"Error": "States.Timeout", "Cause": "The task timed out"},
    }
    record_failure.handler(event, context)
    assert json.loads(aws.read("runs/run-g/failure.json"))["message"] == "The task timed out"


FAILED_MODEL = {
    "model_key": "fine-tuned",
    "failed": True,
    "error": "JobFailed",
    "cause": json.dumps(
        {"errorType": "JobFailed", "errorMessage": "transform job t Failed: ping health check"}
    ),
}


def test_publish_keeps_the_models_that_succeeded_and_counts_the_failed(aws, context):
    aws.put("runs/run-p/scores/pre-trained.jsonl", jsonl([score_row("a", "pre-trained", 0.2)]))
    scores = [
        {
            "model_key": "pre-trained",
            "score_key": "runs/run-p/scores/pre-trained.jsonl",
            "scored": 1,
            "generated": 1,
        },
        FAILED_MODEL,
    ]
    state = {"bucket": BUCKET, "key": INGEST["source_key"], "ingest": INGEST, "scores": scores}
    result = publish.handler({"execution": "run-p", "state": state}, context)
    assert result["summary_key"] in aws.keys("results/")
    assert result["failed"] == 1
    assert result["failed_models"] == [{"model_key": "fine-tuned", "error": "JobFailed"}]
    # The run is failed (AnyModelFailed -> RecordFailure), which sends its one notice.
    assert result["notified"] is False and aws.notifications() == []


def test_publish_with_no_model_succeeded_publishes_nothing(aws, context):
    state = {
        "bucket": BUCKET,
        "key": INGEST["source_key"],
        "ingest": INGEST,
        "scores": [FAILED_MODEL],
    }
    result = publish.handler({"execution": "run-p", "state": state}, context)
    assert result["summary_key"] is None and result["failed"] == 1
    assert aws.keys("results/") == []
    assert result["notified"] is False and aws.notifications() == []  # RecordFailure's to send


def test_record_failure_names_each_failed_model_with_its_reason(aws, context):
    ok = {"model_key": "pre-trained", "score_key": "k", "scored": 1, "generated": 1}
    event = {
        "bucket": BUCKET,
        "key": INGEST["source_key"],
        "execution": "run-m",
        "error": {
            "Error": "ModelFailed",
            "Cause": "One or more models failed",
            "models": [ok, FAILED_MODEL],
        },
    }
    record_failure.handler(event, context)
    record = json.loads(aws.read("runs/run-m/failure.json"))
    assert record["error"] == "ModelFailed"
    assert record["failed_models"] == [
        {
            "model_key": "fine-tuned",
            "error": "JobFailed",
            "message": "transform job t Failed: ping health check",
        }
    ]
