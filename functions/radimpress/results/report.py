"""The per-run HTML report: one self-contained page (inline CSS, SVG and one script, no CDN).

One page per run, comparing every model of the run: who each model is (role, name, version,
SageMaker model, training job and run), mean F1 with bootstrap confidence intervals (ROUGE and
clinical agreement), per-observation clinical agreement with a normal/abnormal confusion matrix,
the blog's distribution table, box plots, pairwise wins/ties/losses in the
same A/B direction as the ModelComparisonQuery named query, the reports where a fine-tuned model
lost to the pre-trained one, the worst reports in a stated order, every study in a sortable,
filterable table (report_browse), and the rejected-record counts.

Layout: it reads from 360 px to a desktop. Below 600 px every table of numbers turns into one card
per row (label and value on a line), so nothing scrolls sideways; report texts are cards whose
columns reflow into one below 900 px; box-plot text stays at least 11 px on a 360 px screen. Pure
Python, so it runs in the Publish Lambda. Every piece of text from the data goes through
html.escape (the browse table's script sets it as text). The page's Content-Security-Policy
allows its own style sheet and script by their SHA-256 and nothing else: no network, no other
script, even if some text escaped escaping.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Protocol

from radimpress.results.report_browse import CSS as BROWSE_CSS
from radimpress.results.report_browse import SCRIPT_HASH, BrowseTable
from radimpress.results.report_lineage import render_lineage_section
from radimpress.results.report_tables import table as _table
from radimpress.results.schema import METRICS
from radimpress.results.stats import box_stats, describe
from radimpress.scoring.aggregate import METRIC_LABELS, STAT_NAMES

# Titles by table column (``rougel``), the same labels the CLI tables print by metric (``rougeL``).
METRIC_TITLES = {col: METRIC_LABELS[metric] for metric, col in METRICS}
METRIC_TITLES["clinical"] = METRIC_LABELS["clinical"]
COLUMNS = (*(col for _, col in METRICS), "clinical")  # every F1 the report shows, in order
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
MAX_OUTLIERS_DRAWN = 400
MAX_TICK_FONT = 15  # the largest font size (viewBox units) _CSS gives box-plot ticks and labels


def label_lines(label: str, width: int) -> list[str]:
    """A model label in at most two lines of ``width`` characters (word wrap, then an ellipsis),
    so labels of neighbouring boxes never overlap."""
    width = max(width, 4)
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    lines = lines or [""]
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    return [line if len(line) <= width else line[: width - 1] + "\u2026" for line in lines]


class ModelView(Protocol):
    """What the report needs of one model (``publish.ModelResults`` provides it)."""

    label: str
    reports: int
    f1: Mapping[str, Sequence[float]]
    studies: list[str]
    clinical: Sequence[float]  # NaN: no clinical agreement for that study
    identity: dict[str, Any]
    missed_reports: int
    per_observation: Any  # radimpress.clinical.per_observation.PerObservation

    @property
    def scored(self) -> int: ...

    def values(self, col: str) -> Sequence[float]: ...

    def order(self) -> tuple[int, str, str]: ...

    def worst(self) -> list[dict[str, Any]]: ...


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "&ndash;"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


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
        f"{escape(title.removesuffix(' F1'))} F1</text>",
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
        for row, line in enumerate(label_lines(label, int(slot / (0.6 * MAX_TICK_FONT)))):
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 18 + 17 * row}" text-anchor="middle" '
                f'class="tick label">{escape(line)}</text>'
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


def _pairs(models: Sequence[ModelView]) -> list[tuple[ModelView, ModelView]]:
    """Every pair once, A before B in the A/B order of the named queries (publish.model_order)."""
    ordered = sorted(models, key=lambda m: m.order())
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]


def _by_study(m: ModelView, col: str) -> dict[str, float]:
    if col == "clinical":
        return {s: v for s, v in zip(m.studies, m.clinical, strict=True) if not math.isnan(v)}
    return dict(zip(m.studies, m.f1[col], strict=True))


def comparison_rows(models: Sequence[ModelView]) -> list[dict[str, Any]]:
    """Per pair of models and metric, over the reports both scored (matched by study id): counts
    of reports where model A scores higher, the same, lower, and the mean of A minus B.
    The same numbers and direction as the ModelComparisonQuery named query, for this run."""
    out = []
    for a, b in _pairs(models):
        for col in COLUMNS:
            fa, fb = _by_study(a, col), _by_study(b, col)
            diffs = [x - fb[s] for s, x in fa.items() if s in fb]
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


def _mean_cell(values: Sequence[float], ci: tuple[float, float] | None) -> str:
    if not values:
        return _fmt(None)
    mean = _fmt(sum(values) / len(values))
    if ci is None:
        return mean
    return f'{mean}<br><span class="ci">[{ci[0]:.4f}, {ci[1]:.4f}]</span>'


def _observations(value: str | None) -> str:
    return escape(value) if value else '<span class="none">none</span>'


def _case(title: str, facts: list[tuple[str, str]], texts: list[tuple[str, str | None]]) -> str:
    """One report as a card: a heading, a facts line, the texts side by side (stacked on phones)."""
    fact_html = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    text_html = "".join(
        f'<div class="t"><h5>{k}</h5><div class="text">{_text_cell(v)}</div></div>'
        for k, v in texts
    )
    return (
        f'<article class="case"><h4>{title}</h4><dl class="case-facts">{fact_html}</dl>'
        f'<div class="texts">{text_html}</div></article>'
    )


def _scores(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Clinical F1", _fmt(row.get("clinical_f1"))),
        ("ROUGE-L F1", _fmt(row.get("rougel_f1"))),
        ("Missed", _observations(row.get("clinical_missed"))),
        ("Invented", _observations(row.get("clinical_invented"))),
    ]


def render_report(
    run: dict[str, Any],
    models: Sequence[ModelView],
    *,
    intervals: dict[str, dict[str, tuple[float, float] | None]] | None = None,
    lost: Sequence[dict[str, Any]] = (),
    browse: BrowseTable | None = None,
    paired: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The whole page for one run. ``run`` holds ids, counts and datetimes (see publish_run);
    ``intervals`` the bootstrap intervals per model label and ``<col>_f1``; ``lost`` the
    fine-tuned-vs-pre-trained losses (publish.lost_reports with the rows to show); ``browse``
    every study's texts and scores (gathered by publish while it streams the score rows);
    ``paired`` the paired comparisons when the caller has them (:func:`paired_rows`)."""
    models = sorted(models, key=lambda m: m.order())
    sections = [
        *_models_section(models),
        *_means_section(models, intervals or {}),
        *_distribution_section(models),
        *_comparison_section(models),
        *_lost_sections(lost),
        *_plots_section(models),
        *_per_observation_section(models),
        *_paired_section(paired_rows(models) if paired is None else paired),
        *_worst_section(run, models),
        *(browse.section([m.label for m in models]) if browse is not None else []),
        *_rejected_section(run),
        *render_lineage_section(run.get("lineage")),
    ]
    title = f"radimpress run {escape(str(run['run_id']))}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>{title}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f'<h1>{title}</h1><dl class="facts">{_run_facts(run, models)}</dl>'
        + "".join(_banners(models))
        + _promotion_banner(run.get("promotion") or {})
        + "".join(sections)
        + "</body></html>\n"
    )


