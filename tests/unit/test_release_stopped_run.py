"""ReleaseStoppedRun: an execution stopped by hand, timed out, or failed outside every Catch
releases its claim only when it committed nothing, records why, and notifies once (issue 19).

The whole path through the embedded stack (StopExecution -> the status change event -> the
template's rule -> this Lambda -> a redelivery that runs) is in
tests/integration/test_stopped_executions.py.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_support import BUCKET, ingest_version, upload_version

from radimpress import claims, layout
from radimpress.handlers import release_stopped_run as handler_module
from radimpress.layout import claim_key
from radimpress.steps import record_failure as record_failure_step
from radimpress.steps import release_stopped_run as step
from radimpress.steps.release_stopped_run import NoticePending, release_stopped_run
from radimpress_workstation.embedded.template import load

KEY = "incoming/infer/dev1/reports.jsonl"
FINDINGS = "Secret finding about the left lung."
REPORTS = [{"study_id": f"s{i}", "findings": FINDINGS, "impression": "Fine."} for i in range(3)]
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STOPPED_AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def upload(aws: Any) -> str:
    return upload_version(aws, KEY, REPORTS)


def ingest(aws: Any, run_id: str, version: str) -> Any:
    return ingest_version(aws, KEY, run_id, version)


def stopped(
    aws: Any, run_id: str, version: str | None, status: str = "ABORTED", sns: Any = None, **kw: Any
) -> Any:
    """One delivery of the execution's status change event (``sns``: its SNS client)."""
    source = {"bucket": BUCKET, "key": KEY, "version_id": version, "poll_seconds": 1}
    arguments: dict[str, Any] = {
        "run_id": run_id,
        "status": status,
        "execution_arn": f"{MACHINE.replace('stateMachine', 'execution')}:{run_id}",
        "execution_input": source,
    }
    arguments.update(kw)
    return release_stopped_run(aws.s3, sns or aws.sns, BUCKET, aws.topic_arn, **arguments)


def claim_of(aws: Any, version: str) -> dict[str, Any]:
    return json.loads(aws.read(claim_key(BUCKET, KEY, version)))


