"""What a SageMaker job costs: the one on-demand price table, and instance-seconds times price.

The Publish Lambda estimates each cloud run's cost from it (run lineage) and `radimpress smoke`
prints the same estimate for its jobs (``radimpress_workstation.aws_checks.job_costs``): one table,
here, because the Lambda package cannot import the workstation.

A training job is billed for ``BillableTimeInSeconds`` (DescribeTrainingJob; lower than the
training time with managed spot) per instance; a Batch Transform job per instance-second from
``TransformStartTime`` to ``TransformEndTime`` (DescribeTransformJob). Storage, data transfer and
the Lambdas are left out: the instances are the bill.
"""

from __future__ import annotations

# On-demand SageMaker list prices, USD per instance-hour, by region and instance type, training
# and Batch Transform alike for these types. Source: https://aws.amazon.com/sagemaker/pricing/
# ("On-Demand Pricing"), as known on PRICES_AS_OF and not re-read since (the page renders its
# tables with scripts; nothing here fetches it): an estimate, check the page for current prices.
# A region or instance type missing here is reported as unpriced, never priced with another's.
PRICES_AS_OF = "2026-12-07"
PRICES_SOURCE = "https://aws.amazon.com/sagemaker/pricing/"
PRICES_USD_PER_HOUR: dict[str, dict[str, float]] = {
    "us-east-1": {
        "ml.p3.16xlarge": 28.152,
        "ml.g5.2xlarge": 1.515,
        "ml.g5.12xlarge": 7.09,
        "ml.p4d.24xlarge": 37.688,
    },
}
PRICE_NOTE = (
    f"on-demand list prices as of {PRICES_AS_OF} ({PRICES_SOURCE}); an estimate, "
    "check the page for current prices"
)


def price_per_hour(instance_type: str, region: str) -> float | None:
    """The table's USD per instance-hour, or None when it has no price for that type there."""
    return PRICES_USD_PER_HOUR.get(region, {}).get(instance_type)


def job_cost(
    instance_type: str, instance_count: int, seconds: float | None, region: str
) -> float | None:
    """USD for ``seconds`` billed on ``instance_count`` instances, or None (unfinished job, or
    no price in the table)."""
    price = price_per_hour(instance_type, region)
    if price is None or seconds is None:
        return None
    return seconds * max(instance_count, 1) * price / 3600