def _banners(models: Sequence[ModelView]) -> list[str]:
    """Warnings a reader must see before any number: impressions written by a stand-in for the
    named model (the JumpStart container double), and findings studies that were also trained on.
    """
    out = []
    for m in models:
        generator = m.identity.get("generator", "")
        if generator.startswith("double:"):
            out.append(
                f'<p class="banner" role="alert"><strong>Stand-in, not the named model:</strong> '
                f"the impressions of {escape(m.label)} were generated by "
                f"{escape(generator)}, the local JumpStart container double. Its scores test the "
                "pipeline, not the model.</p>"
            )
    overlaps = dict.fromkeys(m.identity.get("train_overlap", "") for m in models)
    for note in filter(None, overlaps):
        out.append(
            f'<p class="banner" role="alert"><strong>Train/test overlap:</strong> '
            f"{escape(note)}.</p>"
        )
    return out


def _promotion_banner(promotion: dict[str, Any]) -> str:
    """A training run's promotion gate: the decision on the new version, first thing read."""
    if not promotion.get("status"):
        return ""
    version = promotion.get("package_version") or "?"
    return (
        '<p class="banner" role="status"><strong>Promotion gate:</strong> '
        f"fine-tuned version v{escape(str(version))} is {escape(str(promotion['status']))} "
        f"({escape(str(promotion.get('reason', '')))}). The models below were scored on the "
        "studies held out of its training.</p>"
    )


