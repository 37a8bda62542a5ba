"""Where a run's lineage is published, and its rows in the ``lineage`` table.

Two objects per run (``radimpress.lineage`` builds the JSON): ``results/lineage/run_date=<date>/
<run_id>.parquet`` (Glue table ``lineage``, one row per SageMaker job) and ``results/lineage-runs/
<run_id>.json``, the whole record under a key that needs only the run id, so the Publish of an
inference run can fetch the lineage of the training run behind each fine-tuned model
(``training_run_id`` of its rows) without listing the bucket. An inference run's objects are part
of its commit (staged, summary last); a training run's are written by its Publish before the run
is marked committed. Ids, keys, counts, times and settings only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from radimpress import layout
from radimpress.errors import aws_call, error_code
from radimpress.results.schema import LINEAGE_COLUMNS, SCHEMA_VERSION

LINEAGE_FOLDER = "lineage"
RECORD_FOLDER = "lineage-runs"
_TIMESTAMPS = {name for name, kind in LINEAGE_COLUMNS if kind == "timestamp"}


def lineage_key(results_prefix: str, date: str, run_id: str) -> str:
    """``results/lineage/run_date=<date>/<run_id>.parquet`` (Glue table ``lineage``)."""
    folder = f"{results_prefix.rstrip('/')}/{LINEAGE_FOLDER}/run_date={date}/"
    return f"{folder}{layout.safe_name(run_id)}.parquet"


def lineage_record_key(results_prefix: str, run_id: str) -> str:
    """``results/lineage-runs/<run_id>.json``: one run's whole lineage, found by its id."""
    return f"{results_prefix.rstrip('/')}/{RECORD_FOLDER}/{layout.safe_name(run_id)}.json"


def lineage_json(lineage: dict[str, Any]) -> bytes:
    return json.dumps(lineage, indent=1, sort_keys=True).encode("utf-8")


def read_lineage(
    s3: Any, bucket: str, run_id: str, results_prefix: str = "results"
) -> dict[str, Any] | None:
    """A run's published lineage record, or None when there is none (not yet, or a run from
    before lineage). Without s3:ListBucket a missing key reads as 403, which means none too."""
    key = lineage_record_key(results_prefix, run_id)
    try:
        with aws_call(f"s3://{bucket}/{key}: read"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "404", "403", "AccessDenied"):
            return None
        raise
    try:
        value = json.loads(body.read())
    except ValueError:
        return None
    finally:
        body.close()
    return value if isinstance(value, dict) else None


def attach_training_runs(
    s3: Any,
    bucket: str,
    lineage: dict[str, Any],
    training_run_ids: list[str],
    results_prefix: str = "results",
) -> dict[str, Any]:
    """``lineage`` with the lineage of each training run named (the runs that trained its
    fine-tuned models) that it does not hold yet; one not found is listed as ``missing``."""
    held = {str(t.get("run_id")) for t in lineage.get("training_runs", [])}
    added = []
    for run_id in dict.fromkeys(filter(None, training_run_ids)):
        if run_id in held:
            continue
        found = read_lineage(s3, bucket, run_id, results_prefix)
        added.append(found if found is not None else {"run_id": run_id, "missing": True})
    if not added:
        return lineage
    return {**lineage, "training_runs": [*lineage.get("training_runs", []), *added]}


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return layout.parse_timestamp(str(value))
    except ValueError:
        return None


def _run_rows(lineage: dict[str, Any]) -> list[dict[str, Any]]:
    source = lineage.get("input") or {}
    cost = lineage.get("cost") or {}
    run = {
        "schema_version": SCHEMA_VERSION,
        "run_id": str(lineage.get("run_id", "")),
        "route": str(lineage.get("route", "")),
        "runtime": str(lineage.get("runtime", "")),
        "dataset": str(lineage.get("dataset", "")),
        "code_version": str(lineage.get("code_version", "")),
        "started_at": lineage.get("started_at"),
        "ended_at": lineage.get("ended_at"),
        "run_seconds": lineage.get("seconds"),
        "input_file": source.get("file"),
        "input_version_id": source.get("version_id"),
        "input_bytes": source.get("bytes"),
        "input_sha256": source.get("sha256"),
        "input_records": source.get("records"),
        "input_rejected": source.get("rejected"),
        "settings": json.dumps(lineage.get("settings") or {}, sort_keys=True),
        "training_run_ids": "; ".join(
            str(t.get("run_id")) for t in lineage.get("training_runs", [])
        ),
        "run_cost_usd": cost.get("usd"),
        "prices_as_of": cost.get("prices_as_of"),
    }
    jobs = lineage.get("jobs") or [{}]
    return [
        {
            **run,
            "job_kind": job.get("kind"),
            "job_name": job.get("name"),
            "job_model": job.get("model_name"),
            "instance_type": job.get("instance_type"),
            "instance_count": job.get("instance_count"),
            "job_started_at": job.get("started_at"),
            "job_ended_at": job.get("ended_at"),
            "job_seconds": job.get("seconds"),
            "billable_seconds": job.get("billable_seconds"),
            "job_cost_usd": job.get("cost_usd"),
            "hyperparameters": (
                json.dumps(job["hyperparameters"], sort_keys=True)
                if "hyperparameters" in job
                else None
            ),
        }
        for job in jobs
    ]


def lineage_rows(lineage: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``lineage`` table's rows of one run: a row per job (one with null job columns when it
    ran none), timestamps as datetimes. A local run also gets the rows of the training runs it
    ran: nothing else publishes them, and its rows' ``training_run_id`` joins to them (a model
    reused from another run folder has its rows there, and is not counted twice)."""
    runs = [lineage]
    if lineage.get("runtime") == "local":
        runs += [
            t
            for t in lineage.get("training_runs", [])
            if not t.get("missing") and not t.get("reused_from")
        ]
    rows = [row for run in runs for row in _run_rows(run)]
    for row in rows:
        for name in _TIMESTAMPS:
            row[name] = _when(row[name])
    return rows
