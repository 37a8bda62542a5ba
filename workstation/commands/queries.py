"""`radimpress queries RESULTS_DIR`: the stack's Athena named queries, run locally on DuckDB.

RESULTS_DIR mirrors the bucket's ``results/`` prefix (a local run leaves one in
``out/<run-id>/results``). The SQL is read from template.yaml, so this prints what Athena answers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radimpress_workstation.console import error, explain

COMMAND = "queries"
LAYOUT = "scores/run_date=YYYY-MM-DD/<run-id>.parquet and runs/run_date=YYYY-MM-DD/<run-id>.parquet"


def _has_results(folder: Path) -> bool:
    return any((folder / "runs").glob("run_date=*/*.parquet")) and any(
        (folder / "scores").glob("run_date=*/*.parquet")
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "queries",
        help="run the template's Athena named queries on DuckDB over local Parquet results",
        description=f"RESULTS_DIR holds {LAYOUT} (a local run writes them under "
        "out/<run-id>/results). Exit 0 on success, 2 when the results folder or the template "
        "is unusable.",
    )
    parser.add_argument("results", help="folder holding scores/ and runs/ (e.g. out/<run>/results)")
    parser.add_argument("--save", metavar="DIR", help="also write <QueryId>.csv and queries.txt")
    parser.add_argument("--template", help="template.yaml to read the queries from")
    parser.add_argument(
        "--show-sql", action="store_true", help="print each query as transpiled for DuckDB"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress_workstation import sql

    folder = Path(args.results)
    if not folder.is_dir():
        return error(COMMAND, "no such folder", folder)
    if not _has_results(folder):
        hint = ""
        if _has_results(folder / "results"):
            hint = f"; this looks like a run folder: try {folder / 'results'}"
        return error(COMMAND, f"no results here: expected {LAYOUT}{hint}", folder)
    try:
        results = sql.run_named_queries(folder, args.template)
    except (OSError, ValueError) as err:
        return error(COMMAND, *explain(err))
    for result in results:
        if args.show_sql:
            print(f"-- {result.query.logical_id} (DuckDB)\n{result.query.duckdb_sql()}\n")
        print(sql.format_result(result) + "\n")
    if args.save:
        for path in sql.save_results(results, args.save):
            print(f"wrote {path}")
    return 0
