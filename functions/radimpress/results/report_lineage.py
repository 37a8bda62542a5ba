"""The report's "Lineage" section: what went into the run, so a reader can trace its numbers.

The uploaded file (key, version, size, SHA-256, record counts), the code version, the settings
(model spec, instance types, epochs, generation parameters), start, end and duration, each
SageMaker job's instances, times and seconds with its estimated cost, and the same for each
training run whose model the run used (its training file and hyperparameters). Plain HTML in the
report's own classes (facts lists, a job table that stacks into cards on a phone), every value
escaped; a run published without lineage gets no section.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from radimpress.results.report_tables import table

DASH = "&ndash;"


def _text(value: Any) -> str:
    return DASH if value is None or value == "" else escape(str(value))


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return DASH
    return f"{value:,.1f} s" if value < 120 else f"{value:,.0f} s ({value / 3600:.2f} h)"


def _usd(value: Any) -> str:
    return f"${value:,.2f}" if isinstance(value, int | float) else DASH


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The report's "stack" table (a card per row below 600 px), classed for this section."""
    return table(head, rows, "lineage-jobs")


def _input(source: dict[str, Any]) -> list[tuple[str, str]]:
    records = source.get("records")
    rejected = source.get("rejected")
    counted = (
        f"{records:,} accepted, {rejected:,} rejected"
        if isinstance(records, int) and isinstance(rejected, int)
        else _text(records)
    )
    size = source.get("bytes")
    return [
        ("Input file", _text(source.get("file"))),
        ("Object version", _text(source.get("version_id"))),
        ("Size", f"{size:,} bytes" if isinstance(size, int) else DASH),
        ("SHA-256", f"<code>{_text(source.get('sha256'))}</code>"),
        ("Records", counted),
    ]


def _settings(settings: dict[str, Any]) -> list[tuple[str, str]]:
    generation = settings.get("generation") or {}
    return [
        ("Model spec", _text(settings.get("model_spec"))),
        ("Training instance", _text(settings.get("training_instance_type"))),
        ("Transform instance", _text(settings.get("transform_instance_type"))),
        ("Epochs", _text(settings.get("epochs"))),
        (
            "Generation",
            ", ".join(f"{escape(str(k))}={escape(str(v))}" for k, v in generation.items()) or DASH,
        ),
    ]


def _cost(lineage: dict[str, Any]) -> str:
    cost = lineage.get("cost")
    if lineage.get("runtime") == "local" or cost is None:
        return "none: local jobs bill nothing"
    unpriced = cost.get("unpriced_jobs") or []
    shown = _usd(cost.get("usd"))
    if unpriced:
        shown += f" (no price for {escape(', '.join(unpriced))})"
    return (
        f"{shown}, estimated from on-demand prices as of {_text(cost.get('prices_as_of'))}"
        f" ({_text(cost.get('region'))}; {_text(cost.get('source'))})"
    )


def _per_thousand(job: dict[str, Any], reports: int) -> str:
    """A Batch Transform job's cost per 1,000 reports summarized (the figure the Bedrock table
    gives for hosted models, so the three models compare on one basis); none for training."""
    cost = job.get("cost_usd")
    if job.get("kind") != "transform" or not isinstance(cost, int | float) or reports <= 0:
        return DASH
    return _usd_fine(cost / reports * 1000)


def _jobs(jobs: Sequence[dict[str, Any]], reports: int = 0) -> str:
    if not jobs:
        return '<p class="note">No SageMaker job recorded.</p>'
    rows = [
        [
            _text(job.get("kind")),
            _text(job.get("name")),
            f"{_text(job.get('instance_type'))} &times; {_text(job.get('instance_count'))}",
            _text(job.get("started_at")),
            _text(job.get("ended_at")),
            _seconds(job.get("seconds")),
            _seconds(job.get("billed_seconds")),
            _usd(job.get("cost_usd")),
            _per_thousand(job, reports),
        ]
        for job in jobs
    ]
    head = ["Job", "Name", "Instances", "Started", "Ended", "Duration", "Billed", "Cost"]
    return _table([*head, "Cost per 1,000 reports"], rows)


