"""The Publish state: commit the run's outcome through its claim, publish results, notify once.

An inference run publishes the models that succeeded (nothing when none did); a training run
reports the model it registered. Either way the run's claim ends ``committed`` here
(``radimpress.claims``): from then on the run is never released, so a redelivery stays a
Duplicate and can never publish a second result set.

Results are staged under ``results/staging/`` and copied to their final keys only after the
claim lists them (``committing``; see ``radimpress.results.publish``). Every attempt reads the
claim first, so a Publish killed anywhere is finished by its retry (copy again, same keys) or
taken back by RecordFailure. Each attempt also sweeps the staging folders of dead runs.

Notifications: a run with a failed model is still failed (AnyModelFailed -> RecordFailure), so
RecordFailure sends its one notice; Publish notifies only runs that succeeded, after the commit.
An SNS outage then is retried and recorded (``notified: false``, the reason in the claim), never
a reason to fail a committed run. pyarrow comes from the AWS SDK for pandas layer, so
radimpress.results is imported only when something is written (results, or a training run's
lineage).

Every run publishes its lineage (radimpress.lineage: the uploaded file's SHA-256 and counts, the
settings, the code version, each job's start, end and duration and the estimated cost): an
inference run as part of its commit, a training run before it is marked committed.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from radimpress import claims, notify
from radimpress.claims import ClaimLost
from radimpress.errors import RadimpressError, aws_call
from radimpress.events import FailedModel, PipelineState, PublishResult
from radimpress.settings import Settings

# A staging folder this old whose run still holds its claim belongs to a dead Publish: longer
# than Publish's Timeout (900 s) times its attempts plus the Retry intervals, many times over.
STALE_STAGING = timedelta(hours=6)
_HOUSEKEEPING_ERRORS = (RadimpressError, ClientError, BotoCoreError)
_PARQUET, _JSON = "application/vnd.apache.parquet", "application/json"


def publish(
    s3: Any,
    sns: Any,
    topic_arn: str,
    state: PipelineState,
    *,
    execution: str,
    now: datetime | None = None,
) -> tuple[PublishResult, dict[str, Any]]:
    """Publish and notify; returns the result and the notification (ids and counts only)."""
    ingest = state.ingest
    message: dict[str, Any] = {
        "outcome": "succeeded",
        "run_id": ingest.run_id,
        "route": ingest.route,
        "dataset": ingest.dataset,
        "source": f"s3://{state.bucket}/{ingest.source_key}",
        "records": ingest.records,
        "rejected": ingest.rejected,
    }
    summary_key = None
    failed = [s for s in state.scores if s.failed]
    succeeded = [s for s in state.scores if not s.failed]
    failed_models = [FailedModel(model_key=s.model_key, error=s.error) for s in failed]
    if failed:
        message.update(outcome="partial", failed_models=[m.model_dump() for m in failed_models])
    if ingest.route == "infer":
        swept = sweep(s3, state.bucket, current_run=ingest.run_id, now=now)
        if swept:
            message["swept_staging"] = len(swept)
    if ingest.route == "infer" and not succeeded:
        message.update(outcome="failed", published=False, detail="every model failed")
    elif succeeded:  # an inference run, or the promotion gate's scores of a training run
        published = _publish_results(s3, state, execution)
        summary_key = published["summary_key"]
        message.update(
            summary_key=summary_key,
            report_key=published.get("report_key"),
            models=published.get("models", {}),
        )
    elif state.model is not None:
        _commit_training(s3, state)
    if state.model is not None:
        message.update(
            model_name=state.model.model_name,
            model_data=state.model.model_data_url,
            package_version=state.model.package_version,
        )
    if state.promotion is not None:
        message["promotion"] = state.promotion.model_dump(
            include={"status", "reason", "metric", "candidate", "baseline"}
        )
    notified = False
    if not failed:  # a run with failed models is failed: RecordFailure sends its one notice
        notified, why = notify_once(
            s3,
            sns,
            topic_arn,
            state.bucket,
            ingest.claim_key,
            ingest.run_id,
            f"radimpress {ingest.route} run {ingest.run_id} {message['outcome']}",
            message,
        )
        if why:
            message["notify_error"] = why
    result = PublishResult(
        summary_key=summary_key,
        notified=notified,
        published=len(succeeded) if summary_key else 0,
        failed=len(failed),
        failed_models=failed_models,
    )
    return result, message


def _own_claim(s3: Any, state: PipelineState) -> claims.Claim | None:
    """The run's claim, which it must still hold (None for a state without a claim key)."""
    where, run_id = state.ingest.claim_key, state.ingest.run_id
    if not where:
        return None
    current = claims.read(s3, state.bucket, where, run_id)
    if current is None or not current.ours or current.state == claims.FAILED:
        holder = (
            "nobody (no claim, or this role may not read claims/)"
            if current is None
            else f"run {current.owner} ({current.state})"
        )
        raise ClaimLost(
            f"s3://{state.bucket}/{where}: held by {holder}; run {run_id} may not publish"
        )
    return current


