"""A run's lifecycle through its claim: committed runs are never released, a half-done commit is
finished or taken back, one notice per run outcome, and failures to release or to notify are
said, never swallowed (issue 19, items 1, 2, 3, 4, 5 and 6).

The killed-process cases (a Publish that dies without running ``except`` or ``finally``) are in
tests/integration/test_lifecycle_scenarios.py (TestPublishKilled); the seam's timeouts and log keys in
tests/integration/test_lambda_timeouts.py and test_log_attribution.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_support import BUCKET, ingest_version, jsonl, upload_version
from results_data import score_rows

from radimpress import claims
from radimpress.errors import TransientAwsError
from radimpress.events import PipelineState, ScoreResult
from radimpress.steps import publish as publish_step
from radimpress.steps import record_failure as record_failure_step

ROOT = Path(__file__).resolve().parents[2]
KEY = "incoming/infer/dev1/reports.jsonl"
REPORTS = [
    {"study_id": f"dev1-{i:04d}", "findings": f"Finding {i}.", "impression": f"Impression {i}."}
    for i in range(4)
]


def refused(code: str, operation: str, status: int = 403) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class Faulty:
    """The real client; ``rule(operation, kwargs)`` may return an exception to raise instead."""

    def __init__(self, real: Any, rule: Any) -> None:
        self.real, self.rule = real, rule

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)
        if not callable(method) or name.startswith("_") or name == "meta":
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            error = self.rule(name, kwargs)
            if error is not None:
                raise error
            return method(*args, **kwargs)

        return call


class Killed(BaseException):
    """Stands for the process dying: no ``except Exception`` of ours catches it."""


def upload(aws: Any) -> str:
    return upload_version(aws, KEY, REPORTS)


def ingest(aws: Any, run_id: str, version: str) -> Any:
    return ingest_version(aws, KEY, run_id, version)


def state_for(aws: Any, ingested: Any, failed: tuple[str, ...] = ()) -> PipelineState:
    """The state Publish receives: a scores file for each model that did not fail."""
    scores = []
    for model in ("pre-trained", "fine-tuned"):
        if model in failed:
            scores.append({"model_key": model, "failed": True, "error": "JobFailed"})
            continue
        key = f"runs/{ingested.run_id}/scores/{model}.jsonl"
        rows = score_rows(ingested.run_id, "dev1", model, 4, seed=len(model), skill=0.5)
        aws.put(key, jsonl(rows))
        scores.append({"model_key": model, "score_key": key, "scored": 4, "generated": 4})
    return PipelineState.model_validate(
        {"bucket": BUCKET, "key": KEY, "ingest": ingested.model_dump(), "scores": scores}
    )


def fail(aws: Any, run_id: str, version: str, s3: Any = None, **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {"error": "ModelFailed", "cause": "", "models": []}
    arguments.update(kwargs)
    return record_failure_step.record_failure(
        s3 or aws.s3, aws.sns, BUCKET, aws.topic_arn, run_id=run_id, source_key=KEY,
        version_id=version, **arguments,
    )  # fmt: skip


def run_objects(aws: Any, run_id: str) -> list[str]:
    return [k for k in aws.keys("results/") if run_id in k]


def claim_of(aws: Any, version: str) -> dict[str, Any]:
    from radimpress.layout import claim_key

    return json.loads(aws.read(claim_key(BUCKET, KEY, version)))


# ---- item 1: a run that published is never released ---------------------------------------


def test_a_partly_failed_run_keeps_its_claim_and_a_redelivery_is_a_duplicate(aws):
    version = upload(aws)
    first = ingest(aws, "run-1", version)
    state = state_for(aws, first, failed=("fine-tuned",))
    result, _ = publish_step.publish(aws.s3, aws.sns, aws.topic_arn, state, execution="run-1")
    assert result.summary_key and result.failed == 1
    models = [ScoreResult(model_key="pre-trained"), *[s for s in state.scores if s.failed]]
    recorded = fail(aws, "run-1", version, models=models)
    assert recorded.claim_released is False
    assert claim_of(aws, version)["state"] == claims.COMMITTED
    again = ingest(aws, "run-2", version)
    assert (again.route, again.duplicate_of) == ("duplicate", "run-1")
    # One notice for the run's one outcome, from RecordFailure: partly published.
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-1 partial: ModelFailed"
    assert message["outcome"] == "partial" and message["claim"]["state"] == claims.COMMITTED
    assert "upload the file again" in message["message"]


def test_a_run_that_committed_nothing_is_released_and_taken_over(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    assert fail(aws, "run-1", version, error="JobFailed").claim_released
    assert claim_of(aws, version)["state"] == claims.FAILED
    again = ingest(aws, "run-2", version)
    assert again.route == "infer"
    taken = claim_of(aws, version)
    assert taken["run_id"] == "run-2" and claims.state_of(taken) == claims.RUNNING
    assert taken["previous"] == {"run_id": "run-1", "state": claims.FAILED}
    # The failed run cannot publish any more, and cannot be released twice by mistake.
    with pytest.raises(claims.ClaimLost):
        claims.advance(aws.s3, BUCKET, taken_key(version), "run-1", claims.COMMITTED)


def taken_key(version: str) -> str:
    from radimpress.layout import claim_key

    return claim_key(BUCKET, KEY, version)


def test_claim_states_only_move_forward(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    where = taken_key(version)
    claims.advance(aws.s3, BUCKET, where, "run-1", claims.COMMITTING)
    claims.advance(aws.s3, BUCKET, where, "run-1", claims.COMMITTED)
    for backwards in (claims.RUNNING, claims.COMMITTING, claims.FAILED):
        with pytest.raises(claims.ClaimLost):
            claims.advance(aws.s3, BUCKET, where, "run-1", backwards)
    assert not claims.release(aws.s3, BUCKET, KEY, version, "run-1")


# ---- item 2: a notification failure after the commit -----------------------------------------


def test_sns_down_after_the_commit_neither_fails_nor_uncommits_the_run(aws, monkeypatch):
    from radimpress import notify

    monkeypatch.setattr(notify, "BACKOFF_SECONDS", (0.0, 0.0), raising=False)
    version = upload(aws)
    state = state_for(aws, ingest(aws, "run-1", version))
    tries: list[str] = []

    def sns_down(operation: str, kwargs: dict[str, Any]) -> Any:
        tries.append(operation)
        return refused("InternalError", operation, 500)

    result, message = publish_step.publish(
        aws.s3, Faulty(aws.sns, sns_down), aws.topic_arn, state, execution="run-1"
    )
    assert result.summary_key in aws.keys("results/runs/")
    assert result.notified is False and len(tries) == 3  # retried, then recorded
    claim = claim_of(aws, version)
    assert claim["state"] == claims.COMMITTED and "InternalError" in claim["notify_error"]
    assert "InternalError" in message["notify_error"]
    # A retried Publish (the same state again) neither publishes twice nor fails.
    again, _ = publish_step.publish(aws.s3, aws.sns, aws.topic_arn, state, execution="run-1")
    assert again.summary_key == result.summary_key and again.notified is True
    assert len(aws.notifications()) == 1
    assert ingest(aws, "run-2", version).route == "duplicate"


def test_a_retried_publish_does_not_notify_twice(aws):
    version = upload(aws)
    state = state_for(aws, ingest(aws, "run-1", version))
    for _ in range(2):
        result, _ = publish_step.publish(aws.s3, aws.sns, aws.topic_arn, state, execution="run-1")
        assert result.notified
    assert len(aws.notifications()) == 1
    assert claim_of(aws, version)["notified"] == "succeeded"


# ---- item 3: staging, commit last, finish or take back -----------------------------------------


def die_at_the_summary(real: Any) -> Faulty:
    """Publish's S3, dying as it is about to write the run summary (the commit marker)."""

    def rule(operation: str, kwargs: dict[str, Any]) -> Any:
        writes = operation in ("copy_object", "upload_fileobj", "put_object")
        return (
            Killed() if writes and str(kwargs.get("Key", "")).startswith("results/runs/") else None
        )

    return Faulty(real, rule)