def _usd_fine(value: Any) -> str:
    """Token-priced amounts are often below a cent: four decimals."""
    return f"${value:,.4f}" if isinstance(value, int | float) else DASH


def _hosted_costs(jobs: Sequence[dict[str, Any]], local: bool) -> str:
    """Each Bedrock model's tokens and cost, per run and per 1,000 reports, with the price
    table's date (a local run's token counts are the double's stand-in's: an estimate of what
    the named model would bill for these prompts, not a bill)."""
    rows = []
    for job in jobs:
        cost = job.get("bedrock")
        if job.get("kind") != "bedrock" or not isinstance(cost, dict):
            continue
        rows.append(
            [
                _text(cost.get("model_id")),
                _text(cost.get("mode")),
                _text(cost.get("reports")),
                _text(cost.get("input_tokens")),
                _text(cost.get("output_tokens")),
                _usd_fine(cost.get("usd")),
                _usd_fine(cost.get("usd_per_1000_reports")),
                _text(cost.get("prices_as_of")),
            ]
        )
    if not rows:
        return ""
    head = ["Hosted model", "Mode", "Reports", "Input tokens", "Output tokens", "Cost"]
    head += ["Cost per 1,000 reports", "Prices as of"]
    note = (
        '<p class="note">Token counts of the local Bedrock double\'s stand-in (whitespace '
        "words): what these prompts would cost at the model's price, not a bill.</p>"
        if local
        else ""
    )
    return _table(head, rows) + note


def _hyperparameters(jobs: Sequence[dict[str, Any]]) -> str:
    out = []
    for job in jobs:
        values = job.get("hyperparameters")
        if not values:
            continue
        items = "".join(
            f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in sorted(values.items())
        )
        out.append(
            f"<details><summary>Hyperparameters of {_text(job.get('name'))} "
            f'({len(values)})</summary><dl class="facts">{items}</dl></details>'
        )
    return "".join(out)


def _run(lineage: dict[str, Any]) -> list[str]:
    facts = [
        ("Code version", f"<code>{_text(lineage.get('code_version'))}</code>"),
        ("Runtime", "local (embedded stack)" if lineage.get("runtime") == "local" else "AWS"),
        ("Started", _text(lineage.get("started_at"))),
        ("Ended", _text(lineage.get("ended_at"))),
        ("Duration", _seconds(lineage.get("seconds"))),
        *_input(lineage.get("input") or {}),
        *_settings(lineage.get("settings") or {}),
        ("Cost", _cost(lineage)),
    ]
    if lineage.get("reused_from"):  # a model reused from another run folder (run --model-from)
        facts.insert(0, ("Model reused from", _text(lineage["reused_from"])))
    jobs = lineage.get("jobs") or []
    local = lineage.get("runtime") == "local"
    reports = int((lineage.get("input") or {}).get("records") or 0)
    return [
        _facts(facts),
        _jobs(jobs, reports),
        _hosted_costs(jobs, local),
        _hyperparameters(jobs),
    ]


def render_lineage_section(lineage: dict[str, Any] | None) -> list[str]:
    """The section's HTML pieces (none without lineage): this run, then each training run
    whose model it used, found by the ``training_run_id`` its rows carry."""
    if not lineage:
        return []
    out = ['<section class="lineage" id="lineage">', "<h2>Lineage</h2>", *_run(lineage)]
    for training in lineage.get("training_runs") or []:
        run_id = _text(training.get("run_id"))
        out.append(f"<h3>Training run {run_id}</h3>")
        if training.get("missing"):
            out.append(
                '<p class="note">Its lineage was not found (published before lineage existed, '
                "or not readable here).</p>"
            )
            continue
        out.extend(_run(training))
    return [*out, "</section>"]