NONE = '<span class="none">&ndash;</span>'


def _package_cell(identity: dict[str, Any]) -> str:
    """``vN`` of the Model Registry version a model stands for (its ARN on hover); a dash when
    it has none (the pre-trained model)."""
    version = identity.get("model_package_version")
    if not version:
        return NONE
    arn = escape(str(identity.get("model_package_arn") or ""))
    return f'<span title="{arn}">v{int(version)}</span>' if arn else f"v{int(version)}"


def _models_section(models: Sequence[ModelView]) -> list[str]:
    """Who each model is: role, name, version, package version, SageMaker model, training job
    and run."""
    identity_rows = [
        [
            escape(m.label),
            *(
                escape(m.identity.get(k, "")) or NONE
                for k in ("model_role", "model_name", "model_version")
            ),
            _package_cell(m.identity),
            *(
                escape(m.identity.get(k, "")) or NONE
                for k in ("sagemaker_model", "training_job", "training_run_id", "generator")
            ),
        ]
        for m in models
    ]
    return [
        "<h2>Models</h2>",
        _table(
            [
                "Model",
                "Role",
                "Name",
                "Version",
                "Package",
                "SageMaker model",
                "Training job",
                "Training run",
                "Generated by",
            ],
            identity_rows,
            "models",
        ),
    ]


def _means_section(
    models: Sequence[ModelView], intervals: dict[str, dict[str, tuple[float, float] | None]]
) -> list[str]:
    """Mean F1 per model and metric, with bootstrap intervals, and the reports missing a finding."""
    titles = [METRIC_TITLES[c] for c in COLUMNS]
    mean_rows = [
        [
            escape(m.label),
            str(m.reports),
            str(m.scored),
            *(_mean_cell(m.values(c), intervals.get(m.label, {}).get(f"{c}_f1")) for c in COLUMNS),
            str(m.missed_reports),
        ]
        for m in models
    ]
    return [
        "<h2>Mean F1 by model</h2>",
        '<p class="note">Means over the scored reports, with 95% percentile-bootstrap intervals '
        "(1,000 resamples, fixed seed). Clinical F1: agreement of positive CheXpert observations "
        "(uncertain counted as positive) between reference and generated impression.</p>",
        _table(["Model", "Reports", "Scored", *titles, "Missed a finding"], mean_rows, "means"),
    ]


def _breakable(name: str) -> str:
    """An observation name whose one long word breaks as "Cardio-/mediastinum" on a phone."""
    return escape(name).replace("Cardiomediastinum", "Cardio&shy;mediastinum")


def _ratio_cell(value: float | None) -> str:
    return '<span class="none">n/a</span>' if value is None else f"{value:.4f}"


def _per_observation_section(models: Sequence[ModelView]) -> list[str]:
    """Per model: the normal/abnormal confusion matrix and P/R/F1 per CheXpert observation.

    Tables sized to fit a 390 px screen without scrolling (short headers, wrapping names)."""
    from radimpress.clinical.per_observation import ABNORMAL, NORMAL

    sections = [
        '<section class="per-observation" id="per-observation">',
        "<h2>Clinical agreement by observation</h2>",
        '<p class="note">Micro counts over the studies whose reference and generated impression '
        "are both labelled (non-blank); positive = positive or uncertain, as in clinical F1. "
        "Ref+ / Gen+: studies positive in the reference / generated impression; Both: in both; "
        "P, R, F1: precision, recall, F1 of the generated impression; n/a: no positive to divide "
        "by. Normal = No Finding (nothing abnormal); abnormal = any finding.</p>",
        '<div class="obs-models">',
    ]
    head = "".join(
        f'<th scope="col"><abbr title="{t}">{h}</abbr></th>'
        for h, t in (
            ("Ref+", "studies positive in the reference"),
            ("Gen+", "studies positive in the generated impression"),
            ("Both", "studies positive in both (true positives)"),
            ("P", "precision"),
            ("R", "recall"),
            ("F1", "F1"),
        )
    )
    for m in models:
        tally = m.per_observation
        matrix = tally.matrix()
        left_out = f"; {tally.unlabelled} left out (blank impression)" if tally.unlabelled else ""
        matrix_rows = "".join(
            f'<tr><th scope="row">Reference {ref}</th>'
            f"<td>{matrix[ref, NORMAL]}</td><td>{matrix[ref, ABNORMAL]}</td></tr>"
            for ref in (NORMAL, ABNORMAL)
        )
        rows = "".join(
            f'<tr class="{"na" if c.f1 is None else "obs"}" '
            f'data-observation="{escape(c.observation)}">'
            f'<th scope="row">{_breakable(c.observation)}</th>'
            f"<td>{c.reference_positive}</td><td>{c.generated_positive}</td>"
            f"<td>{c.true_positive}</td><td>{_ratio_cell(c.precision)}</td>"
            f"<td>{_ratio_cell(c.recall)}</td><td>{_ratio_cell(c.f1)}</td></tr>"
            for c in tally.rows()
        )
        sections += [
            f'<div class="obs-model" data-model="{escape(m.label)}">',
            f"<h3>{escape(m.label)}</h3>",
            f'<p class="note">{tally.studies} studies{left_out}.</p>',
            '<table class="matrix"><caption>Normal / abnormal</caption><thead><tr>'
            '<td></td><th scope="col">Generated normal</th>'
            f'<th scope="col">Generated abnormal</th></tr></thead><tbody>{matrix_rows}'
            "</tbody></table>",
            '<table class="observations"><thead><tr><th scope="col">Observation</th>'
            f"{head}</tr></thead><tbody>{rows}</tbody></table>",
            "</div>",
        ]
    sections += ["</div>", "</section>"]
    return sections


