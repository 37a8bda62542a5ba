"""publish_run: turn a run's score rows into the Athena tables and the HTML report.

Nothing partial is visible, and nothing is left behind, even when the Lambda is killed (a
timeout or out of memory ends the process: no ``except``, no ``finally``). Glue and Athena have no
transactions, but S3 shows each object whole or not at all, so a run is published as a few
objects (report, scores, texts, per-observation table, lineage, summary), all computed before the
first one is written (``build_run``):

1. ``stage_run`` writes them under ``results/staging/<run_id>/`` (a manifest first, naming the run
   and its claim): no Glue table, named query, QuickSight data set or report listing reads there;
2. the run's claim records ``committing`` with the staged and final keys (steps/publish.py);
3. ``commit_staged`` copies them to their final keys: ``report.html`` (outside the table folders),
   the run's ONE scores object (the scores table holds all of this run's rows or none of them),
   its ONE texts object (the same rows' findings, reference and generated text: S3 and IAM grant
   objects, not columns, so the text lives apart from the scores QuickSight may read), and the
   run summary last: the commit marker. Every named query and the QuickSight data set read
   scores only of runs that have a summary (join on ``runs``);
4. the claim records ``committed``; the staging folder is deleted.

A kill during 1 leaves only staging (removed by the run's RecordFailure, or by the next Publish's
``sweep``); during 3, a claim that lists every key the run may have written: a retried Publish
copies again (same keys), RecordFailure takes them back (``withdraw_run``, summary first) and
releases the upload. ``publish_run`` writes straight to the final keys (local result folders).

Nothing returned or raised here contains report text, only ids, keys, counts and means.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import json
import math
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from radimpress import layout
from radimpress.clinical.labeler import label_text
from radimpress.clinical.per_observation import PerObservation, labelled_positives
from radimpress.errors import aws_call
from radimpress.results.lineage import (
    attach_training_runs,
    lineage_json,
    lineage_key,
    lineage_record_key,
    lineage_rows,
)
from radimpress.results.schema import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    F1_COLUMNS,
    LINEAGE_COLUMNS,
    LIST_SEPARATOR,
    METRICS,
    MODEL_COLUMNS,
    OBSERVATION_COLUMNS,
    PARTS,
    ROLES,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    SCORE_COLUMNS,
    TEXT_COLUMNS,
)
from radimpress.storage import (
    body_lines,
    encryption_arguments,
    json_lines,
    json_object,
    json_objects,
)

WORST_PER_MODEL = 5
LOST_PER_PAIR = 10
WORST_ORDER = "lowest clinical F1 first, then lowest ROUGE-L F1, then study id"
TEXT_FIELDS = ("study_id", "model", "findings", "generated")
MAX_REASON = 160  # rejection reasons are grouped by their text, cut to this length


@functools.lru_cache(maxsize=16384)
def _positives(text: str | None) -> frozenset[str] | None:
    """A text's positive observations (None when blank), labelled once per distinct text: the
    same reference comes back for every model, and normal impressions repeat."""
    return labelled_positives(label_text(text))


def observations_key(results_prefix: str, date: str, run_id: str) -> str:
    """``results/observations/run_date=<date>/<run_id>.parquet`` (Glue table ``observations``)."""
    folder = f"{results_prefix.rstrip('/')}/observations/run_date={date}/"
    return f"{folder}{layout.safe_name(run_id)}.parquet"


def texts_key(results_prefix: str, date: str, run_id: str) -> str:
    """``results/texts/run_date=<date>/<run_id>.parquet`` (Glue table ``texts``): the report
    text of the run's scores rows, in a folder of its own so that reading scores never means
    reading text (schema version 3)."""
    folder = f"{results_prefix.rstrip('/')}/texts/run_date={date}/"
    return f"{folder}{layout.safe_name(run_id)}.parquet"


class ScoreRowError(ValueError):
    """A score row that does not follow the contract; names the object, line, id and field."""


def worst_key(row: dict[str, Any]) -> tuple[bool, float, float, str]:
    """Worst-first order of scored rows: clinical disagreement, then ROUGE-L, then study id.

    The WorstReportsQuery named query sorts the same way (rows without clinical scores last).
    """
    clinical = row.get("clinical_f1")
    return (clinical is None, clinical or 0.0, row["rougel_f1"], row["study_id"])


def identity_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's model columns; absent ones empty ("", or null for the package version)."""
    return {name: row.get(name, None if kind == "int" else "") for name, kind in MODEL_COLUMNS}


def _model_column(value: Any, kind: str, where: str) -> Any:
    """One model column of a score row: a string ("" when absent), or for the package version a
    positive integer (null when absent: 0 and "" mean none, as ModelRef writes them)."""
    if kind == "int":
        if value in (None, "", 0):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ScoreRowError(f"{where}: expected a positive integer or null")
        return value
    value = value or ""
    if not isinstance(value, str):
        raise ScoreRowError(f"{where}: expected a string")
    return value


