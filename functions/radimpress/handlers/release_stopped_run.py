"""ReleaseStoppedRun Lambda: an execution of the pipeline ended ABORTED, TIMED_OUT or FAILED
without RecordFailure settling its run; release the claim, record and notify once
(steps/release_stopped_run.py says how)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from radimpress import clients
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.steps.release_stopped_run import release_stopped_run


class ExecutionStatusDetail(BaseModel):
    """The detail of "Step Functions Execution Status Change" (Step Functions developer guide,
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html). ``input`` is the
    execution input as a JSON string; Step Functions leaves it out (``inputDetails.included``
    false) only when input and output together pass 248 KB, which the upload rule's small input
    never does."""

    model_config = ConfigDict(extra="ignore")
    executionArn: str
    stateMachineArn: str = ""
    name: str = ""
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore")
    detail: ExecutionStatusDetail


def execution_input(detail: ExecutionStatusDetail) -> dict[str, Any] | None:
    """The execution's input as an object, None when absent or not a JSON object."""
    try:
        value = json.loads(detail.input or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@lambda_handler(ExecutionStatusChange)
def handler(request: ExecutionStatusChange) -> dict[str, Any]:
    detail = request.detail
    run_id = detail.name or detail.executionArn.rsplit(":", 1)[-1]  # $$.Execution.Name
    logger.append_keys(run_id=run_id)
    settings = Settings.from_env()
    result = release_stopped_run(
        clients.s3(),
        clients.sns(),
        settings.bucket,
        settings.topic_arn,
        run_id=run_id,
        status=detail.status,
        execution_arn=detail.executionArn,
        execution_input=execution_input(detail),
        error=detail.error,
        cause=detail.cause,
    )
    if result.claim_released and result.action == "released":
        metrics.add_metric(name="StoppedRunsReleased", unit=MetricUnit.Count, value=1)
    logger.info(
        "stopped execution settled",
        extra=result.model_dump(include={"status", "action", "claim_state", "notified"}),
    )
    return result.model_dump()
