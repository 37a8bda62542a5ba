"""Several local runs side by side: each model's mean F1 per run, the same model over time.

What ``radimpress compare`` prints and writes. A run is read from its folder: the run summary
table (``results/runs/``, one row per model, as published) for the numbers, and its lineage
(summary.json, else ``results/lineage-runs/<run>.json``) for what went in: the code version and
the files' SHA-256, so two runs that differ can be told apart by what changed. A folder that is
not a complete run (``INCOMPLETE.json``, or no published results) is refused, naming it.
Ids, counts, means and file names only: never report text.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from radimpress_workstation.run_folders import INCOMPLETE

# (runs table column, title): the blog's four ROUGE means and clinical F1.
METRICS: tuple[tuple[str, str], ...] = (
    ("rouge1_f1", "ROUGE-1"),
    ("rouge2_f1", "ROUGE-2"),
    ("rougel_f1", "ROUGE-L"),
    ("rougelsum_f1", "ROUGE-Lsum"),
    ("clinical_f1", "Clinical F1"),
)
CHANGE_METRICS = ("rougel_f1", "clinical_f1")  # the change since a model's previous run


class NotACompleteRun(ValueError):
    """A folder ``compare`` cannot use; ``what`` says why, ``where`` names the folder."""

    def __init__(self, what: str, where: Path) -> None:
        super().__init__(f"{what}: {where}")
        self.what, self.where = what, str(where)


@dataclass
class Run:
    folder: Path
    run_id: str
    dataset: str
    started_at: datetime | None
    lineage: dict[str, Any] | None
    number: int = 0  # 1 = the oldest compared


@dataclass
class ModelRun:
    """One model's means in one run (one row of that run's summary table)."""

    run: Run
    label: str
    role: str
    name: str
    generator: str
    scored: int
    means: dict[str, float | None]
    change: dict[str, float | None] = field(default_factory=dict)

    @property
    def model(self) -> tuple[str, str]:
        """What makes two runs' rows the same model: its label and what generated it."""
        return self.label, self.generator


def _clean(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _lineage(folder: Path, run_id: str) -> dict[str, Any] | None:
    for path in (folder / "summary.json", folder / "results" / "lineage-runs" / f"{run_id}.json"):
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        value = value.get("lineage", value) if path.name == "summary.json" else value
        if isinstance(value, dict) and value.get("run_id"):
            return value
    return None


def load_run(folder: Path) -> tuple[Run, list[ModelRun]]:
    """A complete run folder's run and per-model rows; :class:`NotACompleteRun` otherwise."""
    import pyarrow.parquet as pq

    if not folder.is_dir():
        raise NotACompleteRun("no such folder", folder)
    marker = folder / INCOMPLETE
    if marker.exists():
        try:
            reason = json.loads(marker.read_text(encoding="utf-8")).get("reason", "")
        except (OSError, ValueError):
            reason = ""
        why = f" ({reason})" if isinstance(reason, str) and reason else ""
        raise NotACompleteRun(f"not a complete run: {INCOMPLETE} is there{why}", folder)
    files = sorted((folder / "results" / "runs").glob("run_date=*/*.parquet"))
    if not files:
        raise NotACompleteRun(
            "not a complete run: no results (expected results/runs/run_date=*/<run>.parquet)",
            folder,
        )
    try:
        rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise NotACompleteRun(f"unreadable results ({type(err).__name__})", folder) from None
    if not rows:
        raise NotACompleteRun("not a complete run: its run summary has no model", folder)
    run_ids = sorted({str(r.get("run_id")) for r in rows})
    if len(run_ids) != 1:
        raise NotACompleteRun(f"holds {len(run_ids)} runs ({', '.join(run_ids)}), not one", folder)
    first = rows[0]
    started = first.get("started_at")
    run = Run(
        folder=folder,
        run_id=run_ids[0],
        dataset=str(first.get("dataset") or ""),
        started_at=started if isinstance(started, datetime) else None,
        lineage=_lineage(folder, run_ids[0]),
    )
    return run, [
        ModelRun(
            run=run,
            label=str(r.get("model") or ""),
            role=str(r.get("model_role") or ""),
            name=str(r.get("model_name") or ""),
            generator=str(r.get("generator") or ""),
            scored=int(r.get("scored") or 0),
            means={col: _clean(r.get(col)) for col, _ in METRICS},
        )
        for r in rows
    ]


@dataclass
class Comparison:
    runs: list[Run]
    # Per model (the A/B order of the reports: fine-tuned, candidate, pre-trained), its runs,
    # oldest first, each with the change since the model's previous run.
    models: list[tuple[tuple[str, str], list[ModelRun]]]


def compare(folders: Sequence[Path]) -> Comparison:
    """Load every folder (refusing the first that is not a complete run, or a run given twice)
    and line the models up across runs, oldest run first."""
    from radimpress.results.publish import model_order

    loaded = [load_run(folder) for folder in folders]
    seen: dict[str, Path] = {}
    for run, _ in loaded:
        if run.run_id in seen:
            raise NotACompleteRun(f"the same run as {seen[run.run_id]} ({run.run_id})", run.folder)
        seen[run.run_id] = run.folder
    loaded.sort(key=lambda item: (item[0].started_at is None, item[0].started_at, item[0].run_id))
    for number, (run, _) in enumerate(loaded, start=1):
        run.number = number
    by_model: dict[tuple[str, str], list[ModelRun]] = {}
    order: dict[tuple[str, str], tuple[int, str, str]] = {}
    for _, rows in loaded:
        for row in rows:
            by_model.setdefault(row.model, []).append(row)
            order.setdefault(row.model, model_order(row.role, row.name, row.label))
    for rows in by_model.values():
        for previous, row in itertools.pairwise(rows):
            row.change = {col: _difference(row, previous, col) for col in CHANGE_METRICS}
    models = sorted(by_model.items(), key=lambda item: (order[item[0]], item[0][1]))
    return Comparison([run for run, _ in loaded], models)


def _difference(row: ModelRun, previous: ModelRun, col: str) -> float | None:
    now, before = row.means[col], previous.means[col]
    return None if now is None or before is None else now - before


# ---- what a run was made of ------------------------------------------------------------------


def _short(sha: Any) -> str:
    return f"{sha[:12]}" if isinstance(sha, str) and sha else "-"


def _file(source: dict[str, Any] | None) -> str:
    if not source:
        return "-"
    name = Path(str(source.get("file") or "-")).name
    return f"{name} ({source.get('records', '?')} records, sha256 {_short(source.get('sha256'))})"


def run_facts(run: Run) -> dict[str, str]:
    """What a run was made of, for one line of the runs table (text, not yet escaped)."""
    lineage = run.lineage or {}
    trainings = lineage.get("training_runs") or []
    started = run.started_at.strftime("%Y-%m-%d %H:%M") if run.started_at else "-"
    return {
        "#": str(run.number),
        "run": run.run_id,
        "started (UTC)": started,
        "dataset": run.dataset,
        "code version": str(lineage.get("code_version") or "-"),
        "findings file": _file(lineage.get("input")),
        "training file": "; ".join(dict.fromkeys(_file(t.get("input")) for t in trainings)) or "-",
    }


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.4f}"