def run_lineage_of(state: PipelineState, settings: Settings | None = None) -> dict[str, Any]:
    """The run's lineage (radimpress.lineage) from what the states carried here: Ingest's file
    digest and counts, each finished job's usage (the training job's last status check, each
    model's transform job through Score), the settings and the code version."""
    from radimpress.lineage import run_lineage, settings_lineage

    ingest = state.ingest
    jobs = [state.job_status.usage] if state.job_status and state.job_status.usage else []
    jobs += [s.job_usage for s in state.scores if s.job_usage]
    lineage = run_lineage(
        run_id=ingest.run_id,
        route=ingest.route,
        dataset=ingest.dataset,
        ingest=ingest.model_dump(),
        jobs=jobs,
        settings=settings_lineage(settings or Settings.from_env()),
        started_at=ingest.started_at,
    )
    if state.model is not None:
        lineage["model"] = state.model.model_dump(
            include={"model_name", "model_data_url", "trained_at", "latest"}
        )
    return lineage


def _write_training_lineage(s3: Any, state: PipelineState) -> None:
    """A training run that publishes no results still leaves its lineage under ``results/``
    (the table's Parquet and the JSON record an inference run's Publish looks up by the
    ``training_run_id`` of its fine-tuned model), before the claim says committed; a retry
    writes the same keys again."""
    from radimpress import layout
    from radimpress.results.lineage import (  # pyarrow: from the layer
        lineage_json,
        lineage_key,
        lineage_record_key,
        lineage_rows,
    )
    from radimpress.results.parquet import write_parquet
    from radimpress.results.schema import LINEAGE_COLUMNS
    from radimpress.storage import encryption_arguments

    lineage = run_lineage_of(state)
    date = layout.run_date(state.ingest.started_at)
    with tempfile.TemporaryFile() as parquet:
        write_parquet(lineage_rows(lineage), LINEAGE_COLUMNS, parquet)
        parquet.seek(0)
        objects = [
            (lineage_key("results", date, state.ingest.run_id), parquet.read(), _PARQUET),
            (lineage_record_key("results", state.ingest.run_id), lineage_json(lineage), _JSON),
        ]
    for key, body, content_type in objects:
        with aws_call(f"s3://{state.bucket}/{key}: write"):
            s3.put_object(
                Bucket=state.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                **encryption_arguments(),
            )


def _commit_training(s3: Any, state: PipelineState) -> None:
    """A training run: its model is registered (the pointer may name it), so it is committed."""
    current = _own_claim(s3, state)
    if current is None or current.state != claims.COMMITTED:
        _write_training_lineage(s3, state)
    if current is not None and current.state != claims.COMMITTED and state.model is not None:
        model = {"model_name": state.model.model_name}
        claims.advance(
            s3, state.bucket, current.key, state.ingest.run_id, claims.COMMITTED, published=model
        )


