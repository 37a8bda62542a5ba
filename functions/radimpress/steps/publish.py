"""The Publish state: decide the run's outcome, publish an inference run's results, notify.

An inference run publishes the models that succeeded (nothing when none did); a training run
reports the model it registered. The execution still fails afterwards when a model failed
(AnyModelFailed -> RecordFailure), so the notification here says "partial", not "succeeded".
pyarrow comes from the AWS SDK for pandas layer, so radimpress.results is imported only for
inference runs.
"""

from __future__ import annotations

from typing import Any

from radimpress import notify
from radimpress.events import FailedModel, PipelineState, PublishResult


def publish(
    s3: Any, sns: Any, topic_arn: str, state: PipelineState, *, execution: str
) -> tuple[PublishResult, dict[str, Any]]:
    """Publish and notify; returns the result and the notification sent (ids and counts only)."""
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
    if ingest.route == "infer" and not succeeded:
        message.update(outcome="failed", published=False, detail="every model failed")
    elif ingest.route == "infer":
        from radimpress.results import publish_run  # pyarrow: from the layer, infer runs only

        published = publish_run(
            s3,
            state.bucket,
            run_id=ingest.run_id,
            dataset=ingest.dataset,
            score_keys=[s.score_key for s in succeeded],
            run={
                "source_key": ingest.source_key,
                "records": ingest.records,
                "rejected": ingest.rejected,
                "started_at": ingest.started_at,
                "execution": execution,
            },
        )
        summary_key = published["summary_key"]
        message.update(
            summary_key=summary_key,
            report_key=published.get("report_key"),
            models=published.get("models", {}),
        )
    elif state.model is not None:
        message.update(model_name=state.model.model_name, model_data=state.model.model_data_url)
    notified = notify.publish(
        sns,
        topic_arn,
        f"radimpress {ingest.route} run {ingest.run_id} {message['outcome']}",
        message,
    )
    result = PublishResult(
        summary_key=summary_key,
        notified=notified,
        published=len(succeeded) if summary_key else 0,
        failed=len(failed),
        failed_models=failed_models,
    )
    return result, message
