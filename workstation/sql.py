"""Run the stack's Athena named queries on DuckDB over the local results folder.

The SQL exists once, in the ``AWS::Athena::NamedQuery`` resources of template.yaml. This module
reads it from there, transpiles it from Trino (Athena engine v3) to DuckDB with sqlglot, and
registers the local Parquet partitions (the same ``scores/run_date=.../*.parquet`` layout as in S3)
under the Glue table names, so ``make demo`` prints the very tables an operator gets from Athena.
Several results folders (several local runs) read as one bucket: each table is the union of their
files, as Athena sees every run's objects under one prefix.

Each view has exactly its Glue table's columns (and ``run_date``), as Athena shows them: a column
an older file lacks reads as null, and a column the table no longer lists is not shown. Scores
objects written before schema version 3 still hold the report text; the ``texts`` view reads it
from them as rows of its own, so the text queries keep working on old results folders.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radimpress import layout
from radimpress.results.schema import (
    LINEAGE_COLUMNS,
    LINEAGE_TABLE,
    OBSERVATION_COLUMNS,
    OBSERVATIONS_TABLE,
    RUN_COLUMNS,
    RUNS_TABLE,
    SCORE_COLUMNS,
    SCORES_TABLE,
    TEXT_COLUMNS,
    TEXTS_TABLE,
)
from radimpress_workstation.embedded.template import load as load_template

TEMPLATE_ENV = "RADIMPRESS_TEMPLATE"
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_DUCKDB_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
}
TABLES = (
    (SCORES_TABLE, "scores", SCORE_COLUMNS),
    (TEXTS_TABLE, "texts", TEXT_COLUMNS),
    (RUNS_TABLE, "runs", RUN_COLUMNS),
    (OBSERVATIONS_TABLE, "observations", OBSERVATION_COLUMNS),
    (LINEAGE_TABLE, "lineage", LINEAGE_COLUMNS),
)
Folders = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class NamedQuery:
    """One ``AWS::Athena::NamedQuery``: its logical id, display name, description and Trino SQL."""

    logical_id: str
    name: str
    description: str
    sql: str

    def duckdb_sql(self) -> str:
        import sqlglot

        statements = sqlglot.transpile(self.sql, read="trino", write="duckdb", pretty=True)
        if len(statements) != 1:
            raise ValueError(f"named query {self.logical_id}: expected one SQL statement")
        return statements[0]


@dataclass(frozen=True)
class QueryResult:
    query: NamedQuery
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _plain(value: Any, stack_name: str) -> str:
    """A string property that may be a plain string or a simple ``!Sub`` of the stack name."""
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"].replace("${AWS::StackName}", stack_name)
    if not isinstance(value, str):
        raise ValueError(f"expected a string or a !Sub of one, got {value!r}")
    return value


def template_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get(TEMPLATE_ENV) or DEFAULT_TEMPLATE)


def load_named_queries(
    template: str | Path | None = None, stack_name: str = "radimpress"
) -> list[NamedQuery]:
    """Every ``AWS::Athena::NamedQuery`` in template.yaml, in the order they appear."""
    path = template_path(template)
    resources = load_template(path)["Resources"]
    queries = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Athena::NamedQuery":
            continue
        props = resource.get("Properties", {})
        sql = props.get("QueryString")
        if not isinstance(sql, str) or not sql.strip():
            raise ValueError(f"{path}: {logical_id}: QueryString must be a literal SQL string")
        queries.append(
            NamedQuery(
                logical_id=logical_id,
                name=_plain(props.get("Name", logical_id), stack_name),
                description=_plain(props.get("Description", ""), stack_name),
                sql=sql,
            )
        )
    return queries


def _roots(results_dirs: Folders) -> list[Path]:
    """The folders as paths, each once (the same folder named twice would double its rows)."""
    given = [results_dirs] if isinstance(results_dirs, str | Path) else list(results_dirs)
    return list({Path(p).resolve(): Path(p) for p in given}.values())


def _parquet_source(files: list[Path]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return (
        f"read_parquet([{listed}], "
        "hive_partitioning = true, hive_types = {'run_date': VARCHAR}, "
        "union_by_name = true)"
    )


def _select(con: Any, source: str, columns: Sequence[tuple[str, str]]) -> str:
    """``SELECT`` of a table's columns and ``run_date`` from ``source``; the columns its files
    lack (older schema versions, or a table no file of the folders has yet) are typed nulls, as
    in Athena, whose Glue table has every column."""
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    picked = ", ".join(
        name if name in present else f"CAST(NULL AS {_DUCKDB_TYPES[kind]}) AS {name}"
        for name, kind in columns
    )
    return f"SELECT {picked}, run_date FROM {source}"


def _legacy_texts(con: Any, scores_source: str) -> str | None:
    """The report text that scores objects of schema versions 1-2 carry, as ``texts`` rows
    (None when no scores file of the folders has it)."""
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scores_source}").fetchall()}
    if "findings" not in present:
        return None
    return f"{_select(con, scores_source, TEXT_COLUMNS)} WHERE findings IS NOT NULL"


def connect(results_dirs: Folders) -> Any:
    """An in-memory DuckDB with ``scores``, ``texts``, ``runs``, ``observations`` and
    ``lineage`` views over the Parquet of one results folder or the union of several.

    Each folder mirrors the bucket's ``results/`` prefix. A table with no files yet is an empty
    table with the Glue columns, so the queries run (and return nothing) before any run.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    roots = _roots(results_dirs)
    sources = {}
    for table, folder, _ in TABLES:
        files = [f for root in roots for f in sorted((root / folder).glob("run_date=*/*.parquet"))]
        if files:
            sources[table] = _parquet_source(files)
    legacy = _legacy_texts(con, sources[SCORES_TABLE]) if SCORES_TABLE in sources else None
    for table, _, columns in TABLES:
        selects = [_select(con, sources[table], columns)] if table in sources else []
        if table == TEXTS_TABLE and legacy is not None:
            selects.append(legacy)
        if selects:
            con.execute(f"CREATE VIEW {table} AS {' UNION ALL '.join(selects)}")
        else:
            cols = ", ".join(f"{name} {_DUCKDB_TYPES[kind]}" for name, kind in columns)
            con.execute(f"CREATE TABLE {table} ({cols}, run_date VARCHAR)")
    return con


