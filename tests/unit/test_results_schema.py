"""The Glue tables in template.yaml agree with the writer's schema and project every partition."""

from __future__ import annotations

from pathlib import Path

import pytest

from radimpress.local.sql import _load_template
from radimpress.results import partitions
from radimpress.results.parquet import arrow_schema
from radimpress.results.schema import (
    PARTITION_COLUMNS,
    RUN_COLUMNS,
    RUNS_TABLE,
    SCORE_COLUMNS,
    SCORES_TABLE,
)


@pytest.fixture(scope="module")
def tables():
    resources = _load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Resources"]
    found = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table"
    }
    return found


@pytest.mark.parametrize(
    ("table", "columns", "folder"),
    [(SCORES_TABLE, SCORE_COLUMNS, "scores"), (RUNS_TABLE, RUN_COLUMNS, "runs")],
)
def test_glue_table_matches_schema_and_layout(tables, table, columns, folder):
    props = tables[table]
    tin = props["TableInput"]
    sd = tin["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == list(columns)
    assert [(c["Name"], c["Type"]) for c in tin["PartitionKeys"]] == list(PARTITION_COLUMNS)
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert props["DatabaseName"] == {"Ref": "ResultsDatabase"}
    params = tin["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.run_date.type"] == "date"
    assert params["projection.run_date.format"] == "yyyy-MM-dd"
    assert params["projection.run_date.range"] == f"{partitions.PROJECTION_START},NOW"
    template = params["storage.location.template"]["Fn::Sub"]
    location = sd["Location"]["Fn::Sub"]
    assert template == f"{location}run_date=${{!run_date}}/"
    assert location == f"s3://${{DataBucket}}/results/{folder}/"
    # The writer's keys land where the template points.
    key = (
        partitions.scores_key("results", "2026-01-02", "r", "m")
        if folder == "scores"
        else partitions.summary_key("results", "2026-01-02", "r")
    )
    assert key.startswith(f"results/{folder}/run_date=2026-01-02/") and key.count("/") == 3


def test_every_column_name_is_lower_case_for_glue():
    for name, _ in (*SCORE_COLUMNS, *RUN_COLUMNS):
        assert name == name.lower()


def test_arrow_schema_covers_every_glue_type():
    schema = arrow_schema((*SCORE_COLUMNS, *RUN_COLUMNS))
    assert len(schema) == len(SCORE_COLUMNS) + len(RUN_COLUMNS)


def test_safe_names():
    assert partitions.safe_name("exec:1/ä b") == "exec_1_b"
    with pytest.raises(ValueError):
        partitions.safe_name("//")