def test_an_aborted_run_that_committed_nothing_is_released_and_the_upload_runs_again(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    result = stopped(aws, "run-1", version)
    assert (result.action, result.claim_released, result.notified) == ("released", True, True)
    claim = claim_of(aws, version)
    assert claim["state"] == claims.FAILED
    assert (claim["notified"], claim["stopped"]) == ("failed", "ABORTED")
    record = json.loads(aws.read("runs/run-1/failure.json"))
    assert record["error"] == "ExecutionAborted" and record["message"] == "execution aborted"
    assert record["claim"]["released"] is True
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-1 failed: ExecutionAborted"
    assert message["outcome"] == "failed" and message["failure_key"] == "runs/run-1/failure.json"
    again = ingest(aws, "run-2", version)  # a redelivery takes the released claim over
    assert again.route == "infer" and claim_of(aws, version)["run_id"] == "run-2"


def test_a_timed_out_run_says_so(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    stopped(aws, "run-1", version, status="TIMED_OUT")
    record = json.loads(aws.read("runs/run-1/failure.json"))
    assert (record["error"], record["message"]) == ("ExecutionTimedOut", "timed out")
    ((subject, _),) = aws.notifications()
    assert subject.endswith("failed: ExecutionTimedOut")


def test_a_redelivered_event_neither_releases_twice_nor_notifies_twice(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    stopped(aws, "run-1", version)
    again = stopped(aws, "run-1", version)
    assert again.action == "already-settled" and again.notified is False
    assert again.claim_released is True
    assert len(aws.notifications()) == 1


def test_a_committed_run_stopped_afterwards_stays_committed(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    where = claim_key(BUCKET, KEY, version)
    claims.advance(aws.s3, BUCKET, where, "run-1", claims.COMMITTING)
    claims.advance(aws.s3, BUCKET, where, "run-1", claims.COMMITTED)
    result = stopped(aws, "run-1", version)
    assert (result.action, result.claim_released) == ("kept-committed", False)
    assert claim_of(aws, version)["state"] == claims.COMMITTED
    assert ingest(aws, "run-2", version).route == "duplicate"
    ((subject, message),) = aws.notifications()  # Publish had not notified: this is the notice
    assert subject == "radimpress run run-1 partial: ExecutionAborted"
    assert "committed and stay" in message["message"]


def test_a_committed_and_notified_run_is_left_alone(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    where = claim_key(BUCKET, KEY, version)
    claims.advance(aws.s3, BUCKET, where, "run-1", claims.COMMITTED, notified="succeeded")
    result = stopped(aws, "run-1", version)
    assert result.action == "already-settled" and result.claim_released is False
    assert aws.notifications() == [] and "runs/run-1/failure.json" not in aws.keys("runs/")


def test_a_half_done_commit_is_taken_back_before_the_release(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    final, staging = "results/runs/run_date=2026-11-24/run-1.parquet", "results/staging/run-1/a"
    aws.put(final, b"summary")
    aws.put(staging, b"staged")
    where = claim_key(BUCKET, KEY, version)
    claims.advance(
        aws.s3, BUCKET, where, "run-1", claims.COMMITTING, publish={"pairs": [[staging, final]]}
    )
    result = stopped(aws, "run-1", version)
    assert result.action == "released" and claim_of(aws, version)["state"] == claims.FAILED
    assert aws.keys("results/") == []


def test_a_failed_execution_that_went_through_record_failure_gets_no_second_notice(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    record_failure_step.record_failure(
        aws.s3, aws.sns, BUCKET, aws.topic_arn, run_id="run-1", source_key=KEY,
        error="JobFailed", cause="", models=[], version_id=version,
    )  # fmt: skip
    before = aws.read("runs/run-1/failure.json")
    result = stopped(aws, "run-1", version, status="FAILED", error="PipelineFailed")
    assert result.action == "already-settled"
    assert len(aws.notifications()) == 1
    assert aws.read("runs/run-1/failure.json") == before  # RecordFailure's record stays


def test_a_failed_execution_whose_record_failure_could_not_notify_gets_the_notice(aws):
    """RecordFailure released the claim and wrote its record, then SNS refused (its Catch goes
    to PipelineFailed): this sends the one notice and keeps RecordFailure's record."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    claims.release(aws.s3, BUCKET, KEY, version, "run-1")
    aws.put("runs/run-1/failure.json", json.dumps({"error": "JobFailed"}))
    result = stopped(aws, "run-1", version, status="FAILED", error="PipelineFailed")
    assert result.action == "released" and result.notified and not result.failure_written
    assert json.loads(aws.read("runs/run-1/failure.json")) == {"error": "JobFailed"}
    ((subject, message),) = aws.notifications()
    assert subject.endswith("failed: ExecutionFailed")
    assert message["execution_error"] == {"error": "PipelineFailed", "cause": None}
    assert claim_of(aws, version)["notified"] == "failed"


def test_a_failed_execution_whose_record_failure_could_not_release_is_released_silently(aws):
    """RecordFailure wrote its record and sent its notice (with the operator's commands) but S3
    refused its claim writes: the claim is released now, with no second notice."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    aws.put("runs/run-1/failure.json", json.dumps({"error": "InputFileError"}))
    result = stopped(aws, "run-1", version, status="FAILED", error="PipelineFailed")
    assert (result.action, result.claim_released, result.notified) == ("released", True, False)
    claim = claim_of(aws, version)
    assert claim["state"] == claims.FAILED and claim["stopped"] == "FAILED"
    assert "notified" not in claim and aws.notifications() == []
    assert ingest(aws, "run-2", version).route == "infer"


def test_a_duplicate_execution_stopped_leaves_the_owning_run_alone(aws):
    version = upload(aws)
    ingest(aws, "run-1", version)
    result = stopped(aws, "run-2", version)
    assert result.action == "not-ours"
    assert claims.state_of(claim_of(aws, version)) == claims.RUNNING
    assert aws.notifications() == []


def test_an_execution_stopped_before_ingest_claimed_notifies_once(aws):
    version = upload(aws)
    first = stopped(aws, "run-1", version)
    assert (first.action, first.notified, first.failure_written) == ("unclaimed", True, True)
    assert stopped(aws, "run-1", version).action == "already-settled"
    assert len(aws.notifications()) == 1
    assert ingest(aws, "run-2", version).route == "infer"  # nothing blocks the upload


def test_an_event_without_input_tells_the_operator_where_to_look(aws):
    result = stopped(aws, "run-1", "v", execution_input=None)
    assert result.action == "unidentified" and result.notified
    ((_, message),) = aws.notifications()
    assert "describe-execution" in message["operator_action"]


@pytest.mark.parametrize("status", ["SUCCEEDED", "RUNNING"])
def test_other_statuses_are_ignored(aws, status):
    version = upload(aws)
    ingest(aws, "run-1", version)
    assert stopped(aws, "run-1", version, status=status).action == "ignored"
    assert claims.state_of(claim_of(aws, version)) == claims.RUNNING


# ---- one notice when deliveries race (EventBridge delivers at least once; Lambda retries) ----


class Killed(BaseException):
    """A Lambda killed at its timeout: no ``except Exception`` and no ``finally`` of ours runs
    (a BaseException passes them), so the delivery leaves behind whatever it had written."""


class SnsHeldOpen:
    """The SNS client of a delivery whose publish is in flight until ``release`` is set (the
    first of two racing deliveries, caught in the middle of sending its notice)."""

    def __init__(self, sns: Any) -> None:
        self._sns = sns
        self.sending, self.release = threading.Event(), threading.Event()

    def publish(self, **kwargs: Any) -> Any:
        self.sending.set()
        assert self.release.wait(10), "the second delivery never finished"
        return self._sns.publish(**kwargs)


class SnsKilled:
    """The SNS client of a delivery killed while it sends (nothing reaches the topic)."""

    def publish(self, **kwargs: Any) -> Any:
        raise Killed


@pytest.fixture
def no_waiting(monkeypatch) -> None:
    """A delivery that finds the notice lease held fails at once instead of waiting for it."""
    monkeypatch.setattr(step, "PENDING_PAUSES", ())


def test_two_deliveries_at_the_same_moment_send_one_notice(aws, no_waiting):
    """The first delivery has released the claim and written failure.json and is sending its
    notice when the second arrives. Before the notice lease the second one, finding the claim
    released and not yet notified, sent a second notice."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    held = SnsHeldOpen(aws.sns)
    first: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: first.update(result=stopped(aws, "run-1", version, sns=held))
    )
    thread.start()
    try:
        assert held.sending.wait(10)
        with pytest.raises(NoticePending):  # Lambda retries the event later
            stopped(aws, "run-1", version)
        assert aws.notifications() == []  # the second sent nothing
    finally:
        held.release.set()
        thread.join(10)
    assert (first["result"].action, first["result"].notified) == ("released", True)
    assert len(aws.notifications()) == 1
    retried = stopped(aws, "run-1", version)  # the second delivery's retry: nothing left to do
    assert retried.action == "already-settled" and retried.notified is False
    assert len(aws.notifications()) == 1
    assert claim_of(aws, version)["notified"] == "failed"


def test_a_delivery_waits_briefly_for_a_holder_that_finishes(aws, monkeypatch):
    """The usual race: the holder finishes during the other delivery's pause, which then ends
    quietly instead of failing its invocation."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    held = SnsHeldOpen(aws.sns)
    thread = threading.Thread(target=lambda: stopped(aws, "run-1", version, sns=held))

    def holder_finishes_meanwhile(seconds: float) -> None:
        held.release.set()
        thread.join(10)

    monkeypatch.setattr(step, "PENDING_PAUSES", (0.5,))
    monkeypatch.setattr(step.time, "sleep", holder_finishes_meanwhile)
    thread.start()
    assert held.sending.wait(10)
    second = stopped(aws, "run-1", version)
    assert not thread.is_alive()
    assert second.action == "already-settled" and second.notified is False
    assert len(aws.notifications()) == 1


def test_a_delivery_killed_right_after_taking_the_lease_is_taken_over_once_it_expires(
    aws, monkeypatch, no_waiting
):
    """At most one notice while the holder may still run, at least one once it cannot: a
    delivery within the function's timeout of the lease sends nothing, a later one settles the
    run and sends the notice."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    take = claims.take_notice

    def take_then_die(*args: Any, **kwargs: Any) -> Any:
        lease = take(*args, **kwargs)
        if lease.ours:
            raise Killed
        return lease

    monkeypatch.setattr(claims, "take_notice", take_then_die)
    with pytest.raises(Killed):
        stopped(aws, "run-1", version, holder="delivery-1", now=STOPPED_AT)
    monkeypatch.setattr(claims, "take_notice", take)
    assert claims.state_of(claim_of(aws, version)) == claims.RUNNING  # it died before settling
    soon = STOPPED_AT + timedelta(seconds=step.FUNCTION_TIMEOUT_SECONDS)
    with pytest.raises(NoticePending):
        stopped(aws, "run-1", version, holder="delivery-2", now=soon)
    assert aws.notifications() == []
    later = STOPPED_AT + timedelta(seconds=step.NOTICE_LEASE_SECONDS + 1)
    result = stopped(aws, "run-1", version, holder="delivery-2", now=later)
    assert (result.action, result.claim_released, result.notified) == ("released", True, True)
    assert len(aws.notifications()) == 1
    assert claim_of(aws, version)["notified"] == "failed"
    lease = json.loads(aws.read(layout.notice_key("run-1")))
    assert (lease["holder"], lease["taken_from"], lease["notified"]) == (
        "delivery-2",
        "delivery-1",
        True,
    )
    assert stopped(aws, "run-1", version, holder="delivery-3").action == "already-settled"
    assert len(aws.notifications()) == 1


def test_a_delivery_killed_while_sending_is_taken_over_once_its_lease_expires(aws, no_waiting):
    """Killed after it released the claim and wrote failure.json, in the middle of the send:
    before the notice lease the next delivery sent at once, even while the first could still
    be sending; now it waits for the lease to expire, then sends the one notice."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    with pytest.raises(Killed):
        stopped(aws, "run-1", version, sns=SnsKilled(), holder="delivery-1", now=STOPPED_AT)
    assert claim_of(aws, version)["state"] == claims.FAILED
    assert "runs/run-1/failure.json" in aws.keys("runs/")
    soon = STOPPED_AT + timedelta(seconds=step.FUNCTION_TIMEOUT_SECONDS - 1)
    with pytest.raises(NoticePending):
        stopped(aws, "run-1", version, holder="delivery-2", now=soon)
    assert aws.notifications() == []
    later = STOPPED_AT + timedelta(seconds=step.NOTICE_LEASE_SECONDS + 1)
    assert stopped(aws, "run-1", version, holder="delivery-2", now=later).notified
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-1 failed: ExecutionAborted"
    assert message["failure_key"] == "runs/run-1/failure.json"


def test_a_holder_killed_between_release_and_notice_still_notifies_after_a_reclaim(aws, no_waiting):
    """The holder released the claim and died sending its notice; before Lambda's retry a
    redelivered S3 event ran the upload again under run-2, whose claim it now is. Before, the
    retry saw another run's claim ("not-ours") and run-1's notice was never sent; now the lease
    its dead holder left says the notice is still owed: one notice for run-1, run-2's claim
    untouched."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    with pytest.raises(Killed):
        stopped(aws, "run-1", version, sns=SnsKilled(), holder="delivery-1", now=STOPPED_AT)
    assert claim_of(aws, version)["state"] == claims.FAILED
    ingest(aws, "run-2", version)  # the released version runs again
    claim_before = claim_of(aws, version)
    assert claim_before["run_id"] == "run-2"
    later = STOPPED_AT + timedelta(seconds=step.NOTICE_LEASE_SECONDS + 1)
    result = stopped(aws, "run-1", version, holder="delivery-2", now=later)
    assert (result.action, result.claim_released, result.notified) == ("reclaimed", True, True)
    ((subject, message),) = aws.notifications()
    assert subject == "radimpress run run-1 failed: ExecutionAborted"
    assert "claimed by a new run" in message["message"]
    assert claim_of(aws, version) == claim_before
    # The lease now records the notice: a further delivery is a plain duplicate of run-2's claim.
    assert stopped(aws, "run-1", version, holder="delivery-3").action == "not-ours"
    assert len(aws.notifications()) == 1


def test_a_duplicate_without_a_lease_is_still_not_ours(aws):
    """Only a lease a holder left unfinished makes another run's claim worth a notice: a stopped
    execution that never held one (a duplicate delivery) leaves the owning run alone."""
    version = upload(aws)
    ingest(aws, "run-1", version)
    assert stopped(aws, "run-dup", version).action == "not-ours"
    assert aws.notifications() == []


def test_a_holder_whose_notice_fails_gives_the_lease_back_for_an_immediate_retry(aws):
    """SNS refuses: the invocation fails as before (Lambda retries it), and the retry does not
    have to wait for the lease to expire."""
    version = upload(aws)
    ingest(aws, "run-1", version)

    class SnsRefusing:
        def publish(self, **kwargs: Any) -> Any:
            error: Any = {"Error": {"Code": "AuthorizationError", "Message": "refused"}}
            raise ClientError(error, "Publish")

    with pytest.raises(ClientError):
        stopped(aws, "run-1", version, sns=SnsRefusing(), holder="delivery-1", now=STOPPED_AT)
    assert json.loads(aws.read(layout.notice_key("run-1")))["holder"] == ""
    retried = stopped(aws, "run-1", version, holder="delivery-1-retry", now=STOPPED_AT)
    assert retried.notified and len(aws.notifications()) == 1


def test_an_unclaimed_run_whose_holder_died_after_its_record_still_gets_the_notice(aws, no_waiting):
    """Stopped before Ingest: the failure record marked the notice sent even when the delivery
    that wrote it died before sending. The lease tells a dead holder's record from
    RecordFailure's."""
    version = upload(aws)
    with pytest.raises(Killed):
        stopped(aws, "run-1", version, sns=SnsKilled(), holder="delivery-1", now=STOPPED_AT)
    assert "runs/run-1/failure.json" in aws.keys("runs/")
    later = STOPPED_AT + timedelta(seconds=step.NOTICE_LEASE_SECONDS + 1)
    result = stopped(aws, "run-1", version, holder="delivery-2", now=later)
    assert (result.action, result.notified, result.failure_written) == ("unclaimed", True, False)
    assert len(aws.notifications()) == 1
    assert stopped(aws, "run-1", version).action == "already-settled"
    assert len(aws.notifications()) == 1


def test_an_event_without_input_delivered_twice_notifies_once(aws):
    assert stopped(aws, "run-1", "v", execution_input=None).notified
    again = stopped(aws, "run-1", "v", execution_input=None)
    assert again.action == "already-settled" and not again.notified
    assert len(aws.notifications()) == 1


def test_the_lease_outlives_the_functions_timeout_in_the_template():
    """A holder is presumed dead only once its invocation must have ended: the lease bound is
    at least ReleaseStoppedRunFunction's Timeout (its own, else the template's Globals)."""
    template = load(TEMPLATE)
    function = template["Resources"]["ReleaseStoppedRunFunction"]["Properties"]
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert timeout == step.FUNCTION_TIMEOUT_SECONDS
    assert timeout < step.NOTICE_LEASE_SECONDS


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the powertools logger writes (it holds the stdout of when it was made)."""
    buffer = io.StringIO()
    handlers = [h for h in logging.getLogger("radimpress").handlers if hasattr(h, "setStream")]
    saved = [h.setStream(buffer) for h in handlers]
    assert handlers, "the powertools Logger has no stream handler to capture"
    yield buffer
    for handler, stream in zip(handlers, saved, strict=True):
        handler.setStream(stream)


def test_the_handler_reads_the_documented_event_and_writes_no_report_text(aws, context, logs):
    version = upload(aws)
    ingest(aws, "run-1", version)
    source = {"bucket": BUCKET, "key": KEY, "version_id": version, "poll_seconds": 1}
    event = {
        "version": "0",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "resources": [f"{MACHINE.replace('stateMachine', 'execution')}:run-1"],
        "detail": {
            "executionArn": f"{MACHINE.replace('stateMachine', 'execution')}:run-1",
            "stateMachineArn": MACHINE,
            "name": "run-1",
            "status": "ABORTED",
            "startDate": 1764000000000,
            "stopDate": 1764000060000,
            "input": json.dumps(source),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
        },
    }
    answer = handler_module.handler(event, context)
    assert answer["action"] == "released" and answer["run_id"] == "run-1"
    written = [aws.read(k) for k in aws.keys("runs/run-1/failure")] + [
        json.dumps(m).encode() for _, m in aws.notifications()
    ]
    assert written and not any(FINDINGS.encode() in body for body in written)
    logged = logs.getvalue()
    (line,) = [json.loads(x) for x in logged.splitlines() if "stopped execution" in x]
    assert (line["run_id"], line["action"], line["status"]) == ("run-1", "released", "ABORTED")
    assert FINDINGS not in logged
