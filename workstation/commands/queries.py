"""`radimpress queries FOLDER ...`: the stack's Athena named queries, run locally on DuckDB.

Each FOLDER is a run folder (``out/<run-id>``) or a results folder mirroring the bucket's
``results/`` prefix (``out/<run-id>/results``). With several, the queries run over the union of
their Parquet, as Athena reads every run under one prefix: run history, the same model across
runs, every comparison. The SQL is read from template.yaml, so this prints what Athena answers.
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


def results_folder(folder: Path) -> Path | str:
    """The results folder of a run or results folder, else why it is not one."""
    if not folder.is_dir():
        return "no such folder"
    if _has_results(folder):
        return folder
    if _has_results(folder / "results"):
        return folder / "results"
    return f"no results here: expected {LAYOUT}, or a run folder holding them under results/"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "queries",
        help="run the template's Athena named queries on DuckDB over local Parquet results",
        description=f"Each FOLDER is a run folder (out/<run-id>) or its results folder, which "
        f"holds {LAYOUT}. With several folders the queries run over all their results at once. "
        "Exit 0 on success, 2 when a folder, its Parquet or the template is unusable.",
    )
    parser.add_argument(
        "results",
        nargs="+",
        metavar="FOLDER",
        help="run folder or results folder (e.g. out/<run> or out/<run>/results); several: "
        "their union",
    )
    parser.add_argument("--save", metavar="DIR", help="also write <QueryId>.csv and queries.txt")
    parser.add_argument("--template", help="template.yaml to read the queries from")
    parser.add_argument(
        "--show-sql", action="store_true", help="print each query as transpiled for DuckDB"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from radimpress_workstation import sql

    folders = []
    for given in map(Path, args.results):
        found = results_folder(given)
        if isinstance(found, str):
            return error(COMMAND, found, given)
        folders.append(found)
    try:
        results = sql.run_named_queries(folders, args.template)
    except (OSError, ValueError) as err:
        return error(COMMAND, *explain(err))
    except duckdb.Error as err:  # a Parquet file DuckDB cannot read
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return error(COMMAND, f"unreadable results: {first}", ", ".join(map(str, folders)))
    if len(folders) > 1:
        print(f"over {len(folders)} results folders: " + ", ".join(map(str, folders)) + "\n")
    for result in results:
        if args.show_sql:
            print(f"-- {result.query.logical_id} (DuckDB)\n{result.query.duckdb_sql()}\n")
        print(sql.format_result(result) + "\n")
    if args.save:
        for path in sql.save_results(results, args.save):
            print(f"wrote {path}")
    return 0
