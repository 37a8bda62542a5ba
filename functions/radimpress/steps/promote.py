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

from dataclasses import dataclass
from typing import Any

from radimpress import registry
from radimpress.errors import SpecError
from radimpress.events import Promotion, RegisteredModel, ScoreResult
from radimpress.layout import FINE_TUNED
from radimpress.steps.register_model import CANDIDATE

METRICS = {"rouge_l": "rouge_l_mean", "clinical_f1": "clinical_f1_mean"}


@dataclass(frozen=True)
class GatePolicy:
    """The template's PromotionMetric, PromotionMargin and AutoApprove."""

    metric: str = "rouge_l"
    margin: float = 0.0
    auto_approve: bool = True


def _mean(scores: list[ScoreResult], model_key: str, metric: str) -> float | None:
    for score in scores:
        if score.model_key == model_key and not score.failed:
            value = getattr(score, METRICS[metric])
            return float(value) if value is not None else None
    return None


def decide(model: RegisteredModel, scores: list[ScoreResult], policy: GatePolicy) -> Promotion:
    """The gate's decision, before it is written (pure: every rule is tested on its own)."""
    if policy.metric not in METRICS:
        raise SpecError(f"PromotionMetric {policy.metric!r}: one of {', '.join(METRICS)}")
    candidate = _mean(scores, CANDIDATE, policy.metric)
    baseline = _mean(scores, FINE_TUNED, policy.metric)
    status, reason = _verdict(model, bool(scores), candidate, baseline, policy)
    return Promotion(
        status=status,
        reason=reason,
        package_arn=model.package_arn,
        package_version=model.package_version,
        metric=policy.metric,
        margin=policy.margin,
        candidate=candidate,
        baseline=baseline,
        baseline_package_arn=model.baseline_package_arn,
    )


def _verdict(
    model: RegisteredModel,
    scored: bool,
    candidate: float | None,
    baseline: float | None,
    policy: GatePolicy,
) -> tuple[Any, str]:
    if not model.baseline_package_arn:  # the first fine-tuned model
        if policy.auto_approve:
            return registry.APPROVED, "first fine-tuned model; AutoApprove is on"
        return registry.PENDING, "first fine-tuned model; AutoApprove is off"
    if not scored:
        return registry.PENDING, "no held-out studies to compare with the approved model"
    if candidate is None:
        return registry.PENDING, "the candidate could not be scored on the held-out studies"
    if baseline is None:
        return registry.PENDING, "the approved model could not be scored on the held-out studies"
    comparison = (
        f"{policy.metric} {candidate:.4f} vs approved {baseline:.4f} (margin {policy.margin:.4f})"
    )
    if candidate < baseline - policy.margin:
        return registry.PENDING, f"worse than the approved model: {comparison}"
    if not policy.auto_approve:
        return registry.PENDING, f"not worse ({comparison}); AutoApprove is off"
    return registry.APPROVED, f"not worse than the approved model: {comparison}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def promote(
    sagemaker: Any, model: RegisteredModel, scores: list[ScoreResult], policy: GatePolicy
) -> Promotion:
    """Decide, then record the decision on the package (unless an operator was quicker)."""
    promotion = decide(model, scores, policy)
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
            "gate_metric": policy.metric,
            "gate_margin": policy.margin,
            "gate_candidate": _rounded(promotion.candidate),
            "gate_baseline": _rounded(promotion.baseline),
            "gate_baseline_package": model.baseline_package_arn,
            "gate_verdict": promotion.status,
        },
    )
    return promotion