def _distribution_section(models: Sequence[ModelView]) -> list[str]:
    """One describe() table per model (count, mean, std, min, quartiles, max of each F1)."""
    titles = [METRIC_TITLES[c] for c in COLUMNS]
    sections = ["<h2>Distribution of F1</h2>", '<div class="dists">']
    for m in models:
        dist = {c: describe(m.values(c)) for c in COLUMNS}
        rows = [[stat, *(_fmt(dist[c][stat]) for c in COLUMNS)] for stat in STAT_NAMES]
        sections.append(f'<div class="dist"><h3>{escape(m.label)}</h3>')
        sections.append(_table(["", *titles], rows, "dist", phone="compact") + "</div>")
    sections.append("</div>")
    return sections


def paired_rows(models: Sequence[ModelView]) -> list[dict[str, Any]]:
    """radimpress.scoring.bootstrap.paired_comparisons of every pair (A/B order as above), over
    ROUGE-L and clinical F1: what ``radimpress run`` prints, the same resamples and seed."""
    from radimpress.results.schema import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
    from radimpress.scoring.bootstrap import paired_comparisons

    ordered = sorted(models, key=lambda m: m.order())
    if len(ordered) < 2:
        return []
    scores = [
        (m.label, {"rougeL": _by_study(m, "rougel"), "clinical": _by_study(m, "clinical")})
        for m in ordered
    ]
    return paired_comparisons(scores, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)


def _paired_section(pairs: Sequence[dict[str, Any]]) -> list[str]:
    """Per pair: is the difference in mean ROUGE-L / clinical F1 more than noise?"""
    if not pairs:
        return []
    rows = [
        [
            escape(p["model_a"]),
            escape(p["model_b"]),
            escape(p["metric"]),
            str(p["studies"]),
            f"{p['mean_difference']:+.4f}",
            f"{p['ci_low']:+.4f} to {p['ci_high']:+.4f}",
        ]
        for p in pairs
    ]
    return [
        "<h2>Paired comparison</h2>",
        '<p class="note">Mean of A minus B over the studies both scored, with a 95% paired '
        "bootstrap interval (1,000 resamples of studies, seed 0). An interval that holds 0 is "
        "within noise.</p>",
        '<ul class="verdicts">',
        *(f"<li>{escape(p['verdict'])}</li>" for p in pairs),
        "</ul>",
        _table(["A", "B", "Metric", "Studies", "A - B", "95% CI"], rows, "paired", phone="inline"),
    ]


def _comparison_section(models: Sequence[ModelView]) -> list[str]:
    """Every pair of models, report by report: wins, ties and the mean difference per metric."""
    pairs = comparison_rows(models)
    if not pairs:
        return []
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
    return [
        "<h2>Model against model, report by report</h2>",
        '<p class="note">A is the first model of each pair in the order fine-tuned, '
        "candidate, pre-trained (then by name), as in the model comparison named query; "
        "a positive mean A&minus;B means A scored higher.</p>",
        _table([*head, "Mean F1 A&minus;B"], rows, "compare", phone="inline"),
    ]


