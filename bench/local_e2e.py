"""Benchmark: the local runtime from file drop to printed tables, per stage, with peak memory.

Cases: ``generated`` (2,000 synthetic training reports and 2,000 synthetic findings reports, the
size of each of the blog's dev sets) and ``openi`` (../shared/data/openi train.jsonl + dev.jsonl,
skipped when absent). Each case runs ``radimpress run`` in a fresh process so its peak RSS is its
own. Stage times come from the executions' history (state entered/exited timestamps) and from the
local job backend:

- ingest, training (StartTraining to RegisterModel exited), transform (StartTransform to Score
  entered, per model), scoring (Score), publish (Publish): wall time of those states;
- training_job / transform_job: time the local jobs computed (inside the states above);
- wait_states: time spent in Wait states (the poll interval, 1 s locally); it overlaps the job
  times, which run while the state machine waits;
- emulator_overhead: execution wall time not covered by any Task or Wait state (moto's
  interpreter, history, transitions); stack_setup: building the embedded stack from template.yaml
  (mostly first-use imports of moto's service modules, paid once per process).

Target (issue 3): 2,000 reports from drop to printed tables in under 60 s on 2 cores.
Writes bench/results/local_e2e.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "openi"
RESULTS = ROOT / "bench" / "results" / "local_e2e.json"
TARGET_SECONDS = 60.0
TASK_GROUPS = {
    "Ingest": "ingest",
    "Score": "scoring",
    "Publish": "publish",
}


def _time(event: dict[str, Any]) -> float:
    stamp = event["timestamp"]
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)
    return stamp.timestamp()


def stage_times(history: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per stage from one execution's history (see the module docstring).

    Map iterations run concurrently under the same state names, so an exit is paired with the
    earliest open entry of that name; sums over iterations can exceed the wall time.
    """
    stages: dict[str, float] = {}
    open_entries: dict[str, list[float]] = {}
    entered: dict[str, list[float]] = {}
    exited: dict[str, list[float]] = {}
    busy: list[tuple[float, float]] = []  # intervals inside a Task or Wait state
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            open_entries.setdefault(name, []).append(_time(event))
            entered.setdefault(name, []).append(_time(event))
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            exited.setdefault(name, []).append(_time(event))
            if not open_entries.get(name):
                continue
            started = open_entries[name].pop(0)
            seconds = _time(event) - started
            state_type = kind[: -len("StateExited")]
            if state_type in ("Task", "Wait"):
                busy.append((started, _time(event)))
            if state_type == "Wait":
                stages["wait_states"] = stages.get("wait_states", 0.0) + seconds
            group = TASK_GROUPS.get(name)
            if group:
                stages[group] = stages.get(group, 0.0) + seconds
    if entered.get("StartTraining") and exited.get("RegisterModel"):
        stages["training"] = exited["RegisterModel"][-1] - entered["StartTraining"][0]
    if entered.get("StartTransform") and entered.get("Score"):
        stages["transform"] = max(entered["Score"]) - min(entered["StartTransform"])
    wall = _time(history[-1]) - _time(history[0]) if history else 0.0
    stages["execution_wall"] = wall
    stages["emulator_overhead"] = max(0.0, wall - _covered(busy))
    return stages


def _covered(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of intervals (Map iterations overlap)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def run_case(name: str, train: Path, infer: Path, out: Path) -> dict[str, Any]:
    """One case in this process: run the pipeline and measure it."""
    import io

    from radimpress.local.console import Console
    from radimpress.local.runtime import LocalRun, summaries
    from radimpress.scoring import format_distribution_table, format_mean_table
    from radimpress_training.models import DEFAULT_MODEL

    started = time.perf_counter()
    console = Console(stream=io.StringIO())
    local = LocalRun(train, infer, [DEFAULT_MODEL], out, console, dataset=name)
    result = local.run()
    groups = summaries(result.score_rows)
    print(format_mean_table(groups) + "\n" + format_distribution_table(groups))
    total = time.perf_counter() - started
    stages: dict[str, float] = {}
    for phase in result.phases:
        for stage, seconds in stage_times(phase.execution.history).items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    for kind, seconds in result.timings.items():
        stages[kind] = seconds
    return {
        "case": name,
        "train_records": sum(1 for _ in train.open(encoding="utf-8")),
        "infer_records": result.input_records,
        "rejected": result.rejected,
        "drop_to_tables_seconds": round(total, 3),
        "stages_seconds": {k: round(v, 3) for k, v in sorted(stages.items())},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "means": {f"{g.model} / {g.dataset}": g.mean_f1 for g in groups},
        "target_seconds": TARGET_SECONDS,
        "meets_target": total < TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["generated", "openi"], help="run one case in-process")
    parser.add_argument("--size", type=int, default=2000, help="generated reports per file")
    parser.add_argument("--json", type=Path, help="where a single case writes its result")
    args = parser.parse_args(argv)

    if args.case:
        with tempfile.TemporaryDirectory(prefix="radimpress-bench-") as tmp:
            tmp_path = Path(tmp)
            if args.case == "generated":
                from radimpress.local.synthetic import write_demo_files

                files = write_demo_files(
                    tmp_path / "generated", train=args.size, infer=args.size, with_bad=False
                )
                train, infer = files.train, files.infer
            else:
                train, infer = SHARED / "train.jsonl", SHARED / "dev.jsonl"
            result = run_case(args.case, train, infer, tmp_path / "out")
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
        return 0

    cases = ["generated"] + (["openi"] if (SHARED / "dev.jsonl").exists() else [])
    results = []
    for case in cases:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            target = Path(handle.name)
        command = [sys.executable, __file__, "--case", case, "--size", str(args.size)]
        started = time.perf_counter()
        subprocess.run([*command, "--json", str(target)], check=True, cwd=ROOT)
        result = json.loads(target.read_text(encoding="utf-8"))
        target.unlink()
        result["process_seconds"] = round(time.perf_counter() - started, 3)
        results.append(result)
        print(json.dumps(result, indent=2))
    payload = {
        "benchmark": "local_e2e",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "target": f"2,000 reports from drop to printed tables under {TARGET_SECONDS:.0f} s",
        "cases": results,
    }
    if "openi" not in cases:
        payload["skipped"] = ["openi: ../shared/data/openi is not present"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
