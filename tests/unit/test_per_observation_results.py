"""Per-observation agreement through publishing: the `observations` Parquet table, the
"per-observation agreement" named query on DuckDB, and the report section, all against the
hand-counted expectations of per_observation_data (4 studies, 2 models)."""

from __future__ import annotations

import io
import re

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from per_observation_data import EXPECTED, GENERATED, MATRIX, REFERENCES, STUDIES, UNLABELLED
from results_data import identity, put_rows, run_info

from radimpress.clinical.agreement import clinical_agreement
from radimpress.clinical.observations import OBSERVATIONS
from radimpress.results import publish_run
from radimpress.results.schema import OBSERVATION_COLUMNS
from radimpress_workstation import sql

BUCKET = "per-observation-bucket"
LABELS = {"select": "fine-tuned (select)", "lead": "pre-trained (lead)"}
ROUGE = {"precision": 0.5, "recall": 0.5, "fmeasure": 0.5}


def rows(model: str) -> list[dict]:
    label = LABELS[model]
    out = []
    for study, reference in REFERENCES.items():
        generated = GENERATED[model][study]
        agreement = clinical_agreement(reference, generated).to_dict()
        out.append(
            {
                "run_id": "run-po",
                "dataset": "hand",
                "model": label,
                "study_id": study,
                "findings": "Heart and lungs.",
                "reference": reference,
                "generated": generated,
                **identity(label),
                "model_name": model,
                "generator": f"local:{model}",
                "clinical": {
                    k: agreement[k] for k in ("precision", "recall", "f1", "missed", "invented")
                },
                **dict.fromkeys(("rouge1", "rouge2", "rougeL", "rougeLsum"), ROUGE),
            }
        )
    # A study without a reference: not scored, so not counted.
    out.append({**out[0], "study_id": "s5", "reference": None, "clinical": None})
    for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        out[-1][metric] = None
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        keys = [
            put_rows(s3, BUCKET, f"runs/run-po/scores/{m}.jsonl", rows(m))
            for m in ("lead", "select")
        ]
        publish_run(s3, BUCKET, run_id="run-po", dataset="hand", score_keys=keys, run=run_info())
        key = "results/observations/run_date=2026-11-24/run-po.parquet"
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        html = s3.get_object(Bucket=BUCKET, Key="results/reports/run-po/report.html")["Body"]
        html = html.read().decode("utf-8")
        sql.mirror_results(s3, BUCKET, folder)
    queries = {r.query.logical_id: r for r in sql.run_named_queries(folder)}
    return table, html, queries["PerObservationAgreementQuery"]


def _expected(model: str, observation: str) -> tuple:
    found = EXPECTED[model].get(observation)
    return found if found is not None else (0, 0, 0, STUDIES[model], None, None, None)


def _check(model: str, observation: str, record: dict) -> None:
    tp, fp, fn, tn, p, r, f1 = _expected(model, observation)
    got = tuple(record[k] for k in ("true_positive", "false_positive", "false_negative"))
    assert (*got, record["true_negative"]) == (tp, fp, fn, tn), (model, observation)
    assert (record["reference_positive"], record["generated_positive"]) == (tp + fn, tp + fp)
    for key, want in (("precision", p), ("recall", r), ("f1", f1)):
        assert record[key] == (None if want is None else pytest.approx(want)), (model, key)


def test_parquet_table_holds_every_observation_of_every_model(published):
    table, _, _ = published
    assert table.column_names == [name for name, _ in OBSERVATION_COLUMNS]
    records = table.to_pylist()
    assert len(records) == 2 * len(OBSERVATIONS)
    for record in records:
        model = record["model_name"]
        assert record["studies"] == STUDIES[model] and record["unlabelled"] == UNLABELLED[model]
        assert record["observation"] == OBSERVATIONS[record["observation_order"]]
        assert record["generator"] == f"local:{model}"
        _check(model, record["observation"], record)
    # fine-tuned before pre-trained, each in CheXpert order
    assert [r["model_name"] for r in records[:: len(OBSERVATIONS)]] == ["select", "lead"]


def test_named_query_gives_the_same_counts_and_the_matrix_on_duckdb(published):
    _, _, result = published
    records = result.records()
    assert result.query.name.endswith("per-observation agreement")
    assert [(r["model_name"], r["observation"]) for r in records] == [
        (m, o) for m in ("select", "lead") for o in OBSERVATIONS
    ]
    for record in records:
        model = record["model_name"]
        _check(model, record["observation"], record)
        matrix = MATRIX[model]
        assert record["normal_called_normal"] == matrix["normal", "normal"]
        assert record["normal_called_abnormal"] == matrix["normal", "abnormal"]
        assert record["abnormal_called_normal"] == matrix["abnormal", "normal"]
        assert record["abnormal_called_abnormal"] == matrix["abnormal", "abnormal"]


def test_report_section_shows_the_counts_the_ratios_and_the_matrix(published):
    _, html, _ = published
    assert "<h2>Clinical agreement by observation</h2>" in html
    section = html.split('<section class="per-observation"', 1)[1].split("</section>", 1)[0]
    for model, label in LABELS.items():
        block = section.split(f'<div class="obs-model" data-model="{label}">', 1)[1]
        block = block.split('<div class="obs-model"', 1)[0]
        assert f"{STUDIES[model]} studies" in block
        cells = re.findall(r"<td>(\d+)</td><td>(\d+)</td></tr>", block.split("observations")[0])
        matrix = MATRIX[model]
        assert cells == [
            (str(matrix["normal", "normal"]), str(matrix["normal", "abnormal"])),
            (str(matrix["abnormal", "normal"]), str(matrix["abnormal", "abnormal"])),
        ]
        for observation in OBSERVATIONS:
            tp, fp, fn, _, p, r, f1 = _expected(model, observation)
            row = re.search(rf'data-observation="{observation}">(.*?)</tr>', block).group(1)
            cells = re.findall(r"<td>(.*?)</td>", row)
            ratios = [
                '<span class="none">n/a</span>' if v is None else f"{v:.4f}" for v in (p, r, f1)
            ]
            assert cells == [str(tp + fn), str(tp + fp), str(tp), *ratios], (model, observation)
    assert "1 left out (blank impression)" in section
