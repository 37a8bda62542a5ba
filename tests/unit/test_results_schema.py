"""The Glue tables in template.yaml agree with the writer's schema and project every partition."""

from __future__ import annotations

from pathlib import Path

import pytest

from radimpress import layout
from radimpress.results.parquet import arrow_schema
from radimpress.results.schema import (
    PARTITION_COLUMNS,
    RUN_COLUMNS,
    RUNS_TABLE,
    SCORE_COLUMNS,
    SCORES_TABLE,
)
from radimpress_workstation.embedded.template import load as _load_template


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
    assert params["projection.run_date.range"] == f"{layout.PROJECTION_START},NOW"
    template = params["storage.location.template"]["Fn::Sub"]
    location = sd["Location"]["Fn::Sub"]
    assert template == f"{location}run_date=${{!run_date}}/"
    assert location == f"s3://${{DataBucket}}/results/{folder}/"
    # The writer's keys land where the template points.
    key = (
        layout.scores_key("results", "2026-01-02", "r")
        if folder == "scores"
        else layout.summary_key("results", "2026-01-02", "r")
    )
    assert key.startswith(f"results/{folder}/run_date=2026-01-02/") and key.count("/") == 3


def test_every_column_name_is_lower_case_for_glue():
    for name, _ in (*SCORE_COLUMNS, *RUN_COLUMNS):
        assert name == name.lower()


def test_arrow_schema_covers_every_glue_type():
    schema = arrow_schema((*SCORE_COLUMNS, *RUN_COLUMNS))
    assert len(schema) == len(SCORE_COLUMNS) + len(RUN_COLUMNS)


def test_safe_names():
    assert layout.safe_name("exec:1/ä b") == "exec_1_b"
    with pytest.raises(ValueError):
        layout.safe_name("//")


def _walk(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


def test_quicksight_is_optional_and_consistent_with_the_tables():
    resources = _load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Resources"]
    quicksight = {k: r for k, r in resources.items() if r["Type"].startswith("AWS::QuickSight::")}
    assert {r["Type"] for r in quicksight.values()} == {
        "AWS::QuickSight::DataSource",
        "AWS::QuickSight::DataSet",
        "AWS::QuickSight::Dashboard",
    }
    assert all(r.get("Condition") == "HasQuickSightUser" for r in quicksight.values())
    (data_set,) = (r for r in quicksight.values() if r["Type"] == "AWS::QuickSight::DataSet")
    table = data_set["Properties"]["PhysicalTableMap"]["scores"]["CustomSql"]
    # Committed runs only: the data set reads scores through the runs table (the commit marker).
    query = table["SqlQuery"]["Fn::Sub"]
    assert f'"${{ResultsDatabase}}"."{SCORES_TABLE}"' in query
    assert f'JOIN (SELECT DISTINCT run_id FROM "${{ResultsDatabase}}"."{RUNS_TABLE}")' in query
    known = {name for name, _ in (*SCORE_COLUMNS, *PARTITION_COLUMNS)} | {"model_label"}
    offered = {c["Name"] for c in table["Columns"]}
    assert offered <= known and {"model_role", "model_name", "clinical_f1"} <= offered
    assert not offered & {"findings", "reference", "generated"}  # no patient text in QuickSight
    (dashboard,) = (r for r in quicksight.values() if r["Type"] == "AWS::QuickSight::Dashboard")
    definition = dashboard["Properties"]["Definition"]
    assert set(_walk(definition, "ColumnName")) <= offered
    (sheet,) = definition["Sheets"]
    visual_ids = {v for visual in sheet["Visuals"] for v in _walk(visual, "VisualId")}
    layout_ids = {
        e["ElementId"] for e in sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    }
    assert visual_ids == layout_ids and len(visual_ids) == 4
    filter_ids = set(_walk(definition["FilterGroups"], "FilterId"))
    assert {c["Dropdown"]["SourceFilterId"] for c in sheet["FilterControls"]} == filter_ids
    group_by = [
        field["CategoricalDimensionField"]["Column"]["ColumnName"]
        for visual in sheet["Visuals"]
        for field in visual.get("TableVisual", {})
        .get("ChartConfiguration", {})
        .get("FieldWells", {})
        .get("TableAggregatedFieldWells", {})
        .get("GroupBy", [])
    ]
    assert group_by.count("model_role") == 2 and group_by.count("model_name") == 2
    field_ids = list(_walk(definition["Sheets"], "FieldId"))
    assert len(field_ids) == len(set(field_ids))  # QuickSight rejects duplicate field ids
