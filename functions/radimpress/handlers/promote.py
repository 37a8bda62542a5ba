"""Promote Lambda: the promotion gate approves a new fine-tuned package version or leaves it
pending for an operator (steps/promote.py says when)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from radimpress import clients
from radimpress.events import PromoteEvent
from radimpress.handlers._runtime import lambda_handler, logger, metrics
from radimpress.settings import Settings
from radimpress.steps.promote import GatePolicy, promote


@lambda_handler(PromoteEvent)
def handler(request: PromoteEvent) -> dict[str, Any]:
    logger.append_keys(run_id=request.run_id)
    settings = Settings.from_env()
    result = promote(
        clients.sagemaker(),
        request.model,
        request.scores,
        GatePolicy(settings.promotion_metric, settings.promotion_margin, settings.auto_approve),
    )
    name = "ModelsApproved" if result.status == "Approved" else "ModelsLeftPending"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        "promotion decided",
        extra=result.model_dump(include={"package_version", "status", "candidate", "baseline"}),
    )
    return result.model_dump()