def model_order(role: str, name: str, label: str) -> tuple[int, str, str]:
    """The A/B order of every comparison (schema.ROLES): fine-tuned, candidate, pre-trained."""
    rank = ROLES.index(role) if role in ROLES else len(ROLES)
    return (rank, name, label)


def _column() -> array[float]:
    return array("d")


@dataclass
class ModelResults:
    """What one model's rows leave for the summary and the report: numbers and a few worst rows.

    Numbers are kept in ``array("d")`` columns, 8 bytes a value: a million studies held as lists
    of floats cost about 40 bytes a value (each float a JSON-decoded object of its own), and this
    is what a large run's Publish holds at its peak.
    """

    label: str
    key: str
    identity: dict[str, Any] = field(default_factory=dict)
    reports: int = 0
    # F1 of the scored rows per column (rouge1 ... rougelsum), in ``studies`` order.
    f1: dict[str, array[float]] = field(default_factory=lambda: {c: _column() for _, c in METRICS})
    # The scored rows' study ids, which pair this model's rows with another's: kept only when
    # the run has other models (``keep_studies``), as a million ids cost about 64 MB.
    studies: list[str] = field(default_factory=list)
    # Where each of those rows is in its score file (its n-th JSON line, from 0), kept with
    # ``studies``: the report re-reads the few rows it shows by position, parsing only those.
    positions: array[int] = field(default_factory=lambda: array("I"))
    keep_studies: bool = True
    scored: int = 0
    # Clinical F1 of the same scored rows; NaN where a row has none (no reference, or a row
    # written before schema 2): finite values only are ever stored (flatten_row checks).
    clinical: array[float] = field(default_factory=_column)
    clinical_precision: array[float] = field(default_factory=_column)
    clinical_recall: array[float] = field(default_factory=_column)
    missed_reports: int = 0
    # Micro counts per CheXpert observation over the scored rows (radimpress.clinical).
    per_observation: PerObservation = field(default_factory=PerObservation)
    _worst: list[tuple[tuple[bool, float, float, str], int, dict[str, Any]]] = field(
        default_factory=list
    )

    @property
    def role(self) -> str:
        return self.identity.get("model_role", "")

    @property
    def name(self) -> str:
        return self.identity.get("model_name", "")

    def order(self) -> tuple[int, str, str]:
        return model_order(self.role, self.name, self.label)

    def values(self, col: str) -> Sequence[float]:
        """The scored rows' values of one F1 column (``clinical`` included, without gaps)."""
        if col in ("clinical", "clinical_f1"):
            return array("d", (v for v in self.clinical if not math.isnan(v)))
        return self.f1[col.removesuffix("_f1")]

    def means(self) -> dict[str, float | None]:
        return {col: (math.fsum(v) / len(v) if v else None) for col, v in self.f1.items()}

    def clinical_means(self) -> dict[str, float | None]:
        count = len(self.clinical_precision)
        if not count:
            return dict.fromkeys(("clinical_precision", "clinical_recall", "clinical_f1"))
        return {
            "clinical_precision": math.fsum(self.clinical_precision) / count,
            "clinical_recall": math.fsum(self.clinical_recall) / count,
            "clinical_f1": math.fsum(self.values("clinical")) / count,
        }

    def interval_columns(self) -> dict[str, Sequence[float]]:
        """The columns whose means get a bootstrap interval (:func:`run_intervals`)."""
        columns: dict[str, Sequence[float]] = {}
        if self.scored:
            columns.update({f"{col}_f1": self.f1[col] for _, col in METRICS})
        clinical = self.values("clinical")
        if clinical:
            columns["clinical_f1"] = clinical
        return columns

    def add(self, row: dict[str, Any]) -> None:
        if not self.reports:
            self.identity = identity_columns(row)
        self.reports += 1
        if row["rougel_f1"] is None:
            return
        self.scored += 1
        if self.keep_studies:
            self.studies.append(row["study_id"])
            self.positions.append(self.reports - 1)
        for _, col in METRICS:
            self.f1[col].append(row[f"{col}_f1"])
        clinical = row.get("clinical_f1")
        self.clinical.append(math.nan if clinical is None else clinical)
        if clinical is not None:
            self.clinical_precision.append(row["clinical_precision"])
            self.clinical_recall.append(row["clinical_recall"])
            self.missed_reports += bool(row.get("clinical_missed_count"))
            self.per_observation.add(
                _positives(row.get("reference")), _positives(row.get("generated"))
            )
        # The WORST_PER_MODEL first rows by worst_key so far, kept sorted: the order of the
        # WorstReportsQuery named query, whatever order the rows arrive in.
        entry = (worst_key(row), self.reports, row)
        if len(self._worst) < WORST_PER_MODEL or entry[:2] < self._worst[-1][:2]:
            bisect.insort(self._worst, entry, key=lambda e: e[:2])
            del self._worst[WORST_PER_MODEL:]

    def worst(self) -> list[dict[str, Any]]:
        """The worst rows by :func:`worst_key`, worst first."""
        return [row for *_, row in self._worst]