def model_table(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """The side-by-side table: a row per model and run, the model's runs together."""
    head = [
        "model",
        "generator",
        "run",
        "scored",
        *(title for _, title in METRICS),
        "ROUGE-L change",
        "Clinical F1 change",
    ]
    body = []
    for (label, generator), rows in comparison.models:
        for position, row in enumerate(rows):
            body.append(
                [
                    label if position == 0 else "",
                    generator if position == 0 else "",
                    f"{row.run.number}",
                    str(row.scored),
                    *(_number(row.means[col]) for col, _ in METRICS),
                    *(_signed(row.change.get(col)) for col in CHANGE_METRICS),
                ]
            )
    return head, body


def text_table(head: Sequence[str], body: Sequence[Sequence[str]], numeric_from: int) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if position >= numeric_from else cell.ljust(width)
            for position, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, body)])


def as_json(comparison: Comparison) -> dict[str, Any]:
    """compare.json: the runs (with their lineage) and every model's means per run."""
    return {
        "runs": [
            {
                "number": run.number,
                "run_id": run.run_id,
                "folder": str(run.folder),
                "dataset": run.dataset,
                "started_at": run.started_at.isoformat() if run.started_at else None,
                "lineage": run.lineage,
            }
            for run in comparison.runs
        ],
        "models": [
            {
                "model": label,
                "generator": generator,
                "runs": [
                    {
                        "run_id": row.run.run_id,
                        "number": row.run.number,
                        "scored": row.scored,
                        **row.means,
                        **{f"{col}_change": v for col, v in row.change.items()},
                    }
                    for row in rows
                ],
            }
            for (label, generator), rows in comparison.models
        ],
    }


# ---- the HTML page ---------------------------------------------------------------------------


def _html_table(head: Sequence[str], body: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _pivot(comparison: Comparison, col: str) -> tuple[list[str], list[list[str]]]:
    """One metric as a model x run grid: the same model across runs on one line."""
    head = ["model", *(f"run {run.number}" for run in comparison.runs)]
    body = []
    for (label, _), rows in comparison.models:
        by_run = {row.run.number: row.means[col] for row in rows}
        body.append([label, *(_number(by_run.get(run.number)) for run in comparison.runs)])
    return head, body


def html_page(comparison: Comparison) -> str:
    """One self-contained page (inline CSS, no scripts): the runs with what went into them,
    every model's means per run, and ROUGE-L and clinical F1 as model x run grids."""
    facts = [run_facts(run) for run in comparison.runs]
    runs_table = _html_table(list(facts[0]), [list(f.values()) for f in facts], "runs")
    sections = [
        "<h2>Runs, oldest first</h2>",
        runs_table,
        "<h2>Mean F1 per model and run</h2>",
        '<p class="note">A model\'s runs together, oldest first; the change is since that '
        "model's previous run.</p>",
        _html_table(*model_table(comparison)),
    ]
    for col, title in METRICS:
        if col in CHANGE_METRICS:
            sections += [f"<h2>{escape(title)} by model and run</h2>"]
            sections.append(_html_table(*_pivot(comparison, col)))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"><title>radimpress: runs compared</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body><h1>radimpress: {len(comparison.runs)} runs "
        "compared</h1>" + "".join(sections) + "</body></html>\n"
    )


_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
padding:16px;max-width:1280px;color:#222}
h1{font-size:22px;margin:0 0 8px;overflow-wrap:anywhere}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.scroll{max-width:100%;overflow-x:auto;margin:4px 0 12px}
table{border-collapse:collapse}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top;white-space:nowrap}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
table.runs td,table.runs th{text-align:left}
.note{color:#666;font-size:12px}
@media (max-width:480px){body{padding:10px}th,td{padding:3px 5px}}
"""