def _publish_results(s3: Any, state: PipelineState, execution: str) -> dict[str, Any]:
    """Stage, record ``committing``, copy, record ``committed``: each attempt resumes where the
    claim says the last one stopped."""
    from radimpress.results.publish import (  # pyarrow: from the layer, infer runs only
        StagedRun,
        commit_staged,
        discard_staging,
        stage_run,
    )

    ingest, bucket = state.ingest, state.bucket
    current = _own_claim(s3, state)
    if current is not None and current.state in (claims.COMMITTING, claims.COMMITTED):
        staged = StagedRun.from_dict(current.record.get("publish") or {})
    else:
        staged = stage_run(
            s3,
            bucket,
            run_id=ingest.run_id,
            dataset=ingest.dataset,
            score_keys=[s.score_key for s in state.scores if not s.failed],
            run={
                "source_key": ingest.source_key,
                # A training run publishes the gate's scores on the studies it held out.
                "records": ingest.holdout_records if ingest.route == "train" else ingest.records,
                "rejected": ingest.rejected,
                "started_at": ingest.started_at,
                "execution": execution,
                "lineage": run_lineage_of(state),
                "promotion": state.promotion.model_dump() if state.promotion else None,
            },
            claim_key=ingest.claim_key,
        )
        if current is not None:
            current = claims.advance(
                s3, bucket, current.key, ingest.run_id, claims.COMMITTING, publish=staged.as_dict()
            )
    if current is None or current.state != claims.COMMITTED:
        commit_staged(s3, bucket, staged)
        if current is not None:
            claims.advance(s3, bucket, current.key, ingest.run_id, claims.COMMITTED)
    with contextlib.suppress(*_HOUSEKEEPING_ERRORS):  # left over: the next sweep removes it
        discard_staging(s3, bucket, ingest.run_id)
    return staged.answer


def notify_once(
    s3: Any,
    sns: Any,
    topic_arn: str,
    bucket: str,
    claim_key: str,
    run_id: str,
    subject: str,
    message: dict[str, Any],
) -> tuple[bool, str]:
    """Send the run's one outcome notice unless its claim says it was sent; record it there.

    Returns (notified, why not). A notice that cannot be sent is recorded in the claim
    (``notify_error``) and returned, never raised: the run's outcome stands without it.
    """
    if claim_key:
        with contextlib.suppress(*_HOUSEKEEPING_ERRORS):
            current = claims.read(s3, bucket, claim_key, run_id)
            if current is not None and current.ours and current.record.get("notified"):
                return True, ""  # an earlier attempt of this state sent it
    sent, why = notify.send(sns, topic_arn, subject, message)
    if claim_key and (sent or why):
        with contextlib.suppress(*_HOUSEKEEPING_ERRORS):
            record = {"notified": message["outcome"]} if sent else {"notify_error": why}
            claims.note(s3, bucket, claim_key, run_id, **record)
    return sent, why


def sweep(
    s3: Any,
    bucket: str,
    *,
    current_run: str,
    now: datetime | None = None,
    stale_after: timedelta = STALE_STAGING,
) -> list[str]:
    """Remove the staging folders of dead runs; returns the keys deleted.

    A folder is dead when its run no longer holds its claim, released it, or committed (a folder
    left over after the commit); or when the run still holds it ``running``/``committing`` but
    nothing was staged for ``stale_after``: that Publish died and no RecordFailure cleaned up, so
    the sweep does it (takes back a half-done commit and releases the upload). Housekeeping: a
    folder that cannot be judged or removed now is left for the next sweep.
    """
    from radimpress.layout import safe_name
    from radimpress.results.publish import staging_folders

    moment = now or datetime.now(UTC)
    removed: list[str] = []
    try:
        folders = staging_folders(s3, bucket)
    except _HOUSEKEEPING_ERRORS:
        return removed
    for folder in folders:
        if folder.run_folder == safe_name(current_run):
            continue
        with contextlib.suppress(*_HOUSEKEEPING_ERRORS):
            removed += _sweep_folder(s3, bucket, folder, moment - folder.newest > stale_after)
    return removed


def _sweep_folder(s3: Any, bucket: str, folder: Any, old: bool) -> list[str]:
    from radimpress.results.publish import StagedRun, remove_staging_folder, withdraw_run

    manifest = folder.manifest
    if manifest is None:  # killed before its manifest, or a stray object: age alone decides
        return remove_staging_folder(s3, bucket, folder.run_folder) if old else []
    run_id, where = str(manifest.get("run_id", "")), str(manifest.get("claim_key", ""))
    current = claims.read(s3, bucket, where, run_id) if where else None
    alive = (
        current is not None
        and current.ours
        and current.state in (claims.RUNNING, claims.COMMITTING)
    )
    if alive and not old:
        return []  # a Publish at work
    removed = []
    if alive and current is not None:  # a dead Publish nobody cleaned up after
        if current.state == claims.COMMITTING:
            staged = StagedRun.from_dict(current.record.get("publish") or {})
            removed += withdraw_run(s3, bucket, run_id=run_id, started_at=staged.started_at)
        claims.advance(s3, bucket, where, run_id, claims.FAILED, released_by="publish sweep")
    return removed + remove_staging_folder(s3, bucket, folder.run_folder)