Intervals = dict[str, tuple[float, float] | None]  # per F1 column: (low, high), or none


def run_intervals(models: Sequence[ModelResults]) -> dict[str, Intervals]:
    """Per model label, the seeded percentile-bootstrap 95% interval of each F1 column's mean.

    One :func:`radimpress.scoring.bootstrap.mean_intervals` call for every model's columns: by its
    seed rule each column gets the interval it would get alone, and the columns of equally many
    studies (every model of a run, as a rule) share one set of draws, the costly part."""
    from radimpress.scoring.bootstrap import mean_intervals

    columns = {
        f"{position}/{name}": values
        for position, m in enumerate(models)
        for name, values in m.interval_columns().items()
    }
    found = (
        mean_intervals(columns, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
        if columns
        else {}
    )
    out: dict[str, Intervals] = {}
    for position, m in enumerate(models):
        out[m.label] = {col: found.get(f"{position}/{col}") for col in F1_COLUMNS}
    return out


def _number(value: Any, where: str, name: str) -> float:
    """A finite number of field ``name``; the message is built only for a bad value (a million
    rows make 18 million calls, so nothing is formatted on the way)."""
    if type(value) is float and value - value == 0.0:  # finite: inf - inf and nan are nan
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScoreRowError(f"{where}: field '{name}': expected a finite number")
    return float(value)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScoreRowError(f"{where}: expected a list of observation names")
    return value


def _clinical(raw: dict[str, Any], where: str) -> dict[str, Any]:
    agreement = raw.get("clinical")
    if agreement is None:
        return {name: None for name, _ in _CLINICAL_FIELDS}
    if not isinstance(agreement, dict):
        raise ScoreRowError(f"{where}: field 'clinical': expected an object or null")
    missed = _names(agreement.get("missed"), f"{where}: field 'clinical.missed'")
    invented = _names(agreement.get("invented"), f"{where}: field 'clinical.invented'")
    return {
        **{
            column: _number(agreement.get(part), where, name)
            for part, column, name in _CLINICAL_PARTS
        },
        "clinical_missed": LIST_SEPARATOR.join(missed),
        "clinical_invented": LIST_SEPARATOR.join(invented),
        "clinical_missed_count": len(missed),
        "clinical_invented_count": len(invented),
    }


_CLINICAL_FIELDS = tuple(c for c in SCORE_COLUMNS if c[0].startswith("clinical_"))
# (part, table column, field name in messages) per number, spelled once instead of per row.
_CLINICAL_PARTS = tuple(
    (part, f"clinical_{part}", f"clinical.{part}") for part in ("precision", "recall", "f1")
)
_METRIC_PARTS = tuple(
    (metric, tuple((part, f"{col}_{suffix}", f"{metric}.{part}") for part, suffix in PARTS))
    for metric, col in METRICS
)


def _add_rouge(raw: dict[str, Any], where: str, row: dict[str, Any]) -> None:
    """The ROUGE columns of one score row: all four metrics scored, or all four null."""
    present = [raw.get(metric) is not None for metric, _ in METRICS]
    if any(present) and not all(present):
        missing = [metric for (metric, _), here in zip(METRICS, present, strict=True) if not here]
        raise ScoreRowError(f"{where}: field '{missing[0]}': null while other metrics are scored")
    for metric, parts in _METRIC_PARTS:
        score = raw.get(metric)
        if score is None:
            row.update(dict.fromkeys(column for _, column, _ in parts))
            continue
        if not isinstance(score, dict):
            raise ScoreRowError(f"{where}: field '{metric}': expected an object or null")
        for part, column, name in parts:
            row[column] = _number(score.get(part), where, name)


def flatten_row(
    raw: dict[str, Any], *, source: str, line: int, run_id: str, dataset: str
) -> dict[str, Any]:
    """One contract score row -> one flat table row (``rouge1_precision`` ... ``clinical_f1``)."""
    if not isinstance(raw, dict):
        raise ScoreRowError(f"{source}: line {line}: expected a JSON object")
    ident = raw.get("study_id")
    where = f"{source}: line {line}" + (f" (study_id={ident})" if isinstance(ident, str) else "")
    for name in TEXT_FIELDS:
        if not isinstance(raw.get(name), str):
            raise ScoreRowError(f"{where}: field '{name}': expected a string")
    if raw.get("reference") is not None and not isinstance(raw["reference"], str):
        raise ScoreRowError(f"{where}: field 'reference': expected a string or null")
    for name in ("run_id", "dataset"):
        if raw.get(name) != {"run_id": run_id, "dataset": dataset}[name]:
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
    _add_rouge(raw, where, row)
    for name, kind in MODEL_COLUMNS:
        row[name] = _model_column(raw.get(name), kind, f"{where}: field '{name}'")
    row.update(_clinical(raw, where))
    return row


@contextlib.contextmanager
def _score_lines(s3: Any, bucket: str, key: str) -> Iterator[Iterator[tuple[int, str | bytes]]]:
    """One score file's non-blank lines as (line number, line), unparsed; closed after."""
    with aws_call(f"s3://{bucket}/{key}: read"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield json_lines(body_lines(body))
    finally:
        body.close()


def _read_rows(
    s3: Any, bucket: str, key: str, run_id: str, dataset: str
) -> Iterator[dict[str, Any]]:
    """Stream one score-row JSONL object, one flat row at a time."""
    source = f"s3://{bucket}/{key}"
    with _score_lines(s3, bucket, key) as lines:
        for line, raw in lines:
            obj = json_object(raw, source, line, ScoreRowError)
            yield flatten_row(obj, source=source, line=line, run_id=run_id, dataset=dataset)


def _upload(s3: Any, bucket: str, key: str, fileobj: Any, content_type: str) -> None:
    """One object, visible only once complete (single PUT or completed multipart upload)."""
    fileobj.seek(0)
    with aws_call(f"s3://{bucket}/{key}: write"):
        s3.upload_fileobj(
            fileobj,
            bucket,
            key,
            ExtraArgs={"ContentType": content_type, **encryption_arguments()},
        )


def _model_rows(
    s3: Any, bucket: str, source_key: str, run_id: str, dataset: str, results: ModelResults
) -> Iterator[dict[str, Any]]:
    """One model's flat rows, filling ``results`` as they pass (one model per file)."""
    first = True
    for row in _read_rows(s3, bucket, source_key, run_id, dataset):
        if first:
            results.label = row["model"]
            first = False
        elif row["model"] != results.label:
            raise ScoreRowError(
                f"s3://{bucket}/{source_key}: line {results.reports + 1}: field 'model': "
                "one score file must hold one model"
            )
        results.add(row)
        yield row


def lost_pairs(models: list[ModelResults]) -> list[tuple[ModelResults, ModelResults]]:
    """(fine-tuned, pre-trained) pairs of the run, in the report's A/B order."""
    tuned = [m for m in models if m.role == "fine-tuned"]
    base = [m for m in models if m.role == "pre-trained"]
    return [(a, b) for a in sorted(tuned, key=ModelResults.order) for b in base]


@dataclass(frozen=True)
class LostReport:
    """A study where ``a`` did worse than ``b``, with its row's position in each score file."""

    study_id: str
    position_a: int
    position_b: int


def lost_reports(a: ModelResults, b: ModelResults) -> tuple[int, list[LostReport]]:
    """Reports where ``a`` did worse than ``b``: lower clinical F1, or equal and lower ROUGE-L.

    Returns the count and the worst LOST_PER_PAIR (largest clinical, then ROUGE-L drop, then
    study id).
    """
    theirs = {
        s: (c, r, p)
        for s, c, r, p in zip(b.studies, b.clinical, b.f1["rougel"], b.positions, strict=True)
    }
    lost = []
    for study, clinical, rouge, position in zip(
        a.studies, a.clinical, a.f1["rougel"], a.positions, strict=True
    ):
        if study not in theirs:
            continue
        other_clinical, other_rouge, other_position = theirs[study]
        mine = (-1.0 if math.isnan(clinical) else clinical, rouge)
        other = (-1.0 if math.isnan(other_clinical) else other_clinical, other_rouge)
        if mine < other:
            lost.append((mine[0] - other[0], mine[1] - other[1], study, position, other_position))
    lost.sort()
    return len(lost), [LostReport(*entry[2:]) for entry in lost[:LOST_PER_PAIR]]


def rows_at(
    s3: Any, bucket: str, key: str, run_id: str, dataset: str, positions: Mapping[int, str]
) -> dict[int, dict[str, Any]]:
    """The flat rows at ``positions`` (n-th JSON line, from 0, to the study id expected there)
    of one score file: a second read that parses only those lines (parsing all of them cost
    about 2 s at 50,000 rows)."""
    found: dict[int, dict[str, Any]] = {}
    if not positions:
        return found
    source = f"s3://{bucket}/{key}"
    with _score_lines(s3, bucket, key) as lines:
        for position, (line, raw) in enumerate(lines):
            if position in positions:
                obj = json_object(raw, source, line, ScoreRowError)
                row = flatten_row(obj, source=source, line=line, run_id=run_id, dataset=dataset)
                if row["study_id"] != positions[position]:
                    raise ScoreRowError(f"{source}: line {line}: changed while being published")
                found[position] = row
                if len(found) == len(positions):
                    break
    return found


def rejected_reasons(s3: Any, bucket: str, run_id: str) -> dict[str, int]:
    """Rejected records by reason (the reasons name fields and positions, never report text)."""
    key = layout.RunKeys(run_id).rejected
    try:
        with aws_call(f"s3://{bucket}/{key}: read"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return {}
        raise
    counts: Counter[str] = Counter()
    try:
        for _, obj in json_objects(body_lines(body), f"s3://{bucket}/{key}", ScoreRowError):
            field_name = obj.get("field")
            reason = str(obj.get("reason", "unknown"))[:MAX_REASON]
            counts[f"field '{field_name}': {reason}" if field_name else reason] += 1
    finally:
        body.close()
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _remove(s3: Any, bucket: str, keys: list[str]) -> None:
    """Best effort: take back what a failed publish wrote (its own error is what matters)."""
    for key in keys:
        with contextlib.suppress(Exception):
            s3.delete_object(Bucket=bucket, Key=key)


@dataclass
class BuiltRun:
    """A run's results computed into local files, nothing written yet.

    ``objects``: (final key, local file, content type) in the order they are made visible:
    report.html, the scores and texts objects, the per-observation table (and lineage), then the
    run summary (the commit marker) last.
    ``answer``: what :func:`publish_run` returns (keys and means, no text).
    ``names``: each object's name in the staging folder (:data:`STAGED_NAMES`).
    ``paired``: the report's paired comparisons (``report.paired_rows``), which
    :func:`publish_run` returns too, so a local run prints them without a bootstrap of its own.
    """

    objects: list[tuple[str, Any, str]]
    answer: dict[str, Any]
    names: tuple[str, ...] = ()
    paired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.objects]


def observation_rows(run_info: dict[str, Any], models: list[ModelResults]) -> list[dict[str, Any]]:
    """The ``observations`` table's rows: per model, the 14 observations in CheXpert order."""
    return [
        {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_info["run_id"],
            "dataset": run_info["dataset"],
            "model": m.label,
            **identity_columns(m.identity),
            "observation": counts.observation,
            "observation_order": order,
            "studies": m.per_observation.studies,
            "unlabelled": m.per_observation.unlabelled,
            **{
                name: getattr(counts, name)
                for name, _ in OBSERVATION_COLUMNS[
                    OBSERVATION_COLUMNS.index(("true_positive", "bigint")) :
                ]
            },
        }
        for m in models
        for order, counts in enumerate(m.per_observation.rows())
    ]


@dataclass
class ScoresRead:
    """Every model's score rows read once: the scores and texts Parquet files written, each
    model's numbers (:class:`ModelResults`, in A/B order) and what the report computes from the
    rows alone: intervals, the studies each fine-tuned model lost, the paired comparisons.

    Nothing here needs the run's other facts (its lineage, its rejections), so a local run reads
    its rows while its own pipeline is still publishing, and builds the run once that ends
    (``build_run(scores=...)``).
    """

    run_id: str
    dataset: str
    score_keys: list[str]
    models: list[ModelResults]
    browse: Any
    scores_file: Any
    texts_file: Any
    intervals: dict[str, Intervals]
    lost: list[dict[str, Any]]
    paired: list[dict[str, Any]]


@contextlib.contextmanager
def read_scores(
    s3: Any, bucket: str, *, run_id: str, dataset: str, score_keys: list[str]
) -> Iterator[ScoresRead]:
    """Read every model's score rows (one score file per model) into a :class:`ScoresRead`;
    its temporary files are removed when the block ends."""
    from radimpress.results.parquet import write_parquet_tables
    from radimpress.results.report import paired_rows
    from radimpress.results.report_browse import BrowseTable

    model_keys = [layout.model_key_of(k) for k in score_keys]
    if len(set(map(layout.safe_name, model_keys))) != len(model_keys):
        raise ValueError("score_keys: two score files map to the same model key")
    pairs = len(model_keys) > 1  # one model's study ids pair with nothing
    models = [ModelResults(label=mkey, key=mkey, keep_studies=pairs) for mkey in model_keys]
    with contextlib.ExitStack() as files:
        scores_file = files.enter_context(tempfile.TemporaryFile())
        texts_file = files.enter_context(tempfile.TemporaryFile())

        def every_row() -> Iterator[dict[str, Any]]:
            for key, results in zip(score_keys, models, strict=True):
                yield from _model_rows(s3, bucket, key, run_id, dataset, results)

        browse = BrowseTable()  # the report's "Browse every study" rows, kept on the way
        write_parquet_tables(
            browse.watch(every_row()),
            [(SCORE_COLUMNS, scores_file), (TEXT_COLUMNS, texts_file)],
        )
        labels = [m.label for m in models]
        if len(set(labels)) != len(labels):
            raise ValueError("score_keys: two score files carry the same model label")
        models.sort(key=ModelResults.order)
        yield ScoresRead(
            run_id=run_id,
            dataset=dataset,
            score_keys=list(score_keys),
            models=models,
            browse=browse,
            scores_file=scores_file,
            texts_file=texts_file,
            intervals=run_intervals(models),
            lost=_lost(
                s3, bucket, models, dict(zip(labels, score_keys, strict=True)), run_id, dataset
            ),
            paired=paired_rows(models),
        )


def _lost(
    s3: Any,
    bucket: str,
    models: list[ModelResults],
    key_of: Mapping[str, str],
    run_id: str,
    dataset: str,
) -> list[dict[str, Any]]:
    """The report's "where the fine-tuned model lost" cards: per (fine-tuned, pre-trained) pair,
    the count and the LOST_PER_PAIR studies with both rows, re-read by position."""
    lost = []
    for a, b in lost_pairs(models):
        count, reports = lost_reports(a, b)
        wanted_a = {r.position_a: r.study_id for r in reports}
        wanted_b = {r.position_b: r.study_id for r in reports}
        rows_a = rows_at(s3, bucket, key_of[a.label], run_id, dataset, wanted_a)
        rows_b = rows_at(s3, bucket, key_of[b.label], run_id, dataset, wanted_b)
        lost.append(
            {
                "a": a.label,
                "b": b.label,
                "count": count,
                "compared": len(set(a.studies) & set(b.studies)),
                "rows": [(rows_a[r.position_a], rows_b[r.position_b]) for r in reports],
            }
        )
    return lost


@contextlib.contextmanager
def build_run(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    score_keys: list[str],
    run: dict[str, Any],
    results_prefix: str = "results",
    scores: ScoresRead | None = None,
) -> Iterator[BuiltRun]:
    """Read every model's score rows (or take ``scores``, read by :func:`read_scores` for the
    same run) and compute the scores object, the summary and the report into temporary files
    (removed when the block ends); nothing is written to S3 here."""
    from radimpress.results.parquet import write_parquet
    from radimpress.results.report import render_report

    for name in ("source_key", "records", "rejected", "started_at", "execution"):
        if name not in run:
            raise ValueError(f"run: missing field '{name}'")
    started_at = layout.parse_timestamp(run["started_at"])
    date = layout.run_date(started_at)
    if scores is not None and (scores.run_id, scores.dataset, scores.score_keys) != (
        run_id,
        dataset,
        list(score_keys),
    ):
        raise ValueError("scores: read for another run, dataset or set of score files")
    scores_key = layout.scores_key(results_prefix, date, run_id)
    summary_key = layout.summary_key(results_prefix, date, run_id)
    report_key = layout.report_key(results_prefix, run_id)
    per_observation_key = observations_key(results_prefix, date, run_id)
    run_texts_key = texts_key(results_prefix, date, run_id)

    with contextlib.ExitStack() as files:
        if scores is None:
            scores = files.enter_context(
                read_scores(s3, bucket, run_id=run_id, dataset=dataset, score_keys=score_keys)
            )
        models = scores.models
        scores_file, texts_file = scores.scores_file, scores.texts_file
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
            "rejected_reasons": rejected_reasons(s3, bucket, run_id) if run["rejected"] else {},
            "worst_order": WORST_ORDER,
        }
        promotion = run.get("promotion") or {}
        run_info["promotion"] = promotion
        lineage = run.get("lineage")
        if lineage is not None:  # with the training runs behind its fine-tuned models
            run_info["lineage"] = attach_training_runs(
                s3,
                bucket,
                lineage,
                [m.identity.get("training_run_id", "") for m in models],
                results_prefix,
            )
        intervals, paired = scores.intervals, scores.paired
        html = render_report(
            run_info,
            models,
            intervals=intervals,
            lost=scores.lost,
            browse=scores.browse,
            paired=paired,
        )
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
                **identity_columns(m.identity),
                **m.clinical_means(),
                "missed_reports": m.missed_reports,
                **{
                    f"{col}_ci_{end}": (ci[i] if ci else None)
                    for col, ci in intervals[m.label].items()
                    for i, end in enumerate(("low", "high"))
                },
                "promotion_status": promotion.get("status"),
                "promotion_reason": promotion.get("reason"),
            }
            for m in models
        ]
        report_file = files.enter_context(tempfile.TemporaryFile())
        report_file.write(html.encode("utf-8"))
        observations_file = files.enter_context(tempfile.TemporaryFile())
        write_parquet(observation_rows(run_info, models), OBSERVATION_COLUMNS, observations_file)
        objects = [
            (report_key, report_file, "text/html; charset=utf-8"),
            (scores_key, scores_file, PARQUET),
            (run_texts_key, texts_file, PARQUET),
            (per_observation_key, observations_file, PARQUET),
        ]
        names = list(STAGED_NAMES[:-1])
        if "lineage" in run_info:
            lineage_file = files.enter_context(tempfile.TemporaryFile())
            write_parquet(lineage_rows(run_info["lineage"]), LINEAGE_COLUMNS, lineage_file)
            record_file = files.enter_context(tempfile.TemporaryFile())
            record_file.write(lineage_json(run_info["lineage"]))
            objects += [
                (lineage_key(results_prefix, date, run_id), lineage_file, PARQUET),
                (lineage_record_key(results_prefix, run_id), record_file, "application/json"),
            ]
            names += [LINEAGE_PARQUET, LINEAGE_RECORD]
        summary_file = files.enter_context(tempfile.TemporaryFile())
        write_parquet(summary_rows, RUN_COLUMNS, summary_file)
        yield BuiltRun(
            objects=[*objects, (summary_key, summary_file, PARQUET)],
            names=(*names, STAGED_NAMES[-1]),
            paired=paired,
            answer={
                "scores_location": f"s3://{bucket}/{layout.scores_prefix(results_prefix)}",
                "scores_key": scores_key,
                "texts_key": run_texts_key,
                "summary_key": summary_key,
                "report_key": report_key,
                "run_date": date,
                "models": {
                    m.label: {
                        **{metric: m.means()[col] for metric, col in METRICS},
                        "clinical": m.clinical_means()["clinical_f1"],
                    }
                    for m in models
                },
            },
        )