def test_nothing_is_under_the_table_folders_before_the_commit_starts(aws):
    version = upload(aws)
    state = state_for(aws, ingest(aws, "run-1", version))
    seen: list[list[str]] = []

    def rule(operation: str, kwargs: dict[str, Any]) -> Any:
        if operation == "copy_object" and not seen:  # the commit's first copy
            seen.append([k for k in aws.keys("results/") if "/staging/" not in k])
        return None

    publish_step.publish(Faulty(aws.s3, rule), aws.sns, aws.topic_arn, state, execution="run-1")
    assert seen == [[]]  # every object was staged first; the tables' folders saw nothing


def test_a_publish_killed_mid_commit_is_finished_by_its_retry(aws):
    version = upload(aws)
    state = state_for(aws, ingest(aws, "run-1", version))
    with pytest.raises(Killed):
        publish_step.publish(
            die_at_the_summary(aws.s3), aws.sns, aws.topic_arn, state, execution="run-1"
        )
    assert claim_of(aws, version)["state"] == claims.COMMITTING
    result, _ = publish_step.publish(aws.s3, aws.sns, aws.topic_arn, state, execution="run-1")
    assert result.summary_key in aws.keys("results/runs/")
    assert aws.keys("results/staging/") == []
    assert claim_of(aws, version)["state"] == claims.COMMITTED
    # report, scores, texts, per-observation and lineage objects, lineage record, summary: once
    objects = run_objects(aws, "run-1")
    assert len(objects) == 7
    assert "results/texts/run_date=2026-11-24/run-1.parquet" in objects


