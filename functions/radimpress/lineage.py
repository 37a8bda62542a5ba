"""Run lineage: what went into a run, so its numbers can be traced and reproduced.

For every run: the uploaded file (key, version, size, SHA-256 of the bytes Ingest read, record
counts), the settings (model spec, instance types, epochs, generation parameters; the training
job's hyperparameters as SageMaker recorded them), the code version, when the run started and
ended, each SageMaker job's start, end and duration (DescribeTrainingJob / DescribeTransformJob),
and, for cloud runs, a cost estimate from :mod:`radimpress.pricing`.

Who collects what: Ingest hashes the object as it streams it (:class:`HashingReader`), JobStatus
takes each finished job's usage from the Describe* answer it already has (:func:`job_usage`), and
Publish puts them together (:func:`run_lineage`) into the ``lineage`` table, a JSON record per
run and the report. The cloud never shells out to git: the code version is baked into the built
Lambda folders by ``make build`` (``BUILD_VERSION``, from ``git describe --always --dirty``) and
falls back to the package version. Ids, keys, counts, times and settings only: never report text.
"""

from __future__ import annotations

import hashlib
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from radimpress import __version__
from radimpress.pricing import PRICES_AS_OF, PRICES_SOURCE, job_cost

BUILD_VERSION_FILE = Path(__file__).with_name("BUILD_VERSION")
HASH_CHUNK = 1 << 20


class HashingReader:
    """A binary stream that hashes (SHA-256) and counts every byte read through it.

    Ingest reads the uploaded object through it once, so the hash costs no second read of a
    1 GB file. :meth:`drain` reads what the parser left (anything after a JSON array's closing
    bracket), so the digest is always of the whole object.
    """

    def __init__(self, raw: IO[bytes] | Any) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._sha.update(data)
        self.bytes += len(data)
        return data

    def drain(self) -> None:
        while self.read(HASH_CHUNK):
            pass

    def close(self) -> None:
        self._raw.close()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def file_sha256(path: str | Path) -> tuple[str, int]:
    """(SHA-256 hex digest, size in bytes) of a local file, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _iso(value: Any) -> str | None:
    """A Describe* timestamp (boto3 gives timezone-aware datetimes) as UTC ISO-8601."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="seconds")
    return str(value) if value else None