def publish_run(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    score_keys: list[str],
    run: dict[str, Any],
    results_prefix: str = "results",
    scores: ScoresRead | None = None,
) -> dict[str, Any]:
    """Write the run's scores object, report.html and run summary; return locations, means and
    the report's paired comparisons (``paired_comparisons``). ``scores``: the run's rows already
    read (:func:`read_scores`), else they are read here.

    ``run`` carries ``source_key``, ``records``, ``rejected``, ``started_at`` (ISO) and
    ``execution`` (the Step Functions execution name). See docs/contracts.md.

    The objects go straight to their final keys, summary last; an error takes back what was
    written. A process killed half-way cannot take anything back: the Publish Lambda uses
    :func:`stage_run` and :func:`commit_staged` instead, whose every step can be found and
    finished or undone by the next one. This direct path is for local result folders.
    """
    with build_run(
        s3,
        bucket,
        run_id=run_id,
        dataset=dataset,
        score_keys=score_keys,
        run=run,
        results_prefix=results_prefix,
        scores=scores,
    ) as built:
        written: list[str] = []
        try:
            for key, fileobj, content_type in built.objects:
                written.append(key)
                _upload(s3, bucket, key, fileobj, content_type)
        except BaseException:
            _remove(s3, bucket, written[::-1])  # the summary (commit marker) goes first
            raise
        return {**built.answer, "paired_comparisons": built.paired}