def test_record_failure_takes_back_a_half_done_commit_and_releases_the_upload(aws):
    version = upload(aws)
    state = state_for(aws, ingest(aws, "run-1", version))
    with pytest.raises(Killed):
        publish_step.publish(
            die_at_the_summary(aws.s3), aws.sns, aws.topic_arn, state, execution="run-1"
        )
    assert any(k.startswith("results/scores/") for k in run_objects(aws, "run-1"))
    assert any(k.startswith("results/texts/") for k in run_objects(aws, "run-1"))
    recorded = fail(aws, "run-1", version, error="Runtime.ExitError")
    assert recorded.claim_released
    assert run_objects(aws, "run-1") == []  # no table row, no report, no staging
    record = json.loads(aws.read("runs/run-1/failure.json"))
    assert record["claim"]["withdrawn"][0].startswith("results/runs/")  # commit marker first
    assert ingest(aws, "run-2", version).route == "infer"


def test_the_next_publish_sweeps_the_staging_of_dead_runs(aws):
    from datetime import UTC, datetime, timedelta

    version = upload(aws)
    dead = ingest(aws, "run-1", version)
    with pytest.raises(Killed):
        publish_step.publish(
            die_at_the_summary(aws.s3), aws.sns, aws.topic_arn, state_for(aws, dead),
            execution="run-1",
        )  # fmt: skip
    # Nobody recorded the failure (an execution stopped by hand): only age tells it is dead.
    later = datetime.now(UTC) + publish_step.STALE_STAGING + timedelta(minutes=1)
    assert publish_step.sweep(aws.s3, BUCKET, current_run="run-x") == []  # not yet: maybe alive
    removed = publish_step.sweep(aws.s3, BUCKET, current_run="run-x", now=later)
    assert removed and run_objects(aws, "run-1") == []
    assert claim_of(aws, version)["state"] == claims.FAILED  # the upload can run again
    assert ingest(aws, "run-2", version).route == "infer"


def test_staging_of_a_released_run_goes_at_once(aws):
    version = upload(aws)
    dead = ingest(aws, "run-1", version)

    def die_after_staging(operation: str, kwargs: dict[str, Any]) -> Any:
        committing = operation == "put_object" and str(kwargs.get("Key", "")).startswith("claims/")
        return Killed() if committing else None

    with pytest.raises(Killed):
        publish_step.publish(
            Faulty(aws.s3, die_after_staging), aws.sns, aws.topic_arn, state_for(aws, dead),
            execution="run-1",
        )  # fmt: skip
    assert aws.keys("results/staging/")
    assert fail(aws, "run-1", version, error="Runtime.ExitError").claim_released
    assert publish_step.sweep(aws.s3, BUCKET, current_run="run-2")
    assert aws.keys("results/") == []


