"""A local run's lineage, put together from what the embedded pipeline published per execution.

Every execution's Publish writes its lineage record (``results/lineage-runs/<execution>.json``,
:mod:`radimpress.results.lineage`) into the embedded bucket, exactly as in the cloud; the local
run fetches each one before its stack goes (:meth:`LocalLineage.add`). The local run's own lineage
(:meth:`LocalLineage.compose`) is its inference executions' (the findings file's digest and counts,
every transform job), with the training executions' records as its ``training_runs`` (the training
file's digest and counts, each training job and its hyperparameters): their run ids are the
``training_run_id`` of the fine-tuned models' rows. Local jobs bill nothing, so there is no cost;
the code version is the working tree's ``git describe --always --dirty`` (the embedded Lambdas run
this tree in-process), or the installed package's version outside a git checkout.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def workstation_code_version(root: Path = ROOT) -> str:
    """``git describe --always --dirty`` of the checkout the code runs from, else the installed
    ``radimpress`` version (a wheel, a copy without .git, no git on the machine)."""
    if (root / ".git").exists() and shutil.which("git"):
        try:
            described = subprocess.run(
                ["git", "-C", str(root), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            described = ""
        if described:
            return described
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"radimpress {version('radimpress')} (installed package)"
    except PackageNotFoundError:
        from radimpress import __version__

        return f"radimpress {__version__} (source tree, not a git checkout)"


class LocalLineage:
    """The lineage records of one local run's executions, and the run's own lineage from them."""

    def __init__(self, train: Path | None, infer: Path) -> None:
        self._files = {"train": train, "infer": infer}
        self.records: list[tuple[str, dict[str, Any]]] = []  # (phase, record)
        self.version = workstation_code_version()

    def add(self, stack: Any, phase: str, output: dict[str, Any]) -> None:
        """Fetch the lineage an execution's Publish wrote, under its run id (the execution's
        name); an execution that published none (it failed first) adds nothing."""
        from radimpress.lineage import as_local
        from radimpress.results.lineage import read_lineage

        run_id = str(output.get("ingest", {}).get("run_id", ""))
        if not run_id:
            return
        record = read_lineage(stack.client("s3"), stack.bucket, run_id)
        if record is None:
            return
        record = as_local(record, self.version)
        local_file = self._files.get(phase)
        if local_file is not None:  # the user's file, not the embedded bucket's key
            # (the embedded bucket's object version means nothing once it is gone)
            record["input"] = {**record.get("input", {}), "file": str(local_file), "version_id": ""}
        self.records.append((phase, record))

    def add_reused(self, run_folder: Path, training_run_id: str) -> None:
        """A model reused from another run folder (``run --model-from``): its training run's
        lineage as that run recorded it (its summary.json), so the inference run still names the
        training file and job behind the model; nothing when that run kept no lineage."""
        import json

        try:
            summary = json.loads((run_folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        lineage = summary.get("lineage") if isinstance(summary, dict) else None
        for record in (lineage or {}).get("training_runs") or []:
            if isinstance(record, dict) and record.get("run_id") == training_run_id:
                self.records.append(("train", {**record, "reused_from": str(run_folder)}))

    def compose(self, run_id: str, dataset: str, started_at: str) -> dict[str, Any] | None:
        """The local run's lineage (None when no inference execution published one)."""
        infers = [r for phase, r in self.records if phase == "infer"]
        if not infers:
            return None
        ended = datetime.now(UTC)
        started = datetime.fromisoformat(started_at)
        return {
            **infers[0],
            "run_id": run_id,
            "dataset": dataset,
            "started_at": started.isoformat(timespec="seconds"),
            "ended_at": ended.isoformat(timespec="seconds"),
            "seconds": round((ended - started).total_seconds(), 3),
            "settings": _settings(infers),
            "executions": [r["run_id"] for _, r in self.records if not r.get("reused_from")],
            "jobs": [job for record in infers for job in record.get("jobs", [])],
            "training_runs": [r for phase, r in self.records if phase == "train"],
        }


def _settings(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The inference executions' settings; each model has its own spec, so the specs and model
    ids are listed together (one execution per model)."""
    settings = dict(records[0].get("settings") or {})
    for name in ("model_spec", "model_id"):
        values = dict.fromkeys(str((r.get("settings") or {}).get(name, "")) for r in records)
        settings[name] = ", ".join(v for v in values if v)
    return settings