def _lost_sections(lost: Sequence[dict[str, Any]]) -> list[str]:
    """For each compared pair, the reports where A lost to B, largest losses first."""
    sections = []
    for item in lost:
        a, b = escape(item["a"]), escape(item["b"])
        sections.append(f"<h2>Where {a} lost to {b}</h2>")
        sections.append(
            f'<p class="note">{item["count"]} of {item["compared"]} reports: lower clinical F1, '
            "or the same clinical F1 and lower ROUGE-L F1. The largest losses first"
            f"{' (first ' + str(len(item['rows'])) + ')' if item['rows'] else ''}.</p>"
        )
        for row_a, row_b in item["rows"]:
            facts = [
                (f"Clinical F1 {a}", _fmt(row_a.get("clinical_f1"))),
                (f"Clinical F1 {b}", _fmt(row_b.get("clinical_f1"))),
                (f"ROUGE-L F1 {a}", _fmt(row_a.get("rougel_f1"))),
                (f"ROUGE-L F1 {b}", _fmt(row_b.get("rougel_f1"))),
                (f"Missed by {a}", _observations(row_a.get("clinical_missed"))),
                (f"Invented by {a}", _observations(row_a.get("clinical_invented"))),
            ]
            texts = [
                ("Findings", row_a["findings"]),
                ("Reference", row_a["reference"]),
                (f"Generated by {a}", row_a["generated"]),
                (f"Generated by {b}", row_b["generated"]),
            ]
            sections.append(_case(f"Study {escape(row_a['study_id'])}", facts, texts))
    return sections


def _plots_section(models: Sequence[ModelView]) -> list[str]:
    """One box plot per metric, a box per model."""
    return [
        "<h2>F1 by model</h2>",
        '<p class="note">Box: 25%&ndash;75%, line: median, diamond: mean, whiskers: '
        "furthest point within 1.5&times;IQR, dots: beyond.</p>",
        '<div class="plots">',
        *(
            box_plot_svg(METRIC_TITLES[c], [(m.label, m.values(c)) for m in models])
            for c in COLUMNS
        ),
        "</div>",
    ]


def _worst_section(run: dict[str, Any], models: Sequence[ModelView]) -> list[str]:
    """Each model's worst reports, in the order ``run["worst_order"]`` names."""
    order = escape(str(run.get("worst_order", "lowest ROUGE-L F1 first, then study id")))
    sections = ["<h2>Worst reports</h2>", f'<p class="note">Order: {order}.</p>']
    for m in models:
        worst = m.worst()
        sections.append(f"<h3>{escape(m.label)}</h3>")
        if not worst:
            sections.append('<p class="note">No scored reports.</p>')
            continue
        for rank, r in enumerate(worst, start=1):
            texts = [
                ("Findings", r["findings"]),
                ("Reference", r["reference"]),
                ("Generated", r["generated"]),
            ]
            title = f"{rank}. Study {escape(r['study_id'])}"
            sections.append(_case(title, _scores(r), texts))
    return sections


def _rejected_section(run: dict[str, Any]) -> list[str]:
    """The ingest rejections by reason, or their count when no reasons were kept."""
    reasons = run.get("rejected_reasons") or {}
    if reasons:
        rows = [[escape(reason), str(count)] for reason, count in reasons.items()]
        return ["<h2>Rejected records</h2>", _table(["Reason", "Records"], rows, "rejected")]
    return [
        "<h2>Rejected records</h2>",
        f'<p class="note">{run.get("rejected", 0)} record(s) rejected at ingest.</p>',
    ]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else str(value)


def _run_facts(run: dict[str, Any], models: Sequence[ModelView]) -> str:
    """The page header's facts (``<dt>``/``<dd>`` pairs): run, dataset, models, counts, times."""
    facts = [
        ("Run", escape(str(run["run_id"]))),
        ("Dataset", escape(str(run["dataset"]))),
        ("Models", escape(", ".join(m.label for m in models))),
        ("Source", escape(str(run.get("source_key", "")))),
        ("Records accepted", str(run.get("records", ""))),
        ("Records rejected", str(run.get("rejected", ""))),
        ("Started", escape(_when(run.get("started_at", "")))),
        ("Published", escape(_when(run.get("published_at", "")))),
    ]
    return "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)


