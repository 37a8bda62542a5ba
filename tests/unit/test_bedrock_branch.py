"""The Map's Bedrock branch, step by step against moto's S3 and the Bedrock double: StartTransform
writes the input and starts a batch job (or answers each record below the minimum), JobStatus
polls it, Score joins the outputs by recordId, rejects what has no answer with its code, and
prices the run from the manifest's token counts."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from handler_support import BUCKET

from radimpress.bedrock.batch_files import MISSING
from radimpress.bedrock.fallback import Backoff
from radimpress.errors import JobFailed
from radimpress.events import ModelRef
from radimpress.settings import Settings
from radimpress.steps.bedrock_status import check_bedrock_job
from radimpress.steps.resolve_models import bedrock_model_ref
from radimpress.steps.score_bedrock import score_bedrock
from radimpress.steps.start_bedrock import input_prefix, start_bedrock
from radimpress.storage import iter_jsonl
from radimpress_workstation.job_backend.bedrock import LocalBedrock
from radimpress_workstation.job_backend.bedrock.quotas import Quotas

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::123456789012:role/radimpress-bedrock"
RUN = "run-1"
TRAIN_RUN = "train-1"
TRAINING = [
    {"study_id": "t1", "findings": "Heart size normal. Lungs are clear.", "impression": "Normal."},
    {"study_id": "t2", "findings": "Right lower lobe opacity.", "impression": "Pneumonia."},
]
RECORDS = [
    {
        "study_id": f"s{i:03d}",
        "findings": f"Right lower lobe opacity number {i}. Heart XXXX normal.",
        "impression": "Right lower lobe pneumonia.",
    }
    for i in range(12)
]


def _settings(**changes) -> Settings:
    values = {
        "resource_prefix": "radimpress",
        "bedrock_model_id": MODEL,
        "bedrock_role_arn": ROLE,
        "bedrock_examples": 2,
        "bedrock_min_records": 10,
        "bedrock_concurrency": 2,
        "kms_key_arn": "",
    }
    return replace(Settings.from_env(), **{**values, **changes})


def _put_jsonl(s3, key, rows) -> None:
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


@pytest.fixture
def double(s3):
    bedrock = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=10))
    yield bedrock
    bedrock.shutdown()


@pytest.fixture
def run_files(s3):
    _put_jsonl(s3, f"runs/{RUN}/ingest/records.jsonl", RECORDS)
    _put_jsonl(s3, f"runs/{TRAIN_RUN}/ingest/records.jsonl", TRAINING)
    return f"runs/{RUN}/ingest/records.jsonl"


def _model() -> ModelRef:
    fine_tuned = ModelRef(
        model_key="fine-tuned", label="fine-tuned", model_name="m", training_run_id=TRAIN_RUN
    )
    return bedrock_model_ref(MODEL, fine_tuned)


def _start(s3, double, records_key, **changes):
    # Retries after throttling wait no real time here (the backoff's arithmetic has its own tests).
    return start_bedrock(
        double,
        double,
        s3,
        BUCKET,
        _settings(**changes),
        run_id=RUN,
        records_key=records_key,
        model=_model(),
        backoff=Backoff(base_seconds=0.0),
    )


def _score(s3, started, usage=None):
    return score_bedrock(
        s3,
        BUCKET,
        run_id=RUN,
        dataset="d",
        records_key=f"runs/{RUN}/ingest/records.jsonl",
        output_key=started.output_key,
        model=_model(),
        job_usage=usage,
    )


def _poll(double, started):
    double.wait(30)
    return check_bedrock_job(
        double, started.kind, started.job_name, started_epoch=0, max_wait_seconds=3600
    )


def test_the_model_ref_takes_its_examples_from_the_fine_tunes_training_records():
    model = _model()
    assert (model.model_key, model.role, model.model_name) == ("bedrock", "bedrock", MODEL)
    assert model.examples_key == f"runs/{TRAIN_RUN}/ingest/records.jsonl"
    assert bedrock_model_ref(MODEL, None).examples_key == ""  # no fine-tune: zero-shot


def test_a_batch_job_is_started_polled_and_scored_with_its_cost(s3, double, run_files):
    started = _start(s3, double, run_files)
    assert started.kind == "bedrock" and started.job_name.startswith("arn:aws:bedrock:")
    line = next(iter_jsonl(s3, BUCKET, f"{input_prefix(RUN, 'bedrock')}part-00001.jsonl"))[1]
    user = line["modelInput"]["messages"][0]["content"][0]["text"]
    assert "IMPRESSION: Pneumonia." in user  # a few-shot example from the training records
    assert line["modelInput"]["anthropic_version"] == "bedrock-2023-05-31"
    status = _poll(double, started)
    assert status.status == "Completed" and status.usage["kind"] == "bedrock"
    result = _score(s3, started, status.usage)
    assert (result.generated, result.scored, result.rejected) == (12, 12, 0)
    cost = result.job_usage["bedrock"]
    assert cost["mode"] == "batch" and cost["input_tokens"] > 0
    assert cost["usd"] > 0 and cost["prices_as_of"] == "2026-12-07"
    assert cost["usd_per_1000_reports"] == pytest.approx(cost["usd"] / 12 * 1000, rel=1e-3)
    rows = [row for _, row in iter_jsonl(s3, BUCKET, result.score_key)]
    assert {r["model_role"] for r in rows} == {"bedrock"}
    assert {r["generator"] for r in rows} == {"bedrock"}


def test_a_retried_start_gets_the_job_it_already_started(s3, double, run_files):
    first = _start(s3, double, run_files)
    again = _start(s3, double, run_files)
    assert again.job_name == first.job_name
    double.wait(30)


def test_error_lines_and_missing_records_become_rejections_with_their_codes(s3, double, run_files):
    """Bedrock answers a record whose modelInput the model refuses with an ``error`` line (the
    double: errorCode 400); a record with no line at all is ``bedrock:missing``."""
    started = _start(s3, double, run_files)
    _poll(double, started)
    run = json.loads(s3.get_object(Bucket=BUCKET, Key=started.output_key)["Body"].read())
    out_key = f"{run['output_prefix']}/{run['job_arn'].rsplit('/', 1)[-1]}/part-00001.jsonl.out"
    lines = [json.loads(x) for x in s3.get_object(Bucket=BUCKET, Key=out_key)["Body"].iter_lines()]
    lines[0] = {"recordId": lines[0]["recordId"], "error": {"errorCode": 400, "errorMessage": "x"}}
    dropped = lines.pop(1)
    _put_jsonl(s3, out_key, lines)
    result = _score(s3, started)
    assert (result.generated, result.rejected) == (10, 2)
    rejected = [row for _, row in iter_jsonl(s3, BUCKET, result.rejected_key)]
    codes = sorted(r["code"] for r in rejected)
    assert codes == ["bedrock:400", MISSING]
    assert dropped["recordId"][1:] in {r["study_id"] for r in rejected}
    assert all("opacity" not in json.dumps(r) for r in rejected)  # ids and codes, never text


def test_a_malformed_model_input_line_is_an_error_line_not_a_crash(s3, double, run_files):
    """A modelInput the model's schema refuses (here: messages not a list) is answered with an
    error line by Bedrock; Score rejects that record and scores the rest."""
    started = _start(s3, double, run_files)
    double.wait(30)
    key = f"{input_prefix(RUN, 'bedrock')}part-00001.jsonl"
    lines = [row for _, row in iter_jsonl(s3, BUCKET, key)]
    lines[3]["modelInput"]["messages"] = "not a list"
    _put_jsonl(s3, key, lines)
    double2 = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=10))
    try:
        arn = double2.create_model_invocation_job(
            jobName="radimpress-br-again",
            roleArn=ROLE,
            modelId=MODEL,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/{key}"}},
            outputDataConfig={
                "s3OutputDataConfig": {
                    "s3Uri": f"s3://{BUCKET}/runs/{RUN}/transform/bedrock/output/"
                }
            },
        )["jobArn"]
        double2.wait(30)
    finally:
        double2.shutdown()
    record = json.loads(s3.get_object(Bucket=BUCKET, Key=started.output_key)["Body"].read())
    record["job_arn"] = arn
    s3.put_object(Bucket=BUCKET, Key=started.output_key, Body=json.dumps(record).encode())
    result = _score(s3, started)
    assert (result.generated, result.rejected) == (11, 1)
    rejected = next(iter_jsonl(s3, BUCKET, result.rejected_key))[1]
    assert rejected["code"] == "bedrock:400" and rejected["study_id"] == "s003"


def test_below_the_minimum_each_record_is_answered_by_a_call(s3, double, run_files):
    started = _start(s3, double, run_files, bedrock_min_records=100)
    assert started.kind == "bedrock-calls"
    status = check_bedrock_job(
        double, started.kind, started.job_name, started_epoch=0, max_wait_seconds=60
    )
    assert status.status == "Completed"
    assert double.list_model_invocation_jobs()["invocationJobSummaries"] == []
    result = _score(s3, started)
    assert (result.generated, result.rejected) == (12, 0)
    cost = result.job_usage["bedrock"]
    assert cost["mode"] == "on-demand" and cost["output_tokens"] > 0 and cost["usd"] > 0


def test_a_throttled_call_is_retried_and_one_that_stays_throttled_is_rejected(
    s3, double, run_files
):
    # One record is throttled twice then answered; another is throttled on every attempt.
    double.fail_next("ThrottlingException", "ThrottlingException")
    started = _start(s3, double, run_files, bedrock_min_records=100, bedrock_concurrency=1)
    result = _score(s3, started)
    assert result.job_usage["retries"] == 2
    assert (result.generated, result.rejected) == (12, 0)
    double.fail_next(*["ThrottlingException"] * 6)
    started = _start(s3, double, run_files, bedrock_min_records=100, bedrock_concurrency=1)
    result = _score(s3, started)
    assert result.rejected == 1
    rejected = next(iter_jsonl(s3, BUCKET, result.rejected_key))[1]
    assert rejected["code"] == "bedrock:ThrottlingException"


def test_a_failed_job_fails_the_model_with_bedrocks_message(s3, double, run_files):
    """Below the double's minimum the job fails while Validating (as Bedrock's would)."""
    small = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=50))
    try:
        started = _start(s3, small, run_files)
        small.wait(30)
        with pytest.raises(JobFailed, match="below the minimum number of records"):
            check_bedrock_job(
                small, started.kind, started.job_name, started_epoch=0, max_wait_seconds=60
            )
    finally:
        small.shutdown()
