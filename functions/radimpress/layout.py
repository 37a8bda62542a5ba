"""Where everything lives in the bucket: the one place that spells a key.

- ``incoming/<train|infer>/<dataset>/<file>``: what a hospital system uploads; the prefix picks the
  route.
- ``runs/<run_id>/...``: one run's working files (:class:`RunKeys`).
- ``models/<training job>/output/model.tar.gz``: each fine-tune's archive, written there by the
  training job itself (``runs/`` expires; an 11 GB archive is never copied by a Lambda); which
  one serves is the Model Registry's business (``radimpress.registry``), not a key here.
- ``results/...``: the Athena tables' Parquet partitions and the reports.

Only ``run_date`` is a results partition key. Athena partition projection can only project
``dataset`` and ``model`` as ``injected`` (every query must then filter them with ``=``, so "all
models on all data sets" is impossible) or ``enum`` (the values must be known when the stack is
deployed, so a new model would stay invisible). A ``date`` projection on ``run_date`` needs neither;
dataset and model are ordinary columns, and the tables stay small (a few thousand rows a run), so
the queries scan little. Files sit directly in the partition folder (no sub-folders), one per run
in each table, and a re-published run overwrites its own objects instead of adding duplicates::

    results/scores/run_date=2026-11-24/<run_id>.parquet   every model's rows, one object
    results/runs/run_date=2026-11-24/<run_id>.parquet     written last: the run is complete
    results/reports/<run_id>/report.html                   outside the table folders
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from radimpress.errors import InputFileError
from radimpress.json_records import printable

# SageMaker writes a training job's archive to <S3OutputPath>/<job name>/output/model.tar.gz.
FINE_TUNED_OUTPUT_PREFIX = "models/"
CLAIMS_PREFIX = "claims/"

# Model keys: the folder a model's transform and scores live under within a run.
PRETRAINED = "pre-trained"
FINE_TUNED = "fine-tuned"

RUN_DATE_FORMAT = "%Y-%m-%d"  # Athena projection.run_date.format = yyyy-MM-dd
PROJECTION_START = "2024-01-01"

_INCOMING = re.compile(
    r"^incoming/(?P<route>train|infer)/(?P<dataset>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/.+"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_incoming_key(key: str) -> tuple[str, str]:
    """``incoming/<train|infer>/<dataset>/<file>`` -> (route, dataset)."""
    match = _INCOMING.match(key)
    if not match:
        raise InputFileError(
            f"{printable(key)}: expected incoming/train/<dataset>/<file> or "
            "incoming/infer/<dataset>/<file> "
            "(dataset: letters, digits, '_', '-', '.')"
        )
    return match["route"], match["dataset"]


@dataclass(frozen=True)
class RunKeys:
    """Where one run's working files live (docs/contracts.md, "Data in the bucket")."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}"

    @property
    def records(self) -> str:
        return f"{self.prefix}/ingest/records.jsonl"

    @property
    def rejected(self) -> str:
        return f"{self.prefix}/ingest/rejected.jsonl"

    @property
    def holdout(self) -> str:
        """The promotion gate's held-out studies (records.jsonl's form), never trained on."""
        return f"{self.prefix}/ingest/holdout.jsonl"

    @property
    def train_data_prefix(self) -> str:
        return f"{self.prefix}/train/data/"

    def transform_input(self, model_key: str) -> str:
        return f"{self.prefix}/transform/{model_key}/input.jsonl"

    def transform_output_prefix(self, model_key: str) -> str:
        return f"{self.prefix}/transform/{model_key}/output"

    def scores(self, model_key: str) -> str:
        return f"{self.prefix}/scores/{model_key}.jsonl"

    @property
    def failure(self) -> str:
        return f"{self.prefix}/failure.json"


def claim_key(bucket: str, key: str, version_id: str) -> str:
    """``claims/<sha256>.json``: the run claim of one object version (one run per version).

    Hashed, so any key (up to 1,024 bytes, any characters) gives a short, safe claim key.
    """
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version_id}".encode()).hexdigest()
    return f"{CLAIMS_PREFIX}{digest}.json"


def notice_key(run_id: str) -> str:
    """``claims/notices/<run id>.json``: the lease on run ``run_id``'s one failure notice
    (claims.take_notice), next to the claims: the same functions read and write both."""
    return f"{CLAIMS_PREFIX}notices/{quote(run_id, safe='')}.json"


def fine_tuned_archive_key(job_name: str) -> str:
    """Where a fine-tune's archive lands (SageMaker's layout under ``FINE_TUNED_OUTPUT_PREFIX``)."""
    return f"{FINE_TUNED_OUTPUT_PREFIX}{job_name}/output/model.tar.gz"


def model_key_of(score_key: str) -> str:
    """``runs/<run_id>/scores/<model_key>.jsonl`` -> ``<model_key>``."""
    name = score_key.rsplit("/", 1)[-1]
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else name


# ---- results/ --------------------------------------------------------------------------------


def safe_name(value: str) -> str:
    """A file-name-safe form of a run id or model key (S3 keys and local paths alike)."""
    cleaned = _UNSAFE.sub("_", value).strip("._")
    if not cleaned:
        raise ValueError(f"cannot make a file name from {value!r}")
    return cleaned


def parse_timestamp(value: object, name: str = "run.started_at") -> datetime:
    """An ISO-8601 timestamp as an aware datetime (``Z`` accepted; no offset means UTC)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} is not an ISO-8601 timestamp: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_date(started_at: str | datetime) -> str:
    """The UTC date of a timestamp (ISO-8601 text or datetime), as the ``run_date`` value."""
    moment = started_at if isinstance(started_at, datetime) else parse_timestamp(started_at)
    return moment.astimezone(UTC).strftime(RUN_DATE_FORMAT)


def scores_prefix(results_prefix: str) -> str:
    return f"{results_prefix.rstrip('/')}/scores/"


def runs_prefix(results_prefix: str) -> str:
    return f"{results_prefix.rstrip('/')}/runs/"


def scores_key(results_prefix: str, date: str, run_id: str) -> str:
    """One object per run holds every model's rows: S3 shows an object whole or not at all, so the
    scores table never holds part of a run (schema version 2; version 1 wrote one per model)."""
    return f"{scores_prefix(results_prefix)}run_date={date}/{safe_name(run_id)}.parquet"


def summary_key(results_prefix: str, date: str, run_id: str) -> str:
    return f"{runs_prefix(results_prefix)}run_date={date}/{safe_name(run_id)}.parquet"


def report_key(results_prefix: str, run_id: str) -> str:
    return f"{results_prefix.rstrip('/')}/reports/{safe_name(run_id)}/report.html"
