"""The Glue tables in template.yaml agree with the writer's schema and project every partition."""

from __future__ import annotations

from pathlib import Path

import pytest

from radimpress import layout
from radimpress.results.lineage import lineage_key
from radimpress.results.parquet import arrow_schema
from radimpress.results.publish import observations_key, texts_key
from radimpress.results.schema import (
    LINEAGE_COLUMNS,
    LINEAGE_TABLE,
    OBSERVATION_COLUMNS,
    OBSERVATIONS_TABLE,
    PARTITION_COLUMNS,
    RUN_COLUMNS,
    RUNS_TABLE,
    SCHEMA_VERSION,
    SCORE_COLUMNS,
    SCORES_TABLE,
    TEXT_COLUMNS,
    TEXTS_TABLE,
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
    [
        (SCORES_TABLE, SCORE_COLUMNS, "scores"),
        (TEXTS_TABLE, TEXT_COLUMNS, "texts"),
        (RUNS_TABLE, RUN_COLUMNS, "runs"),
        (OBSERVATIONS_TABLE, OBSERVATION_COLUMNS, "observations"),
        (LINEAGE_TABLE, LINEAGE_COLUMNS, "lineage"),
    ],
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
    key = {
        "scores": layout.scores_key,
        "texts": texts_key,
        "runs": layout.summary_key,
        "observations": observations_key,
        "lineage": lineage_key,
    }[folder]("results", "2026-01-02", "r")
    assert key.startswith(f"results/{folder}/run_date=2026-01-02/") and key.count("/") == 3


# The two tables' columns, written out: a renamed, retyped, reordered, dropped or added column
# changes what Athena, QuickSight and old Parquet files see, so it must change this list too (and
# SCHEMA_VERSION when a column changes meaning or type; new columns go at the end).
EXPECTED_SCORE_COLUMNS = [
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("study_id", "string"),
    # findings, reference and generated moved to the texts table in schema version 3
    ("rouge1_precision", "double"),
    ("rouge1_recall", "double"),
    ("rouge1_f1", "double"),
    ("rouge2_precision", "double"),
    ("rouge2_recall", "double"),
    ("rouge2_f1", "double"),
    ("rougel_precision", "double"),
    ("rougel_recall", "double"),
    ("rougel_f1", "double"),
    ("rougelsum_precision", "double"),
    ("rougelsum_recall", "double"),
    ("rougelsum_f1", "double"),
    ("model_role", "string"),
    ("model_name", "string"),
    ("model_version", "string"),
    ("sagemaker_model", "string"),
    ("training_job", "string"),
    ("training_run_id", "string"),
    ("generator", "string"),  # issue 18 item 1
    ("train_overlap", "string"),  # issue 18 item 2
    ("model_package_version", "int"),  # issue 20: the Model Registry version
    ("model_package_arn", "string"),
    ("clinical_precision", "double"),
    ("clinical_recall", "double"),
    ("clinical_f1", "double"),
    ("clinical_missed", "string"),
    ("clinical_invented", "string"),
    ("clinical_missed_count", "int"),
    ("clinical_invented_count", "int"),
]
EXPECTED_TEXT_COLUMNS = [
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("study_id", "string"),
    ("findings", "string"),
    ("reference", "string"),
    ("generated", "string"),
]
EXPECTED_RUN_COLUMNS = [
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("execution", "string"),
    ("source_key", "string"),
    ("started_at", "timestamp"),
    ("published_at", "timestamp"),
    ("records", "bigint"),
    ("rejected", "bigint"),
    ("reports", "bigint"),
    ("scored", "bigint"),
    ("rouge1_f1", "double"),
    ("rouge2_f1", "double"),
    ("rougel_f1", "double"),
    ("rougelsum_f1", "double"),
    ("model_role", "string"),
    ("model_name", "string"),
    ("model_version", "string"),
    ("sagemaker_model", "string"),
    ("training_job", "string"),
    ("training_run_id", "string"),
    ("generator", "string"),  # issue 18 item 1
    ("train_overlap", "string"),  # issue 18 item 2
    ("model_package_version", "int"),  # issue 20: the Model Registry version
    ("model_package_arn", "string"),
    ("clinical_precision", "double"),
    ("clinical_recall", "double"),
    ("clinical_f1", "double"),
    ("missed_reports", "bigint"),
    ("rouge1_f1_ci_low", "double"),
    ("rouge1_f1_ci_high", "double"),
    ("rouge2_f1_ci_low", "double"),
    ("rouge2_f1_ci_high", "double"),
    ("rougel_f1_ci_low", "double"),
    ("rougel_f1_ci_high", "double"),
    ("rougelsum_f1_ci_low", "double"),
    ("rougelsum_f1_ci_high", "double"),
    ("clinical_f1_ci_low", "double"),
    ("clinical_f1_ci_high", "double"),
    ("promotion_status", "string"),  # a training run's promotion gate, null otherwise
    ("promotion_reason", "string"),
]


def test_columns_are_the_published_ones():
    assert list(SCORE_COLUMNS) == EXPECTED_SCORE_COLUMNS
    assert list(TEXT_COLUMNS) == EXPECTED_TEXT_COLUMNS
    assert list(RUN_COLUMNS) == EXPECTED_RUN_COLUMNS
    assert list(PARTITION_COLUMNS) == [("run_date", "string")]
    assert SCHEMA_VERSION == 3


def test_report_text_is_only_in_the_texts_table():
    """S3 and IAM grant objects, not columns: the text must be in a table of its own."""
    text = {"findings", "reference", "generated"}
    assert {name for name, _ in TEXT_COLUMNS} >= text
    for columns in (SCORE_COLUMNS, RUN_COLUMNS, OBSERVATION_COLUMNS, LINEAGE_COLUMNS):
        assert not {name for name, _ in columns} & text
    # The texts table carries the scores table's row key, so every query can join them.
    score_names = [name for name, _ in SCORE_COLUMNS]
    assert {"run_id", "dataset", "model", "study_id"} <= set(score_names)


def test_every_column_name_is_lower_case_for_glue():
    for name, _ in (*SCORE_COLUMNS, *TEXT_COLUMNS, *RUN_COLUMNS, *LINEAGE_COLUMNS):
        assert name == name.lower()


def test_arrow_schema_maps_every_glue_type():
    """Each Glue type becomes the Arrow type Athena reads it as (timestamps: UTC milliseconds)."""
    import pyarrow as pa

    columns = [("i", "int"), ("b", "bigint"), ("d", "double"), ("s", "string"), ("t", "timestamp")]
    assert arrow_schema(columns) == pa.schema(
        [
            pa.field("i", pa.int32()),
            pa.field("b", pa.int64()),
            pa.field("d", pa.float64()),
            pa.field("s", pa.string()),
            pa.field("t", pa.timestamp("ms", tz="UTC")),
        ]
    )
    # Every type the two tables use is one of those (an unknown type raises KeyError here).
    schema = arrow_schema((*SCORE_COLUMNS, *RUN_COLUMNS))
    assert schema.names == [name for name, _ in (*EXPECTED_SCORE_COLUMNS, *EXPECTED_RUN_COLUMNS)]


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
