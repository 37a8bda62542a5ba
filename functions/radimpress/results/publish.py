"""publish_run: turn a run's score rows into the Athena tables and the HTML report.

Order matters because S3 makes each object visible only when it is whole, but a run is several
objects: per-model score files first, then report.html, then the run-summary file last. The summary
is the commit marker: the named queries join scores to run summaries, so a run whose publishing
died half-way is never counted. Keys are deterministic, so publishing a run again overwrites it.
Nothing returned or raised here contains report text, only ids, keys, counts and means.
"""

from __future__ import annotations

import bisect
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radimpress import layout
from radimpress.results.schema import METRICS, PARTS, RUN_COLUMNS, SCHEMA_VERSION, SCORE_COLUMNS
from radimpress.storage import json_objects

WORST_PER_MODEL = 5
WORST_METRIC = "rougel_f1"  # reports are ranked worst-first by ROUGE-L F1
TEXT_FIELDS = ("study_id", "model", "findings", "generated")


class ScoreRowError(ValueError):
    """A score row that does not follow the contract; names the object, line, id and field."""


@dataclass
class ModelResults:
    """What one model's rows leave for the summary and the report: numbers and a few worst rows."""

    label: str
    key: str
    reports: int = 0
    f1: dict[str, list[float]] = field(default_factory=lambda: {col: [] for _, col in METRICS})
    studies: list[str] = field(default_factory=list)  # study ids of the scored rows, in f1 order
    _worst: list[tuple[float, str, int, dict[str, Any]]] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return len(self.f1[METRICS[0][1]])

    def means(self) -> dict[str, float | None]:
        return {col: (math.fsum(v) / len(v) if v else None) for col, v in self.f1.items()}

    def add(self, row: dict[str, Any]) -> None:
        self.reports += 1
        if row[WORST_METRIC] is None:
            return
        self.studies.append(row["study_id"])
        for _, col in METRICS:
            self.f1[col].append(row[f"{col}_f1"])
        # The WORST_PER_MODEL lowest (score, study_id) so far, kept sorted: the order of the
        # WorstReportsQuery named query, whatever order the rows arrive in.
        entry = (row[WORST_METRIC], row["study_id"], self.reports, row)
        if len(self._worst) < WORST_PER_MODEL or entry[:3] < self._worst[-1][:3]:
            bisect.insort(self._worst, entry, key=lambda e: e[:3])
            del self._worst[WORST_PER_MODEL:]

    def worst(self) -> list[dict[str, Any]]:
        """The lowest-scoring rows by ROUGE-L F1, worst first (ties: by study id)."""
        return [row for *_, row in self._worst]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScoreRowError(f"{where}: expected a finite number")
    return float(value)


def flatten_row(
    raw: dict[str, Any], *, source: str, line: int, run_id: str, dataset: str
) -> dict[str, Any]:
    """One contract score row -> one flat table row (``rouge1_precision`` ... ``rougelsum_f1``)."""
    if not isinstance(raw, dict):
        raise ScoreRowError(f"{source}: line {line}: expected a JSON object")
    ident = raw.get("study_id")
    where = f"{source}: line {line}" + (f" (study_id={ident})" if isinstance(ident, str) else "")
    for name in TEXT_FIELDS:
        if not isinstance(raw.get(name), str):
            raise ScoreRowError(f"{where}: field '{name}': expected a string")
    if raw.get("reference") is not None and not isinstance(raw["reference"], str):
        raise ScoreRowError(f"{where}: field 'reference': expected a string or null")
    for name, expected in (("run_id", run_id), ("dataset", dataset)):
        if raw.get(name) != expected:
            raise ScoreRowError(f"{where}: field '{name}': does not match the run being published")
    row: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "dataset": dataset,
        "model": raw["model"],
        "study_id": raw["study_id"],
        "findings": raw["findings"],
        "reference": raw.get("reference"),
        "generated": raw["generated"],
    }
    present = [raw.get(metric) is not None for metric, _ in METRICS]
    if any(present) and not all(present):
        missing = [metric for (metric, _), here in zip(METRICS, present, strict=True) if not here]
        raise ScoreRowError(f"{where}: field '{missing[0]}': null while other metrics are scored")
    for metric, col in METRICS:
        score = raw.get(metric)
        if score is not None and not isinstance(score, dict):
            raise ScoreRowError(f"{where}: field '{metric}': expected an object or null")
        for part, suffix in PARTS:
            row[f"{col}_{suffix}"] = (
                None
                if score is None
                else _number(score.get(part), f"{where}: field '{metric}.{part}'")
            )
    return row