_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
padding:16px;max-width:1280px;color:#222}
h1{font-size:22px;margin:0 0 8px;overflow-wrap:anywhere}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;overflow-wrap:anywhere}
h3{font-size:15px;margin:16px 0 6px;overflow-wrap:anywhere}
h4{font-size:14px;margin:0 0 6px;overflow-wrap:anywhere}
h5{font-size:12px;margin:0 0 2px;color:#555;text-transform:uppercase;letter-spacing:.03em}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 16px;margin:0}
dl.facts dt{color:#666}dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{max-width:100%;overflow-x:auto;margin:4px 0 12px}
table{border-collapse:collapse}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top;white-space:nowrap}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
table.models td,table.models th,table.rejected td:first-child{text-align:left}
table.rejected td:first-child{white-space:normal;min-width:16em}
table.compare td:nth-child(-n+3),table.compare th:nth-child(-n+3){text-align:left}
.ci{color:#666;font-size:12px}
.case{border:1px solid #ddd;border-radius:4px;padding:8px 10px;margin:0 0 10px}
dl.case-facts{display:flex;flex-wrap:wrap;gap:2px 18px;margin:0 0 8px}
dl.case-facts div{display:flex;gap:6px;min-width:0}
dl.case-facts dt{color:#666}dl.case-facts dd{margin:0;overflow-wrap:anywhere}
.texts{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:8px 14px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.banner{background:#fff4e5;border:1px solid #e0a040;padding:8px 10px;border-radius:4px;
overflow-wrap:anywhere}
.none{color:#999;font-style:italic}.note{color:#666;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px;max-width:1100px}
@media (max-width:960px){.plots{grid-template-columns:minmax(0,1fr)}.plots svg.box{max-width:640px}}
.dists{display:flex;flex-wrap:wrap;gap:0 24px}.dist{min-width:0;max-width:100%}
svg.box{width:100%;height:auto;background:#fff}
svg .title{font-size:15px;font-weight:600}svg .tick{font-size:13px;fill:#444}
svg .grid{stroke:#e6e6e6}svg .whisker{stroke:#333}
svg .iqr{stroke:#333;fill-opacity:.85}svg .median{stroke:#111;stroke-width:2}
svg .mean{fill:#fff;stroke:#111}svg .outlier{fill:none;stroke:#555}
.obs-models{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));
gap:8px 24px}.obs-model{min-width:0}
table.matrix{margin:4px 0 10px}table.matrix caption{text-align:left;font-size:12px;color:#666}
table.matrix th,table.matrix td{white-space:normal}
table.observations{width:100%;font-size:13px}
table.observations th[scope=row]{text-align:left;font-weight:normal;white-space:normal;
overflow-wrap:anywhere}
table.observations th,table.observations td{padding:3px 5px}
table.observations tr.na td{color:#999}
abbr{text-decoration:none}
@media (max-width:600px){
table.stack,table.stack tbody,table.stack tr{display:block}table.stack thead{display:none}
table.stack tr{border:1px solid #ddd;border-radius:4px;margin:0 0 8px;padding:4px 8px}
table.stack td{display:flow-root;border:0;padding:2px 0;white-space:normal;text-align:right;
overflow-wrap:anywhere}
table.stack td::before{content:attr(data-label);float:left;margin-right:12px;color:#666;
text-align:left}
table.stack td:first-child{text-align:left;font-weight:600}
table.stack td:first-child::before{content:none}
table.stack.inline td{display:inline-block;margin:0 14px 0 0;text-align:left;font-weight:normal}
table.stack.inline td::before,table.stack.inline td:first-child::before{content:attr(data-label);
float:none;margin-right:5px}
table.rejected td:first-child{min-width:0;font-weight:normal}
table.compact{font-size:12px}table.compact th,table.compact td{padding:2px 3px}
table.compact th{white-space:normal}}
@media (max-width:480px){body{padding:10px}
svg .title{font-size:16px}svg .tick{font-size:15px}
table.observations{font-size:12px}table.observations th,table.observations td{padding:2px 3px}}
@media (max-width:380px){table.observations th,table.observations td{padding:2px 1px}}
"""
STYLE = _CSS + BROWSE_CSS


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


# Nothing loads from anywhere; the one style sheet and the one script run because their hashes
# are listed (data blocks, <script type="application/json">, are never run, so need no entry).
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{_sha256(STYLE)}'; script-src '{SCRIPT_HASH}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
