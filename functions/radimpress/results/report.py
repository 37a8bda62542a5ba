"""The per-run HTML report: one self-contained page (inline CSS and SVG, no scripts, no CDN).

It shows what the blog showed: mean F1 per metric and model, the distribution table (count, mean,
std, min, quartiles, max), box plots of ROUGE F1 by model, and the worst-scoring reports with
findings, reference and generated impression side by side. Pure Python, so it runs in the Publish
Lambda. Every piece of text from the data goes through html.escape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any, Protocol

from radimpress.results.schema import METRICS
from radimpress.results.stats import box_stats, describe
from radimpress.scoring.aggregate import METRIC_LABELS, STAT_NAMES

# Titles by table column (``rougel``), the same labels the CLI tables print by metric (``rougeL``).
METRIC_TITLES = {col: METRIC_LABELS[metric] for metric, col in METRICS}
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
MAX_OUTLIERS_DRAWN = 400


class ModelView(Protocol):
    """What the report needs of one model (``publish.ModelResults`` provides it)."""

    label: str
    reports: int
    f1: dict[str, list[float]]
    studies: list[str]

    @property
    def scored(self) -> int: ...

    def worst(self) -> list[dict[str, Any]]: ...


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "&ndash;"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _line(x1: float, x2: float, y1: float, y2: float, cls: str) -> str:
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="{cls}"/>'


def box_plot_svg(title: str, series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """One inline SVG: a box per model of F1 on a fixed 0..1 axis (comparable across panels)."""
    width, height = 460, 300
    left, right, top, bottom = 48, 12, 30, 56
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (1.0 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="box" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)} box plot by model">',
        f'<text x="{width / 2}" y="18" text-anchor="middle" class="title">'
        f"{escape(title)} F1</text>",
    ]
    for tick in range(6):
        v = tick / 5
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:.1f}</text>'
        )
    slot = plot_w / max(len(series), 1)
    for i, (label, values) in enumerate(series):
        cx = left + slot * (i + 0.5)
        color = PALETTE[i % len(PALETTE)]
        name = escape(label if len(label) <= 22 else label[:21] + "\u2026")
        parts.append(
            f'<text x="{cx:.1f}" y="{height - bottom + 18}" text-anchor="middle" class="tick">'
            f"{name}</text>"
        )
        if not values:
            parts.append(
                f'<text x="{cx:.1f}" y="{y(0.5):.1f}" text-anchor="middle" class="tick">'
                "no scores</text>"
            )
            continue
        b = box_stats(values)
        half = min(slot * 0.3, 40)
        yq1, yq3, ylo, yhi, ymed = (y(b[k]) for k in ("q1", "q3", "lo", "hi", "median"))
        parts.append(
            f'<g class="model-box" data-model="{escape(label)}">'
            + _line(cx, cx, yhi, yq3, "whisker")
            + _line(cx, cx, yq1, ylo, "whisker")
            + _line(cx - half / 2, cx + half / 2, yhi, yhi, "whisker")
            + _line(cx - half / 2, cx + half / 2, ylo, ylo, "whisker")
            + f'<rect x="{cx - half:.1f}" y="{yq3:.1f}" width="{2 * half:.1f}" '
            f'height="{max(yq1 - yq3, 0.5):.1f}" fill="{color}" class="iqr"/>'
            + _line(cx - half, cx + half, ymed, ymed, "median")
            + f'<path d="M{cx:.1f},{y(b["mean"]) - 4:.1f} l4,4 l-4,4 l-4,-4 z" class="mean"/>'
        )
        for v in b["outliers"][:MAX_OUTLIERS_DRAWN]:
            parts.append(f'<circle cx="{cx:.1f}" cy="{y(v):.1f}" r="2" class="outlier"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _text_cell(value: str | None) -> str:
    return '<span class="none">(none)</span>' if value is None else escape(value)


def comparison_rows(models: Sequence[ModelView]) -> list[dict[str, Any]]:
    """Per pair of models and metric, over the reports both scored (matched by study id): counts
    of reports where the first model scores higher, the same, lower, and the mean difference.
    The same numbers as the ModelComparisonQuery named query, for this run only."""
    out = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            for _, col in METRICS:
                fb = dict(zip(b.studies, b.f1[col], strict=True))
                diffs = [x - fb[s] for s, x in zip(a.studies, a.f1[col], strict=True) if s in fb]
                out.append(
                    {
                        "model_a": a.label,
                        "model_b": b.label,
                        "metric": col,
                        "reports": len(diffs),
                        "wins_a": sum(d > 0 for d in diffs),
                        "ties": sum(d == 0 for d in diffs),
                        "wins_b": sum(d < 0 for d in diffs),
                        "mean_diff": sum(diffs) / len(diffs) if diffs else None,
                    }
                )
    return out


def render_report(run: dict[str, Any], models: Sequence[ModelView]) -> str:
    """The whole page for one run. ``run`` holds ids, counts and datetimes (see publish_run)."""
    cols = [col for _, col in METRICS]
    titles = [METRIC_TITLES[c] for c in cols]
    dist = {m.label: {c: describe(m.f1[c]) for c in cols} for m in models}

    mean_rows = [
        [
            escape(m.label),
            str(m.reports),
            str(m.scored),
            *(_fmt(dist[m.label][c]["mean"]) for c in cols),
        ]
        for m in models
    ]
    sections = [
        "<h2>Mean F1 by model</h2>",
        _table(["Model", "Reports", "Scored", *titles], mean_rows, "means"),
        "<h2>Distribution of F1</h2>",
    ]
    sections.append('<div class="dists">')
    for m in models:
        rows = [[stat, *(_fmt(dist[m.label][c][stat]) for c in cols)] for stat in STAT_NAMES]
        sections.append(f"<div><h3>{escape(m.label)}</h3>")
        sections.append(_table(["", *titles], rows, "dist") + "</div>")
    sections.append("</div>")
    pairs = comparison_rows(models)
    if pairs:
        sections.append("<h2>Model against model, report by report</h2>")
        rows = [
            [
                escape(p["model_a"]),
                escape(p["model_b"]),
                METRIC_TITLES[p["metric"]],
                str(p["reports"]),
                str(p["wins_a"]),
                str(p["ties"]),
                str(p["wins_b"]),
                _fmt(p["mean_diff"]),
            ]
            for p in pairs
        ]
        head = ["Model A", "Model B", "Metric", "Reports", "A higher", "Tie", "B higher"]
        sections.append(_table([*head, "Mean F1 A&minus;B"], rows, "compare"))
    sections.append("<h2>F1 by model</h2>")
    sections.append(
        '<p class="note">Box: 25%&ndash;75%, line: median, diamond: mean, whiskers: '
        "furthest point within 1.5&times;IQR, dots: beyond.</p>"
    )
    sections.append('<div class="plots">')
    for c in cols:
        sections.append(box_plot_svg(METRIC_TITLES[c], [(m.label, m.f1[c]) for m in models]))
    sections.append("</div>")
    sections.append("<h2>Worst-scoring reports (lowest ROUGE-L F1)</h2>")
    for m in models:
        worst = m.worst()
        sections.append(f"<h3>{escape(m.label)}</h3>")
        if not worst:
            sections.append('<p class="note">No scored reports.</p>')
            continue
        rows = [
            [
                escape(r["study_id"]),
                _fmt(r["rougel_f1"]),
                f'<div class="text">{_text_cell(r["findings"])}</div>',
                f'<div class="text">{_text_cell(r["reference"])}</div>',
                f'<div class="text">{_text_cell(r["generated"])}</div>',
            ]
            for r in worst
        ]
        sections.append(
            _table(["Study", "ROUGE-L F1", "Findings", "Reference", "Generated"], rows, "worst")
        )

    def when(value: Any) -> str:
        return (
            value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else str(value)
        )

    facts = [
        ("Run", escape(str(run["run_id"]))),
        ("Dataset", escape(str(run["dataset"]))),
        ("Source", escape(str(run.get("source_key", "")))),
        ("Records accepted", str(run.get("records", ""))),
        ("Records rejected", str(run.get("rejected", ""))),
        ("Started", escape(when(run.get("started_at", "")))),
        ("Published", escape(when(run.get("published_at", "")))),
    ]
    fact_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    title = f"radimpress run {escape(str(run['run_id']))}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f'<h1>{title}</h1><dl class="facts">{fact_html}</dl>'
        + "".join(sections)
        + "</body></html>\n"
    )


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 6px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:#666}dl.facts dd{margin:0;word-break:break-all}
table{border-collapse:collapse;margin:4px 0 12px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
table.compare td:nth-child(-n+3),table.compare th:nth-child(-n+3){text-align:left}
table.worst{width:100%;table-layout:fixed}
table.worst td,table.worst th{text-align:left}
table.worst th:nth-child(1){width:9em}table.worst th:nth-child(2){width:7em}
.text{white-space:pre-wrap;word-wrap:break-word}
.none{color:#999;font-style:italic}.note{color:#666;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px;max-width:1100px}
@media (max-width:800px){.plots{grid-template-columns:1fr}}
.dists{display:flex;flex-wrap:wrap;gap:0 24px}
svg.box{width:100%;height:auto;background:#fff}
svg .title{font-size:14px;font-weight:600}svg .tick{font-size:11px;fill:#444}
svg .grid{stroke:#e6e6e6}svg .whisker{stroke:#333}
svg .iqr{stroke:#333;fill-opacity:.85}svg .median{stroke:#111;stroke-width:2}
svg .mean{fill:#fff;stroke:#111}svg .outlier{fill:none;stroke:#555}
"""