def _seconds(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return max(0.0, (end - start).total_seconds())
    return None


def job_usage(kind: str, described: dict[str, Any]) -> dict[str, Any]:
    """What one finished job used, from its DescribeTrainingJob / DescribeTransformJob answer.

    ``seconds`` runs from TrainingStartTime to TrainingEndTime (TransformStartTime to
    TransformEndTime); ``billed_seconds`` is what an estimate charges per instance: a training
    job's BillableTimeInSeconds when SageMaker gives it (botocore's sagemaker service model; it is
    lower than the training time with managed spot), else ``seconds``. A job still running has
    no end and ``None`` for both.
    """
    if kind == "training":
        resources = described.get("ResourceConfig") or {}
        start, end = described.get("TrainingStartTime"), described.get("TrainingEndTime")
        billable = described.get("BillableTimeInSeconds")
        name = described.get("TrainingJobName", "")
    else:
        resources = described.get("TransformResources") or {}
        start, end = described.get("TransformStartTime"), described.get("TransformEndTime")
        billable = None
        name = described.get("TransformJobName", "")
    seconds = _seconds(start, end)
    usage: dict[str, Any] = {
        "kind": kind,
        "name": str(name),
        "instance_type": str(resources.get("InstanceType", "")),
        "instance_count": int(resources.get("InstanceCount", 1) or 1),
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "seconds": seconds,
        "billable_seconds": None if billable is None else float(billable),
        "billed_seconds": float(billable) if billable is not None else seconds,
    }
    if kind == "training":
        usage["hyperparameters"] = {
            str(k): str(v) for k, v in (described.get("HyperParameters") or {}).items()
        }
    else:
        usage["model_name"] = str(described.get("ModelName", ""))
    return usage


def code_version() -> str:
    """The version of the code that runs: ``make build`` bakes ``git describe --always
    --dirty`` into each built Lambda folder (``BUILD_VERSION``); without it (a folder built
    another way, a test) the package's version. The Lambda never runs git."""
    try:
        baked = BUILD_VERSION_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        baked = ""
    return baked or f"radimpress {__version__} (package version; no build version baked in)"


def _spec_identity() -> tuple[str, str, str]:
    """(spec name, model id, model version) of the spec the functions run with; the stack's
    parameters when the spec cannot be read (lineage never fails a run)."""
    from radimpress.errors import SpecError
    from radimpress.spec import SPEC_ENV, load_spec

    name = os.environ.get(SPEC_ENV, "")
    try:
        spec = load_spec()
    except (SpecError, OSError, ValueError):
        model_id = os.environ.get("RADIMPRESS_MODEL_ID", "")
        version = os.environ.get("RADIMPRESS_MODEL_VERSION", "")
    else:
        model_id, version = spec.model_id, spec.model_version
    return (Path(name).stem if name.endswith(".json") else name), model_id, version


def settings_lineage(settings: Any) -> dict[str, Any]:
    """The run settings that shape the numbers (``radimpress.settings.Settings`` and the model
    spec the functions load): instance types, epochs, generation parameters."""
    spec, model_id, version = _spec_identity()
    return {
        "model_spec": spec,
        "model_id": model_id,
        "model_version": version,
        "training_instance_type": settings.training_instance_type,
        "transform_instance_type": settings.transform_instance_type,
        "epochs": settings.epochs,
        "generation": {"max_length": settings.max_length, "num_beams": settings.num_beams},
        "region": settings.region,
    }


def priced(jobs: list[dict[str, Any]], region: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each job with its ``cost_usd`` (None when unpriced or unfinished), and the run's cost:
    the sum of the priced jobs, the unpriced ones named, the table's date and source."""
    out, total, unpriced = [], 0.0, []
    for job in jobs:
        if job.get("kind") == "bedrock":  # billed per token: Score priced it (bedrock.costs)
            usd = (job.get("bedrock") or {}).get("usd")
        else:
            usd = job_cost(
                job.get("instance_type", ""),
                int(job.get("instance_count") or 1),
                job.get("billed_seconds"),
                region,
            )
        out.append({**job, "cost_usd": None if usd is None else round(usd, 4)})
        if usd is None:
            unpriced.append(str(job.get("name", "")))
        else:
            total += usd
    cost = {
        "usd": round(total, 4) if len(unpriced) < len(jobs) else None,
        "unpriced_jobs": unpriced,
        "region": region,
        "prices_as_of": PRICES_AS_OF,
        "source": PRICES_SOURCE,
        "basis": "instance-seconds x on-demand price per instance-hour; training jobs billed "
        "for BillableTimeInSeconds when SageMaker reports it; Bedrock jobs: their tokens x the "
        "model's price per 1,000 tokens (radimpress.bedrock.costs, dated in each job)",
    }
    return out, cost


def run_lineage(
    *,
    run_id: str,
    route: str,
    dataset: str,
    ingest: dict[str, Any],
    jobs: list[dict[str, Any]],
    settings: dict[str, Any],
    started_at: str,
    ended_at: datetime | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """One run's lineage as plain JSON. ``ingest`` is the Ingest result (source_key,
    version_id, input_sha256, input_bytes, records, rejected), ``jobs`` the :func:`job_usage` of
    each job, ``settings`` :func:`settings_lineage`."""
    ended = ended_at or datetime.now(UTC)
    started = _parse(started_at)
    jobs, cost = priced(jobs, str(settings.get("region", "")))
    return {
        "run_id": run_id,
        "route": route,
        "dataset": dataset,
        "runtime": "aws",
        "code_version": version or code_version(),
        "started_at": _iso(started) if started else started_at,
        "ended_at": _iso(ended),
        "seconds": _seconds(started, ended),
        "input": {
            "purpose": route,
            "file": str(ingest.get("source_key", "")),
            "version_id": str(ingest.get("version_id", "") or ""),
            "bytes": ingest.get("input_bytes"),
            "sha256": str(ingest.get("input_sha256", "") or ""),
            "records": int(ingest.get("records", 0) or 0),
            "rejected": int(ingest.get("rejected", 0) or 0),
        },
        "settings": settings,
        "jobs": jobs,
        "cost": cost,
        "training_runs": [],
    }


def as_local(lineage: dict[str, Any], version: str) -> dict[str, Any]:
    """An embedded (local) run's lineage: the workstation's code version (the embedded Lambdas
    run the working tree in-process), and no cost: local jobs bill nothing."""
    jobs = [{**job, "cost_usd": None} for job in lineage.get("jobs", [])]
    return {**lineage, "runtime": "local", "code_version": version, "jobs": jobs, "cost": None}


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def total_seconds(jobs: list[dict[str, Any]]) -> float:
    """The jobs' summed durations (instance count not applied), 0 when none finished."""
    return math.fsum(j["seconds"] for j in jobs if isinstance(j.get("seconds"), int | float))
