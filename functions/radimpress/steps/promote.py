"""The Promote state: the promotion gate's decision on a freshly registered package version.

On the studies Ingest held out of training, the Map scored the new version (``candidate``) and,
if there is one, the Approved version inference runs use today (``fine-tuned``). The candidate is
approved when ``AutoApprove`` is on and it is not worse than that baseline by more than
``PromotionMargin`` on ``PromotionMetric`` (mean ROUGE-L F1 or mean clinical F1, both 0..1);
otherwise it stays ``PendingManualApproval`` with the comparison in its metadata and approval
description, for an operator. The first fine-tune (no Approved version yet) follows
``AutoApprove`` alone. No held-out studies and a baseline: no evidence, so it stays pending.

A version an operator already approved or rejected while the gate ran keeps that decision.
"""

from __future__ import annotations

from typing import Any

from radimpress import registry
from radimpress.errors import SpecError
from radimpress.events import Promotion, RegisteredModel, ScoreResult
from radimpress.layout import FINE_TUNED
from radimpress.steps.register_model import CANDIDATE

METRICS = {"rouge_l": "rouge_l_mean", "clinical_f1": "clinical_f1_mean"}


def _mean(scores: list[ScoreResult], model_key: str, metric: str) -> float | None:
    for score in scores:
        if score.model_key == model_key and not score.failed:
            value = getattr(score, METRICS[metric])
            return float(value) if value is not None else None
    return None


def decide(
    model: RegisteredModel,
    scores: list[ScoreResult],
    *,
    metric: str,
    margin: float,
    auto_approve: bool,
) -> Promotion:
    """The gate's decision, before it is written (pure: every rule is tested on its own)."""
    if metric not in METRICS:
        raise SpecError(f"PromotionMetric {metric!r}: one of {', '.join(METRICS)}")
    candidate = _mean(scores, CANDIDATE, metric)
    baseline = _mean(scores, FINE_TUNED, metric)
    figures = {
        "package_arn": model.package_arn,
        "package_version": model.package_version,
        "metric": metric,
        "margin": margin,
        "candidate": candidate,
        "baseline": baseline,
        "baseline_package_arn": model.baseline_package_arn,
    }
    status, reason = _verdict(model, scores, candidate, baseline, margin, auto_approve, metric)
    return Promotion(status=status, reason=reason, **figures)


def _verdict(
    model: RegisteredModel,
    scores: list[ScoreResult],
    candidate: float | None,
    baseline: float | None,
    margin: float,
    auto_approve: bool,
    metric: str,
) -> tuple[Any, str]:
    first = not model.baseline_package_arn
    if first:
        if auto_approve:
            return registry.APPROVED, "first fine-tuned model; AutoApprove is on"
        return registry.PENDING, "first fine-tuned model; AutoApprove is off"
    if not scores:
        return registry.PENDING, "no held-out studies to compare with the approved model"
    if candidate is None:
        return registry.PENDING, "the candidate could not be scored on the held-out studies"
    if baseline is None:
        return registry.PENDING, "the approved model could not be scored on the held-out studies"
    comparison = f"{metric} {candidate:.4f} vs approved {baseline:.4f} (margin {margin:.4f})"
    if candidate < baseline - margin:
        return registry.PENDING, f"worse than the approved model: {comparison}"
    if not auto_approve:
        return registry.PENDING, f"not worse ({comparison}); AutoApprove is off"
    return registry.APPROVED, f"not worse than the approved model: {comparison}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def promote(
    sagemaker: Any,
    model: RegisteredModel,
    scores: list[ScoreResult],
    *,
    metric: str,
    margin: float,
    auto_approve: bool,
) -> Promotion:
    """Decide, then record the decision on the package (unless an operator was quicker)."""
    promotion = decide(model, scores, metric=metric, margin=margin, auto_approve=auto_approve)
    current = registry.describe(sagemaker, model.package_arn)
    if current.status != registry.PENDING:
        return promotion.model_copy(
            update={"status": current.status, "reason": "decided by an operator meanwhile"}
        )
    registry.set_status(
        sagemaker,
        model.package_arn,
        promotion.status,
        description=promotion.reason,
        metadata={
            "gate_metric": metric,
            "gate_margin": margin,
            "gate_candidate": _rounded(promotion.candidate),
            "gate_baseline": _rounded(promotion.baseline),
            "gate_baseline_package": model.baseline_package_arn,
            "gate_verdict": promotion.status,
        },
    )
    return promotion
