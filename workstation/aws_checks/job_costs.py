"""What the SageMaker jobs of a run cost, estimated from what SageMaker says they used.

A training job's ``BillableTimeInSeconds`` (DescribeTrainingJob) is what SageMaker bills; a
transform job is billed per instance-second from start to end (DescribeTransformJob's
``TransformStartTime`` / ``TransformEndTime``), times ``InstanceCount``.
"""

from __future__ import annotations

from typing import Any

# On-demand SageMaker list prices, US East (N. Virginia), USD per instance-hour, training and
# Batch Transform alike for these types. Source: https://aws.amazon.com/sagemaker/pricing/
# ("On-Demand Pricing"), as known on 2026-12-07 and not re-read since: an estimate, check the
# page for current prices and for other regions.
PRICES_USD_PER_HOUR: dict[str, float] = {
    "ml.p3.16xlarge": 28.152,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.12xlarge": 7.09,
    "ml.p4d.24xlarge": 37.688,
}
PRICE_NOTE = "us-east-1 on-demand list prices; check the SageMaker pricing page"


def job_usage(sagemaker: Any, job: str, kind: str) -> tuple[str, int, float | None]:
    """(instance type, instance count, billed seconds, or None while unfinished)."""
    if kind == "training":
        described = sagemaker.describe_training_job(TrainingJobName=job)
        config = described.get("ResourceConfig", {})
        seconds = described.get("BillableTimeInSeconds")
        return (
            str(config.get("InstanceType", "?")),
            int(config.get("InstanceCount", 1)),
            None if seconds is None else float(seconds),
        )
    described = sagemaker.describe_transform_job(TransformJobName=job)
    resources = described.get("TransformResources", {})
    start, end = described.get("TransformStartTime"), described.get("TransformEndTime")
    return (
        str(resources.get("InstanceType", "?")),
        int(resources.get("InstanceCount", 1)),
        None if start is None or end is None else (end - start).total_seconds(),
    )


def cost_lines(sagemaker: Any, jobs: dict[str, str], region: str) -> list[str]:
    """One line a job (job name -> training | transform) and the total, in USD."""
    lines, total = [], 0.0
    for job, kind in sorted(jobs.items()):
        instance_type, count, seconds = job_usage(sagemaker, job, kind)
        if seconds is None:
            lines.append(f"{kind} job {job}: {instance_type} x{count}, not finished")
            continue
        price = PRICES_USD_PER_HOUR.get(instance_type)
        usd = None if price is None else seconds * count * price / 3600
        total += usd or 0.0
        shown = "price unknown" if usd is None else f"~${usd:.2f}"
        lines.append(f"{kind} job {job}: {instance_type} x{count}, {seconds:.0f} s, {shown}")
    lines.append(f"total ~${total:.2f} ({PRICE_NOTE})")
    if region != "us-east-1":
        lines.append(f"(prices are us-east-1's; {region} may differ)")
    return lines