# ---- staged publishing: what a killed Publish leaves can always be found --------------------

STAGING_FOLDER = "staging"
MANIFEST = "manifest.json"
# Staged object names, in build_run's object (commit) order, the summary last; a run with
# lineage stages its two lineage objects before the summary.
STAGED_NAMES = (
    "report.html",
    "scores.parquet",
    "texts.parquet",
    "observations.parquet",
    "summary.parquet",
)
LINEAGE_PARQUET, LINEAGE_RECORD = "lineage.parquet", "lineage.json"
PARQUET = "application/vnd.apache.parquet"


def staging_prefix(results_prefix: str = "results") -> str:
    """``results/staging/``: outside every table's location (``results/scores/``,
    ``results/texts/``, ``results/runs/``, ...) and the reports (``results/reports/``), so no
    named query, Glue table, QuickSight data set or report listing reads it."""
    return f"{results_prefix.rstrip('/')}/{STAGING_FOLDER}/"


def staging_keys(run_id: str, results_prefix: str = "results") -> dict[str, str]:
    """Where one run stages its objects: ``results/staging/<run_id>/<name>``."""
    folder = f"{staging_prefix(results_prefix)}{layout.safe_name(run_id)}/"
    names = (MANIFEST, *STAGED_NAMES, LINEAGE_PARQUET, LINEAGE_RECORD)
    return {name: folder + name for name in names}


