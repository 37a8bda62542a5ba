"""A Bedrock model in the run lineage: priced from its tokens (not instance time), and shown in
the report's Lineage section with its cost per run and per 1,000 reports and the price date."""

from __future__ import annotations

from radimpress.lineage import as_local, priced
from radimpress.results.report_lineage import render_lineage_section

TRANSFORM = {
    "kind": "transform",
    "name": "radimpress-tf-x",
    "instance_type": "ml.g5.2xlarge",
    "instance_count": 1,
    "billed_seconds": 3600.0,
}
BEDROCK = {
    "kind": "bedrock",
    "name": "radimpress-br-x",
    "instance_type": "",
    "instance_count": 0,
    "billed_seconds": None,
    "bedrock": {
        "model_id": "anthropic.claude-3-haiku-20240307-v1:0",
        "mode": "batch",
        "reports": 2000,
        "input_tokens": 1_000_000,
        "output_tokens": 100_000,
        "usd": 0.1875,
        "usd_per_1000_reports": 0.09375,
        "prices_as_of": "2026-12-07",
    },
}


def test_a_bedrock_job_is_priced_from_its_tokens_beside_the_sagemaker_jobs():
    jobs, cost = priced([TRANSFORM, BEDROCK], "us-east-1")
    assert jobs[1]["cost_usd"] == 0.1875
    assert cost["unpriced_jobs"] == []
    assert cost["usd"] == round(jobs[0]["cost_usd"] + 0.1875, 4)
    unknown = {**BEDROCK, "bedrock": {**BEDROCK["bedrock"], "usd": None}}
    _, cost = priced([unknown], "us-east-1")
    assert cost["usd"] is None and cost["unpriced_jobs"] == ["radimpress-br-x"]


def test_the_lineage_section_shows_cost_per_1000_reports_with_the_price_date():
    jobs, cost = priced([TRANSFORM, BEDROCK], "us-east-1")
    html = "".join(render_lineage_section({"runtime": "aws", "jobs": jobs, "cost": cost}))
    assert "Cost per 1,000 reports" in html
    assert "$0.0938" in html and "$0.1875" in html and "2026-12-07" in html
    assert "stand-in" not in html
    local = as_local({"jobs": jobs, "cost": cost}, "v1")
    html = "".join(render_lineage_section(local))
    assert "$0.0938" in html and "stand-in" in html  # an estimate, labelled as one
