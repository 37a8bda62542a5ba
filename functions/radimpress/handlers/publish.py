"""Publish Lambda: results as Parquet under results/ (radimpress.results), then SNS.

pyarrow comes from the AWS SDK for pandas layer, so radimpress.results is imported only here,
inside the handler, and only for inference runs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from radimpress import clients, notify
from radimpress.events import PublishEvent
from radimpress.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=PublishEvent)
    state, ingest = request.state, request.state.ingest
    logger.append_keys(run_id=ingest.run_id)
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
    failed_models = [{"model_key": s.model_key, "error": s.error} for s in failed]
    if failed:
        message.update(outcome="partial", failed_models=failed_models)
    if ingest.route == "infer" and not succeeded:
        message.update(outcome="failed", published=False)
        logger.warning("no model succeeded: nothing published", extra={"failed": failed_models})
    elif ingest.route == "infer":
        from radimpress.results import publish_run  # pyarrow: from the layer, infer runs only

        published = publish_run(
            clients.s3(),
            state.bucket,
            run_id=ingest.run_id,
            dataset=ingest.dataset,
            score_keys=[s.score_key for s in succeeded],
            run={
                "source_key": ingest.source_key,
                "records": ingest.records,
                "rejected": ingest.rejected,
                "started_at": ingest.started_at,
                "execution": request.execution,
            },
        )
        summary_key = published["summary_key"]
        message.update(
            summary_key=summary_key,
            report_key=published.get("report_key"),
            models=published.get("models", {}),
        )
        metrics.add_metric(name="RunsPublished", unit=MetricUnit.Count, value=1)
    elif state.model is not None:
        message.update(model_name=state.model.model_name, model_data=state.model.model_data_url)
    notified = notify.publish(
        clients.sns(),
        Settings.from_env().topic_arn,
        f"radimpress {ingest.route} run {ingest.run_id} {message['outcome']}",
        message,
    )
    if not failed:
        metrics.add_metric(name="RunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info(
        "published",
        extra={"summary_key": summary_key, "notified": notified, "failed": failed_models},
    )
    return {
        "summary_key": summary_key,
        "notified": notified,
        "failed": len(failed),
        "failed_models": failed_models,
    }
