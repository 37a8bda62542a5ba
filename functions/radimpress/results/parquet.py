"""Parquet writer for the results tables: the only module that imports pyarrow, and lazily.

pyarrow weighs about 170 MB installed, too much for a Lambda zip next to anything else; the Publish
function takes it from the AWS SDK for pandas managed layer, and nothing else in the Lambda path
imports it. Rows are written in batches so a large run costs memory for one batch at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import IO, Any

BATCH_ROWS = 4096


def arrow_schema(columns: Iterable[tuple[str, str]]) -> Any:
    """The pyarrow schema for ``(name, glue_type)`` pairs from :mod:`radimpress.results.schema`."""
    import pyarrow as pa

    types = {
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "string": pa.string(),
        # Athena reads UTC-adjusted millisecond timestamps as `timestamp`.
        "timestamp": pa.timestamp("ms", tz="UTC"),
    }
    return pa.schema([pa.field(name, types[kind]) for name, kind in columns])


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def write_parquet(
    rows: Iterable[dict[str, Any]],
    columns: Iterable[tuple[str, str]],
    sink: IO[bytes],
    *,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Write ``rows`` (dicts keyed by column name) to ``sink`` as one Parquet file; return count.

    A run with no rows still yields a valid file carrying the schema, so readers see the columns.
    """
    return write_parquet_tables(rows, [(columns, sink)], batch_rows=batch_rows)


def write_parquet_tables(
    rows: Iterable[dict[str, Any]],
    tables: Sequence[tuple[Iterable[tuple[str, str]], IO[bytes]]],
    *,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Write one pass over ``rows`` to several Parquet files, each with its own columns (a row's
    other keys are left out); return the row count.

    Why one pass: the scores and texts tables split the same rows (S3 grants whole objects, so
    report text lives in objects of its own), and the rows are streamed from S3 once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [arrow_schema(columns) for columns, _ in tables]
    count = 0
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(pq.ParquetWriter(sink, schema, compression="snappy"))
            for schema, (_, sink) in zip(schemas, tables, strict=True)
        ]
        for batch in _batches(rows, batch_rows):
            for writer, schema in zip(writers, schemas, strict=True):
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
        if count == 0:
            for writer, schema in zip(writers, schemas, strict=True):
                writer.write_table(schema.empty_table())
    return count
