"""Every Lambda, a training run then an inference run on moto: what leaves the handlers.

Two promises are checked on everything the handlers print, log, warn or return (the return value
is what Step Functions keeps in its state and history):

- patient text (findings, impressions, background, generated impressions) never appears there:
  ids, keys and counts only;
- every handler's success path emits its business metrics (EMF on stdout), so powertools' "No
  application metrics to publish" warning, ignored elsewhere for failure paths, is an error here.
"""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from handler_support import BUCKET, jsonl

from radimpress.handlers import (
    ingest,
    job_status,
    promote,
    publish,
    record_failure,
    register_model,
    resolve_models,
    score,
    start_training,
    start_transform,
)

FINDINGS = "Spiculated nodule in the left upper lobe of Jane Roe"
IMPRESSION = "Suspicious pulmonary nodule seen in Jane Roe"
BACKGROUND = "Jane Roe, smoker, weight loss"
GENERATED = "Nodule in Jane Roe suspicious for cancer"
REJECTED = "Pleural effusion mentioned by Dr Who"  # in a record rejected for its missing findings
PATIENT_TEXT = (FINDINGS, IMPRESSION, BACKGROUND, GENERATED, REJECTED, "Jane Roe", "Dr Who")

pytestmark = pytest.mark.filterwarnings("error:No application metrics to publish:UserWarning")


def reports(route: str) -> bytes:
    return jsonl(
        [
            {
                "study_id": f"{route}-{i}",
                "subject_id": i,
                "findings": f"{FINDINGS} {i}.",
                "impression": f"{IMPRESSION} {i}.",
                "background": BACKGROUND,
            }
            for i in range(3)
        ]
        + [{"study_id": f"{route}-bad", "impression": REJECTED}]
    )


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything the powertools loggers write (they hold the stdout of when they were made)."""
    buffer = io.StringIO()
    handlers = logging.getLogger("radimpress").handlers
    streams = [h.setStream(buffer) for h in handlers if isinstance(h, logging.StreamHandler)]
    assert streams, "the powertools Logger has no stream handler to capture"
    yield buffer
    for handler, stream in zip(handlers, streams, strict=False):
        handler.setStream(stream)


class Calls:
    """Calls handlers, keeping what each returned and the metric names each emitted."""

    def __init__(self, context: Any, capsys: pytest.CaptureFixture[str]) -> None:
        self.context, self.capsys = context, capsys
        self.results: list[Any] = []
        self.out: list[str] = []
        self.metrics: dict[str, set[str]] = defaultdict(set)

    def __call__(self, module: Any, event: dict[str, Any]) -> dict[str, Any]:
        result = module.handler(event, self.context)
        self.results.append(result)
        captured = self.capsys.readouterr()
        self.out += [captured.out, captured.err]
        for line in captured.out.splitlines():
            blob = json.loads(line) if line.startswith("{") else {}
            for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
                names = {m["Name"] for m in directive["Metrics"]} - {"ColdStart"}
                self.metrics[module.__name__.rsplit(".", 1)[1]] |= names
        return result


def test_handlers_count_their_work_and_never_emit_patient_text(aws, context, capsys, logs):
    call = Calls(context, capsys)

    # Training run: Ingest -> StartTraining -> JobStatus -> RegisterModel -> Publish.
    aws.put("incoming/train/demo/train.jsonl", reports("t"))
    started_at = "2026-11-24T08:00:00Z"
    train = call(
        ingest,
        {
            "bucket": BUCKET,
            "key": "incoming/train/demo/train.jsonl",
            "run_id": "run-t",
            "started_at": started_at,
        },
    )
    assert (train["records"], train["rejected"]) == (3, 1)
    job = call(
        start_training, {"bucket": BUCKET, "run_id": "run-t", "dataset": "demo", "records": 3}
    )
    assert call(job_status, {**job, "max_wait_seconds": 3600})["status"] == "Completed"
    aws.write_training_artifact(job["job_name"])
    model = call(
        register_model,
        {"bucket": BUCKET, "run_id": "run-t", "dataset": "demo", "job_name": job["job_name"]},
    )
    # The first fine-tune: the promotion gate approves it (AutoApprove on, nothing to compare).
    promotion = call(promote, {"bucket": BUCKET, "run_id": "run-t", "model": model, "scores": []})
    assert promotion["status"] == "Approved"
    state = {"bucket": BUCKET, "key": train["source_key"], "ingest": train, "model": model}
    call(publish, {"execution": "run-t", "state": state})

    # Inference run: Ingest -> ResolveModels -> per model StartTransform, JobStatus, Score -> Publish.
    aws.put("incoming/infer/demo/dev.jsonl", reports("i"))
    infer = call(
        ingest,
        {
            "bucket": BUCKET,
            "key": "incoming/infer/demo/dev.jsonl",
            "run_id": "run-i",
            "started_at": started_at,
        },
    )
    models = call(resolve_models, {"bucket": BUCKET, "run_id": "run-i"})["models"]
    assert [m["model_key"] for m in models] == ["pre-trained", "fine-tuned"]
    scores = []
    for model_ref in models:
        event = {"bucket": BUCKET, "run_id": "run-i", "records_key": infer["records_key"]}
        started = call(start_transform, {**event, "model": model_ref})
        assert call(job_status, {**started, "max_wait_seconds": 3600})["status"] == "Completed"
        output = [
            {"study_id": f"i-{i}", "SageMakerOutput": {"generated_texts": [f"{GENERATED} {i}"]}}
            for i in range(3)
        ]
        aws.put(started["output_key"], jsonl(output))
        scores.append(
            call(
                score,
                {
                    **event,
                    "dataset": "demo",
                    "output_key": started["output_key"],
                    "model": model_ref,
                },
            )
        )
    assert [s["scored"] for s in scores] == [3, 3]
    state = {"bucket": BUCKET, "key": infer["source_key"], "ingest": infer, "scores": scores}
    assert call(publish, {"execution": "run-i", "state": state})["summary_key"]

    # A failed run: RecordFailure with the failing Lambda's error as Step Functions passes it.
    cause = json.dumps({"errorType": "JobFailed", "errorMessage": "training job j Failed: OOM"})
    call(
        record_failure,
        {"bucket": BUCKET, "execution": "run-f", "error": {"Error": "JobFailed", "Cause": cause}},
    )

    assert dict(call.metrics) == {
        "ingest": {"RecordsAccepted", "RecordsRejected"},
        "start_training": {"TrainingJobsStarted"},
        "job_status": {
            "TrainingJobsCompleted",
            "TrainingJobSeconds",
            "TransformJobsCompleted",
            "TransformJobSeconds",
        },
        "register_model": {"ModelsRegistered"},
        "promote": {"ModelsApproved"},
        "publish": {"RunsSucceeded", "RunsPublished"},
        "resolve_models": {"ModelsCompared"},
        "start_transform": {"TransformLines"},
        "score": {"ReportsGenerated", "ReportsScored"},
        "record_failure": {"RunsFailed"},
    }
    logged = logs.getvalue()
    assert '"message":"ingested"' in logged.replace(" ", "")  # the capture sees the handlers' logs
    emitted = "\n".join([logged, *call.out, json.dumps(call.results)])
    assert [text for text in PATIENT_TEXT if text in emitted] == []
    # ... while the run's own files do hold it (so the check above is not vacuous).
    assert FINDINGS in aws.read(infer["records_key"]).decode()
    assert GENERATED in aws.read(scores[0]["score_key"]).decode()
