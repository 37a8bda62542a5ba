"""What the SageMaker jobs of a run cost, estimated from what SageMaker says they used.

A training job's ``BillableTimeInSeconds`` (DescribeTrainingJob) is what SageMaker bills; a
transform job is billed per instance-second from start to end (DescribeTransformJob's
``TransformStartTime`` / ``TransformEndTime``), times ``InstanceCount``. The price table is the
Lambda package's (``radimpress.pricing``), which the Publish Lambda's run lineage uses too.
"""

from __future__ import annotations

from typing import Any

from radimpress.lineage import job_usage
from radimpress.pricing import PRICE_NOTE, job_cost


def cost_lines(sagemaker: Any, jobs: dict[str, str], region: str) -> list[str]:
    """One line a job (job name -> training | transform) and the total, in USD."""
    lines, total = [], 0.0
    for job, kind in sorted(jobs.items()):
        if kind == "training":
            described = sagemaker.describe_training_job(TrainingJobName=job)
        else:
            described = sagemaker.describe_transform_job(TransformJobName=job)
        usage = job_usage(kind, described)
        instance_type, count = usage["instance_type"] or "?", usage["instance_count"]
        seconds = usage["billed_seconds"]
        if seconds is None:
            lines.append(f"{kind} job {job}: {instance_type} x{count}, not finished")
            continue
        usd = job_cost(instance_type, count, seconds, region)
        total += usd or 0.0
        shown = f"no {region} price in the table" if usd is None else f"~${usd:.2f}"
        lines.append(f"{kind} job {job}: {instance_type} x{count}, {seconds:.0f} s, {shown}")
    lines.append(f"total ~${total:.2f} ({PRICE_NOTE})")
    return lines