def run_named_queries(
    results_dirs: Folders, template: str | Path | None = None
) -> list[QueryResult]:
    """Run every named query of the template over the local results (one folder or the union of
    several); the Athena answers, locally."""
    con = connect(results_dirs)
    try:
        out = []
        for query in load_named_queries(template):
            cursor = con.execute(query.duckdb_sql())
            columns = [d[0] for d in cursor.description]
            out.append(QueryResult(query, columns, cursor.fetchall()))
        return out
    finally:
        con.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def format_result(result: QueryResult) -> str:
    """A plain-text table for the terminal (floats to 4 decimals, as the blog's tables)."""
    numeric = [
        all(isinstance(row[i], int | float) for row in result.rows if row[i] is not None)
        for i in range(len(result.columns))
    ]
    cells = [result.columns, *([_cell(v) for v in row] for row in result.rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    lines = [result.query.name, line(cells[0]), "  ".join("-" * w for w in widths)]
    lines.extend(line(row) for row in cells[1:])
    if not result.rows:
        lines.append("(no rows)")
    return "\n".join(lines)


def save_results(results: list[QueryResult], out_dir: str | Path) -> list[Path]:
    """Write ``<LogicalId>.csv`` per result (full precision) and ``queries.txt``; return paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        path = out / f"{result.query.logical_id}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(result.columns)
            writer.writerows(result.rows)
        written.append(path)
    text = out / "queries.txt"
    text.write_text("\n\n".join(format_result(r) for r in results) + "\n", encoding="utf-8")
    written.append(text)
    return written


def mirror_results(s3: Any, bucket: str, dest: str | Path, results_prefix: str = "results") -> int:
    """Copy the table files under ``results/`` from (moto) S3 into ``dest``; return the count.

    Only the tables' Parquet files are copied; reports are fetched by the caller by key.
    """
    root = Path(dest)
    count = 0
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in (
        layout.scores_prefix(results_prefix),
        f"{results_prefix.rstrip('/')}/texts/",
        layout.runs_prefix(results_prefix),
        f"{results_prefix.rstrip('/')}/observations/",
        f"{results_prefix.rstrip('/')}/lineage/",
    ):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(results_prefix.rstrip("/")) + 1 :]
                if not relative.endswith(".parquet") or ".." in relative.split("/"):
                    continue
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(".parquet.part")
                s3.download_file(bucket, obj["Key"], str(tmp))
                tmp.replace(target)
                count += 1
    return count