@dataclass(frozen=True)
class StagedRun:
    """A run staged for its commit: the (staging key, final key) pairs in commit order (report,
    scores, summary last) and what :func:`publish_run` would answer. Plain JSON (``as_dict``), so
    the run's claim can carry it and any later attempt can finish or undo the commit."""

    pairs: tuple[tuple[str, str], ...]
    answer: dict[str, Any]
    started_at: str
    manifest: str = ""  # the staging folder's manifest (deleted last)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": [list(p) for p in self.pairs],
            "answer": self.answer,
            "started_at": self.started_at,
            "manifest": self.manifest,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> StagedRun:
        pairs = tuple((str(a), str(b)) for a, b in value.get("pairs", []))
        return cls(
            pairs,
            dict(value.get("answer") or {}),
            str(value.get("started_at", "")),
            str(value.get("manifest", "")),
        )

    @property
    def final_keys(self) -> list[str]:
        return [final for _, final in self.pairs]


def _put_json(s3: Any, bucket: str, key: str, value: dict[str, Any]) -> None:
    with aws_call(f"s3://{bucket}/{key}: write"):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(value, indent=1, sort_keys=True).encode("utf-8"),
            ContentType="application/json",
            **encryption_arguments(),
        )


def stage_run(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    score_keys: list[str],
    run: dict[str, Any],
    claim_key: str = "",
    results_prefix: str = "results",
) -> StagedRun:
    """Compute the run's objects and write them under ``results/staging/<run_id>/``.

    The manifest goes first (run id, claim, when), so a process killed at any later point leaves
    a folder the next Publish's sweep (``steps.publish.sweep``) can judge; a retry writes the
    same keys again.
    """
    staging = staging_keys(run_id, results_prefix)
    with build_run(
        s3,
        bucket,
        run_id=run_id,
        dataset=dataset,
        score_keys=score_keys,
        run=run,
        results_prefix=results_prefix,
    ) as built:
        _put_json(
            s3,
            bucket,
            staging[MANIFEST],
            {
                "run_id": run_id,
                "claim_key": claim_key,
                "staged_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "final": built.keys,
            },
        )
        pairs = []
        for (final, fileobj, content_type), name in zip(built.objects, built.names, strict=True):
            _upload(s3, bucket, staging[name], fileobj, content_type)
            pairs.append((staging[name], final))
        return StagedRun(tuple(pairs), built.answer, str(run["started_at"]), staging[MANIFEST])


