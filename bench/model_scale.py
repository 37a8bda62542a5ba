"""How the local models' cost grows with the data: train + generate + score at 4k, 16k, 64k.

Each case writes N synthetic training and N synthetic test reports (the project's seeded
generator, different seeds) to a temporary folder and runs `radimpress evaluate` on them in a
fresh process (its peak RSS is the case's memory). Wall times are evaluate's own training and
generation seconds plus the whole call (reading, normalising, scoring, writing). The growth
ratio 16k/4k is the figure of merit: 4.0 is linear, 16.0 quadratic; the target is at most 5 with
16k + 16k under 60 s for the default model.

    .venv/bin/python bench/model_scale.py [--models select restate] [--sizes 4000 16000 64000]
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))


def _imports() -> tuple[Any, Any]:
    """evaluate() and generate_reports(), wherever the workstation refactor has put them."""
    try:
        from radimpress_workstation.commands.evaluate import evaluate
    except ImportError:
        from radimpress.commands.evaluate import evaluate
    try:
        from radimpress_workstation.synthetic import generate_reports
    except ImportError:
        from radimpress.local.synthetic import generate_reports
    return evaluate, generate_reports


def _case(model: str, size: int) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    evaluate, generate_reports = _imports()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, seed, prefix in (("train", 11, "TR"), ("test", 12, "TE")):
            with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
                for record in generate_reports(size, seed=seed, prefix=prefix):
                    handle.write(json.dumps(record) + "\n")
        started = time.perf_counter()
        summary = evaluate(
            str(folder / "train.jsonl"), str(folder / "test.jsonl"), folder / "out", model
        )
        total = time.perf_counter() - started
    return {
        "model": model,
        "reports": size,
        "train_seconds": summary["training_seconds"],
        "generate_seconds": summary["generation_seconds"],
        "evaluate_seconds": round(total, 3),
        "rouge1": round(summary["rouge_f1_mean"]["rouge1"], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["select", "restate"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[4000, 16000, 64000])
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "model_scale.json"))
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_case(args.case[0], int(args.case[1]))))
        return 0

    load_before = os.getloadavg()  # a shared machine: timings are read against its load
    rows = []
    for model in args.models:
        for size in args.sizes:
            done = subprocess.run(
                [sys.executable, __file__, "--case", model, str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{model:<10} {size:>6} + {size:<6} train {row['train_seconds']:7.2f} s"
                f"  generate {row['generate_seconds']:7.2f} s"
                f"  evaluate {row['evaluate_seconds']:7.2f} s  R1 {row['rouge1']:.4f}"
                f"  peak {row['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    ratios: dict[str, dict[str, float]] = {}
    for model in args.models:
        by_size = {r["reports"]: r["evaluate_seconds"] for r in rows if r["model"] == model}
        ratios[model] = {
            f"{big // 1000}k/{small // 1000}k": round(by_size[big] / by_size[small], 2)
            for small, big in ((4000, 16000), (16000, 64000))
            if small in by_size and big in by_size
        }
        print(f"{model}: growth {ratios[model]}")
    result = {
        "benchmark": "model_scale",
        "data": "synthetic reports (workstation synthetic generator), N train + N test",
        "measure": "radimpress evaluate (read, normalise, train, generate, score, write), "
        "one fresh process per case",
        "targets": {"16k+16k evaluate_seconds (default)": 60, "ratio 16k/4k": 5},
        "rows": rows,
        "growth_ratio": ratios,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15min": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
