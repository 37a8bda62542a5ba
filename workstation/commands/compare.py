"""`radimpress compare RUN_DIR RUN_DIR ...`: several local runs side by side.

Per model, its mean ROUGE-1/2/L/Lsum and clinical F1 in each run (from each run's published
summary table), oldest run first, with the change in ROUGE-L and clinical F1 since the model's
previous run: the same model over time. The runs table says what went into each run (code
version, the findings and training files with their SHA-256), so a change in the numbers can be
put down to a change in the data or the code. Prints the tables and writes ``compare.html`` (one
self-contained page) and ``compare.json`` to ``--out``. A folder that is not a complete run
(``INCOMPLETE.json`` there, or no published results) is refused with exit 2, naming the folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from radimpress_workstation.console import error

COMMAND = "compare"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare several local runs: each model's mean ROUGE and clinical F1 per run",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="a run folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out") / "compare",
        help="folder for compare.html and compare.json (default: out/compare)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from radimpress_workstation.run_comparison import (
        METRICS,
        NotACompleteRun,
        as_json,
        compare,
        html_page,
        model_table,
        run_facts,
        text_table,
    )

    if len(args.runs) < 2:
        return error(COMMAND, "needs at least two run folders to compare", args.runs[0])
    if args.out.exists() and not args.out.is_dir():
        return error(COMMAND, "--out must be a folder, not a file", args.out)
    try:
        comparison = compare(args.runs)
    except NotACompleteRun as err:
        return error(COMMAND, err.what, err.where)
    facts = [run_facts(r) for r in comparison.runs]
    print("Runs, oldest first")
    print(text_table(list(facts[0]), [list(f.values()) for f in facts], numeric_from=99))
    print()
    titles = ", ".join(title for _, title in METRICS)
    print(f"Mean F1 per model and run ({titles}); a model's runs together, oldest first,")
    print("with the change in ROUGE-L and clinical F1 since that model's previous run")
    head, body = model_table(comparison)
    print(text_table(head, body, numeric_from=2))
    args.out.mkdir(parents=True, exist_ok=True)
    page, data = args.out / "compare.html", args.out / "compare.json"
    page.write_text(html_page(comparison), encoding="utf-8")
    data.write_text(json.dumps(as_json(comparison), indent=2) + "\n", encoding="utf-8")
    print()
    print(f"wrote {page}")
    print(f"wrote {data}")
    return 0
