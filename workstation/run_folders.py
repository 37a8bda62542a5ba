"""Run ids and run folders: one id per local run, one folder per id, and what a stopped or
failed run leaves behind.

The id the CLI prints is the folder's name, the ``run_id`` of summary.json, Parquet and the
report, and the stem of every execution name (``<run id>-<phase>-<model>``), so the pipeline's
``runs/<execution>/`` keys and the rows' ``training_run_id`` lead back to the same run. Ids carry
a random suffix and a folder is claimed with an exclusive ``mkdir``, so two runs started in the
same second (or the same microsecond, from two processes) never share a folder.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INCOMPLETE = "INCOMPLETE.json"
MAX_EXECUTION_NAME = 80  # Step Functions' limit
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def new_run_id(prefix: str = "local") -> str:
    """``<prefix>-<UTC date>-<time>-<6 hex digits>``: sortable by start, unique by the suffix."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def claim_run_folder(out_root: Path, prefix: str = "local") -> tuple[str, Path]:
    """A new run id and its folder under ``out_root``, created here and by no one else."""
    out_root.mkdir(parents=True, exist_ok=True)
    for _ in range(64):
        run_id = new_run_id(prefix)
        folder = out_root / run_id
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return run_id, folder
    raise FileExistsError(f"{out_root}: could not claim a new run folder")


def execution_name(run_id: str, phase: str, model: str) -> str:
    """The Step Functions execution name of one phase of a run (also its ``runs/<id>/`` key)."""
    return _NOT_IN_NAME.sub("-", f"{run_id}-{phase}-{model}")[:MAX_EXECUTION_NAME]


def mark_incomplete(folder: Path, reason: str, **details: Any) -> Path:
    """Leave ``INCOMPLETE.json`` in a run folder whose run did not finish (counts, no text)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / INCOMPLETE
    record = {
        "complete": False,
        "reason": reason,
        "marked_at": datetime.now(UTC).isoformat(),
        **details,
    }
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return marker


def save_failure_files(s3: Any, bucket: str, execution_id: str, folder: Path) -> dict[str, Path]:
    """Copy a failed execution's failure.json and rejected records into the run folder.

    The embedded bucket goes away with the process, so a failure that points at
    ``s3://<bucket>/runs/...`` must point at these copies instead. Returns ``{s3 URI: copy}``
    for the files that existed (a missing one is simply not copied).
    """
    from radimpress.layout import RunKeys

    keys = RunKeys(execution_id)
    copied: dict[str, Path] = {}
    for key, name in ((keys.failure, "failure.json"), (keys.rejected, "rejected.jsonl")):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:  # absent or unreadable: nothing to copy
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(body)
        copied[f"s3://{bucket}/{key}"] = target
    return copied


_UPLOAD = re.compile(r"s3://[^/\s]+/incoming/(?P<route>train|infer)/[^/\s]+/[^\s:]+")


def local_paths(
    text: str, copies: dict[str, Path], inputs: dict[str, Path | None] | None = None
) -> str:
    """``text`` with every copied S3 location replaced by its local copy, and the uploaded
    ``incoming/<route>/...`` object by the local file it was uploaded from."""
    for uri, path in copies.items():
        text = text.replace(uri, str(path))

    def local_input(match: re.Match[str]) -> str:
        path = (inputs or {}).get(match["route"])
        return str(path) if path is not None else match[0]

    return _UPLOAD.sub(local_input, text)
