"""Column lists of the two results tables, shared by the Parquet writer, the Glue tables and tests.

Names are lower case because the Glue catalog lower-cases column names and Athena matches Parquet
columns by name: ``rougeL`` in a file would be ``rougel`` in the table. Bump ``SCHEMA_VERSION``
whenever a column changes meaning or type; new columns go at the end so old files stay readable.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Score-row keys (docs/contracts.md) and the column prefix each one becomes.
METRICS: tuple[tuple[str, str], ...] = (
    ("rouge1", "rouge1"),
    ("rouge2", "rouge2"),
    ("rougeL", "rougel"),
    ("rougeLsum", "rougelsum"),
)
PARTS: tuple[tuple[str, str], ...] = (
    ("precision", "precision"),
    ("recall", "recall"),
    ("fmeasure", "f1"),
)

# (name, Glue/Athena type). The partition column run_date lives in the path, not in the files.
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("study_id", "string"),
    ("findings", "string"),
    ("reference", "string"),
    ("generated", "string"),
    *((f"{col}_{part}", "double") for _, col in METRICS for _, part in PARTS),
)

# One row per (run, model): the run's counts and the model's mean F1 per metric.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
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
    *((f"{col}_f1", "double") for _, col in METRICS),
)

PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (("run_date", "string"),)

# Glue table names (template.yaml) that the named queries use, locally and in Athena.
SCORES_TABLE = "scores"
RUNS_TABLE = "runs"
