"""Opt-in (../shared/data): real Open-i reports scored, published, queried and reported.

Two stand-in models: "lead" (first sentence of the findings) and "shuffled" (another report's
impression). Rows come from radimpress.scoring (as the Score step makes them); the expected numbers
come from Google's rouge-score, so this checks the path score -> Parquet -> SQL end to end.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws
from rouge_score import rouge_scorer

from radimpress.records import Purpose, Report, read_reports
from radimpress.results import publish_run
from radimpress_workstation import sql

pytestmark = pytest.mark.shared_data
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BUCKET = "radimpress-openi"
METRICS = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rougel", "rougeLsum": "rougelsum"}


def _models(reports):
    rng = random.Random(7)
    shuffled = [r.impression for r in reports]
    rng.shuffle(shuffled)
    return {
        "lead": [r.findings.split(". ")[0] for r in reports],
        "shuffled": shuffled,
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from radimpress.scoring import RougeScorer

    path = SHARED_DATA / "openi" / "dev.jsonl"
    if not path.exists():
        pytest.skip("../shared/data is not present")
    with path.open("rb") as handle:
        reports = [
            r for r in read_reports(handle, Purpose.TRAIN, path.name) if isinstance(r, Report)
        ]
    models = _models(reports)
    scorer = RougeScorer(use_stemmer=False)
    folder = tmp_path_factory.mktemp("openi")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        keys = []
        for model, generated in models.items():
            lines = []
            for report, text in zip(reports, generated, strict=True):
                scores = scorer.score(report.impression, text)
                lines.append(
                    json.dumps(
                        {
                            "run_id": "openi-1",
                            "dataset": "openi-dev",
                            "model": model,
                            "study_id": report.study_id,
                            "findings": report.findings,
                            "reference": report.impression,
                            "generated": text,
                            **{m: scores[m].to_dict() for m in METRICS},
                        }
                    )
                )
            key = f"runs/openi-1/scores/{model}.jsonl"
            s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
            keys.append(key)
        run = {
            "source_key": "incoming/infer/openi-dev/dev.jsonl",
            "records": len(reports),
            "rejected": 0,
            "started_at": "2026-11-24T08:00:00Z",
            "execution": "openi",
        }
        out = publish_run(
            s3, BUCKET, run_id="openi-1", dataset="openi-dev", score_keys=keys, run=run
        )
        html = s3.get_object(Bucket=BUCKET, Key=out["report_key"])["Body"].read().decode()
        sql.mirror_results(s3, BUCKET, folder)
    results = {r.query.logical_id: r.records() for r in sql.run_named_queries(folder)}
    return reports, models, out, html, results


def _reference_f1(reports, generated):
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=False)
    out = {col: [] for col in METRICS.values()}
    for report, text in zip(reports, generated, strict=True):
        scores = scorer.score(report.impression, text)
        for metric, col in METRICS.items():
            out[col].append(scores[metric].fmeasure)
    return out


def test_means_and_distribution_equal_rouge_score(published):
    reports, models, out, _, results = published
    means = {r["model"]: r for r in results["MeanRougeQuery"]}
    dist = {(r["model"], r["metric"]): r for r in results["RougeDistributionQuery"]}
    for model, generated in models.items():
        want = _reference_f1(reports, generated)
        assert means[model]["reports"] == len(reports)
        for metric, col in METRICS.items():
            values = want[col]
            assert means[model][col] == pytest.approx(statistics.fmean(values), rel=1e-12)
            assert out["models"][model][metric] == pytest.approx(
                statistics.fmean(values), rel=1e-12
            )
            row = dist[model, col]
            q = np.percentile(values, [25, 50, 75])
            assert [row["p25"], row["p50"], row["p75"]] == pytest.approx(list(q), abs=1e-12)
            assert row["std"] == pytest.approx(statistics.stdev(values), rel=1e-9)


def test_comparison_counts_per_report(published):
    reports, models, _, _, results = published
    lead = _reference_f1(reports, models["lead"])["rougel"]
    shuffled = _reference_f1(reports, models["shuffled"])["rougel"]
    (row,) = (r for r in results["ModelComparisonQuery"] if r["metric"] == "rougel")
    assert (row["model_a"], row["model_b"]) == ("lead", "shuffled")
    assert row["wins_a"] == sum(a > b for a, b in zip(lead, shuffled, strict=True))
    assert row["ties"] == sum(a == b for a, b in zip(lead, shuffled, strict=True))
    assert row["wins_b"] == sum(a < b for a, b in zip(lead, shuffled, strict=True))


def test_report_lists_the_worst_reports_escaped(published):
    _, _, _, html, _ = published
    assert html.count('class="model-box"') == 2 * 4  # rows without clinical fields: ROUGE only
    assert "<h2>Worst reports</h2>" in html and "<h2>Browse every study</h2>" in html
    # The page's own two scripts only: the browse data block and its (hashed) inline renderer.
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script type="application/json" id="browse-data">',
        "<script>",
    ]