def _read_rows(
    s3: Any, bucket: str, key: str, run_id: str, dataset: str
) -> Iterator[dict[str, Any]]:
    """Stream one score-row JSONL object, one flat row at a time."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    source = f"s3://{bucket}/{key}"
    try:
        for line, obj in json_objects(body.iter_lines(), source, ScoreRowError):
            yield flatten_row(obj, source=source, line=line, run_id=run_id, dataset=dataset)
    finally:
        body.close()


def _upload(s3: Any, bucket: str, key: str, fileobj: Any, content_type: str) -> None:
    """One object, visible only once complete (single PUT or completed multipart upload)."""
    fileobj.seek(0)
    s3.upload_fileobj(fileobj, bucket, key, ExtraArgs={"ContentType": content_type})


def _write_model_scores(
    s3: Any, bucket: str, source_key: str, target_key: str, run_id: str, dataset: str
) -> ModelResults:
    from radimpress.results.parquet import write_parquet

    results = ModelResults(label=layout.model_key_of(source_key), key=target_key)
    labels: set[str] = set()

    def rows() -> Iterator[dict[str, Any]]:
        for row in _read_rows(s3, bucket, source_key, run_id, dataset):
            labels.add(row["model"])
            if len(labels) > 1:
                raise ScoreRowError(
                    f"s3://{bucket}/{source_key}: line {results.reports + 1}: field 'model': "
                    "one score file must hold one model"
                )
            results.label = row["model"]
            results.add(row)
            yield row

    with tempfile.TemporaryFile() as tmp:
        write_parquet(rows(), SCORE_COLUMNS, tmp)
        _upload(s3, bucket, target_key, tmp, "application/vnd.apache.parquet")
    return results


def publish_run(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    score_keys: list[str],
    run: dict[str, Any],
    results_prefix: str = "results",
) -> dict[str, Any]:
    """Write the run's score Parquet files, report.html and run summary; return locations and means.

    ``run`` carries ``source_key``, ``records``, ``rejected``, ``started_at`` (ISO) and
    ``execution`` (the Step Functions execution name). See docs/contracts.md.
    """
    from radimpress.results.parquet import write_parquet
    from radimpress.results.report import render_report

    for name in ("source_key", "records", "rejected", "started_at", "execution"):
        if name not in run:
            raise ValueError(f"run: missing field '{name}'")
    started_at = layout.parse_timestamp(run["started_at"])
    date = layout.run_date(started_at)
    model_keys = [layout.model_key_of(k) for k in score_keys]
    if len(set(map(layout.safe_name, model_keys))) != len(model_keys):
        raise ValueError("score_keys: two score files map to the same model key")

    models = [
        _write_model_scores(
            s3,
            bucket,
            key,
            layout.scores_key(results_prefix, date, run_id, mkey),
            run_id,
            dataset,
        )
        for key, mkey in zip(score_keys, model_keys, strict=True)
    ]
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ValueError("score_keys: two score files carry the same model label")
    published_at = datetime.now(UTC)

    run_info = {
        "run_id": run_id,
        "dataset": dataset,
        "execution": str(run["execution"]),
        "source_key": str(run["source_key"]),
        "records": int(run["records"]),
        "rejected": int(run["rejected"]),
        "started_at": started_at,
        "published_at": published_at,
    }
    report_key = layout.report_key(results_prefix, run_id)
    html = render_report(run_info, models)
    with tempfile.TemporaryFile() as tmp:
        tmp.write(html.encode("utf-8"))
        _upload(s3, bucket, report_key, tmp, "text/html; charset=utf-8")

    summary_rows = [
        {
            "schema_version": SCHEMA_VERSION,
            **{k: run_info[k] for k in ("run_id", "dataset", "execution", "source_key")},
            "model": m.label,
            "started_at": started_at,
            "published_at": published_at,
            "records": run_info["records"],
            "rejected": run_info["rejected"],
            "reports": m.reports,
            "scored": m.scored,
            **{f"{col}_f1": mean for col, mean in m.means().items()},
        }
        for m in models
    ]
    summary_key = layout.summary_key(results_prefix, date, run_id)
    with tempfile.TemporaryFile() as tmp:
        write_parquet(summary_rows, RUN_COLUMNS, tmp)
        _upload(s3, bucket, summary_key, tmp, "application/vnd.apache.parquet")

    return {
        "scores_location": f"s3://{bucket}/{layout.scores_prefix(results_prefix)}",
        "summary_key": summary_key,
        "report_key": report_key,
        "run_date": date,
        "models": {m.label: {metric: m.means()[col] for metric, col in METRICS} for m in models},
    }