# ---- item 4: a release that fails is said, with what to do -------------------------------------


def test_a_release_refused_for_good_tells_the_operator_what_to_do(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)

    def claims_refused(operation: str, kwargs: dict[str, Any]) -> Any:
        if str(kwargs.get("Key", "")).startswith("claims/") and operation != "get_object":
            return refused("AccessDenied", operation)
        return None

    recorded = fail(aws, "run-1", version, s3=Faulty(aws.s3, claims_refused), error="JobFailed")
    assert recorded.claim_released is False
    ((_, message),) = aws.notifications()
    where = taken_key(version)
    action = message["operator_action"]
    assert where in action and f"aws s3api delete-object --bucket {BUCKET} --key {where}" in action
    assert message["claim"]["error"].endswith("AccessDenied")
    assert json.loads(aws.read("runs/run-1/failure.json"))["operator_action"] == action


def test_a_release_that_fails_briefly_is_retried_then_raised_for_the_state_retry(aws, monkeypatch):
    version = upload(aws)
    ingest(aws, "run-1", version)
    calls: list[str] = []

    def throttled(operation: str, kwargs: dict[str, Any]) -> Any:
        if str(kwargs.get("Key", "")).startswith("claims/") and operation == "put_object":
            calls.append(operation)
            return refused("SlowDown", operation, 503)
        return None

    monkeypatch.setattr(record_failure_step, "RELEASE_BACKOFF_SECONDS", 0.0)
    with pytest.raises(TransientAwsError):
        fail(aws, "run-1", version, s3=Faulty(aws.s3, throttled), last_attempt=False)
    assert len(calls) == record_failure_step.RELEASE_ATTEMPTS
    assert aws.notifications() == []  # the state's Retry tries again; nothing sent yet
    recorded = fail(aws, "run-1", version, s3=Faulty(aws.s3, throttled), last_attempt=True)
    assert recorded.claim_released is False and recorded.notified
    ((_, message),) = aws.notifications()
    assert "SlowDown" in message["claim"]["error"] and message["operator_action"]


# ---- item 5: Lambda timeouts and service errors are retried -------------------------------------


def test_every_lambda_task_retries_timeouts_and_lambda_service_errors():
    """AWS Step Functions Developer Guide, "Handle Lambda service exceptions"
    (docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html): retry
    Lambda.ServiceException, AWSLambdaException, SdkClientException (and ClientExecutionTimeout);
    at the invocation limit the error is Lambda.TooManyRequestsException; function timeouts come
    back as the function's error, ``Sandbox.Timedout`` (Lambda.Unknown in older runtimes)."""
    definition = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())
    wanted = {
        "Sandbox.Timedout",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }

    def tasks(states: dict[str, Any]) -> Any:
        for name, state in states.items():
            if state["Type"] == "Task":
                yield name, state
            if state["Type"] == "Map":
                yield from tasks(state["ItemProcessor"]["States"])

    found = list(tasks(definition["States"]))
    assert len(found) == 11
    for name, state in found:
        assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
        retried = {e for rule in state["Retry"] for e in rule["ErrorEquals"]}
        assert wanted <= retried, (name, wanted - retried)


# ---- item 6: one notice per run outcome -------------------------------------------------------


def test_two_failed_models_make_one_failed_notice(aws):
    version = upload(aws)
    first = ingest(aws, "run-1", version)
    state = state_for(aws, first, failed=("pre-trained", "fine-tuned"))
    result, _ = publish_step.publish(aws.s3, aws.sns, aws.topic_arn, state, execution="run-1")
    assert result.summary_key is None and result.failed == 2 and not result.notified
    recorded = fail(aws, "run-1", version, models=list(state.scores))
    assert recorded.notified and recorded.claim_released
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-1 failed: ModelFailed"
    assert "nothing was published" in message["message"]


def test_a_retried_record_failure_does_not_notify_twice(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    fail(aws, "run-1", version, error="JobFailed")
    fail(aws, "run-1", version, error="JobFailed")  # the Lambda died after sending: retried
    assert len(aws.notifications()) == 1