def commit_staged(s3: Any, bucket: str, staged: StagedRun) -> None:
    """Copy each staged object to its final key (server side), the run summary last.

    Every copy is whole or absent, and copying again is harmless, so a retry after a kill just
    runs this again. Until the summary lands no named query or data set shows the run.
    """
    for staging, final in staged.pairs:
        with aws_call(f"s3://{bucket}/{final}: copy from {staging}"):
            s3.copy_object(
                Bucket=bucket,
                Key=final,
                CopySource={"Bucket": bucket, "Key": staging},
                MetadataDirective="COPY",
                **encryption_arguments(),
            )


def _delete(s3: Any, bucket: str, keys: list[str]) -> list[str]:
    for key in keys:
        with aws_call(f"s3://{bucket}/{key}: delete"):
            s3.delete_object(Bucket=bucket, Key=key)
    return keys


def discard_staging(
    s3: Any, bucket: str, run_id: str, results_prefix: str = "results"
) -> list[str]:
    """Delete a run's staging folder, the manifest last (deleting what is not there is fine)."""
    staging = staging_keys(run_id, results_prefix)
    return _delete(
        s3, bucket, [k for n, k in staging.items() if n != MANIFEST] + [staging[MANIFEST]]
    )


def withdraw_run(
    s3: Any, bucket: str, *, run_id: str, started_at: str, results_prefix: str = "results"
) -> list[str]:
    """Remove a run's published objects, summary (the commit marker) first; returns the keys.

    Publish's sweep calls it for a run whose Publish died during its commit (the claim says
    ``committing``) and whose RecordFailure never ran; RecordFailure itself deletes the same keys
    from the list in the claim (steps/record_failure.py, so its Lambda loads nothing of the
    results layer). Afterwards not even the raw scores table or the report listing holds the run.
    Deleting a key that does not exist is not an error, so this is safe to repeat.
    """
    date = layout.run_date(started_at)
    return _delete(
        s3,
        bucket,
        [
            layout.summary_key(results_prefix, date, run_id),
            lineage_record_key(results_prefix, run_id),
            lineage_key(results_prefix, date, run_id),
            observations_key(results_prefix, date, run_id),
            texts_key(results_prefix, date, run_id),
            layout.scores_key(results_prefix, date, run_id),
            layout.report_key(results_prefix, run_id),
        ],
    )


@dataclass(frozen=True)
class StagingFolder:
    """One run's folder under ``results/staging/`` as a sweep sees it."""

    run_folder: str  # the run id as a file name (``layout.safe_name``)
    manifest: dict[str, Any] | None  # None: missing or unreadable
    newest: datetime  # the last time anything in the folder was written


def staging_folders(s3: Any, bucket: str, results_prefix: str = "results") -> list[StagingFolder]:
    """Every run folder under ``results/staging/`` with its manifest and age."""
    prefix = staging_prefix(results_prefix)
    newest: dict[str, datetime] = {}
    for obj in _listed(s3, bucket, prefix):
        folder = obj["Key"][len(prefix) :].split("/", 1)[0]
        when = obj["LastModified"]
        newest[folder] = max(newest.get(folder, when), when)
    folders = []
    for folder, when in sorted(newest.items()):
        key = f"{prefix}{folder}/{MANIFEST}"
        manifest: dict[str, Any] | None
        try:
            with aws_call(f"s3://{bucket}/{key}: read"):
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ClientError, ValueError):
            manifest = None
        folders.append(
            StagingFolder(folder, manifest if isinstance(manifest, dict) else None, when)
        )
    return folders


def remove_staging_folder(
    s3: Any, bucket: str, run_folder: str, results_prefix: str = "results"
) -> list[str]:
    """Delete everything under ``results/staging/<run_folder>/``, the manifest last."""
    keys = [
        obj["Key"] for obj in _listed(s3, bucket, f"{staging_prefix(results_prefix)}{run_folder}/")
    ]
    keys.sort(key=lambda k: k.endswith(f"/{MANIFEST}"))
    return _delete(s3, bucket, keys)


def _listed(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under ``prefix`` (key, LastModified, ...), all pages."""
    with aws_call(f"s3://{bucket}/{prefix}: list"):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]
