"""What checking every call against the template's policies costs a whole embedded run.

Runs the real template.yaml on the embedded stack (training, then inference, through the
JumpStart container double) with authorization enforced and, as the reference, without
(``EmbeddedStack(authorize=False)``), alternating the two so machine noise hits both alike.
Reports the median wall time of each, their ratio, how many requests were authorized per run and
the time spent deciding them. Prints and writes bench/results/authorization.json.

    .venv/bin/python bench/authorization.py [--train 200] [--infer 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "authorization.json"


def jsonl(rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def one_run(authorize: bool, train: int, infer: int, seed: int) -> dict:
    from radimpress import clients
    from radimpress_workstation.embedded import aws_authorization
    from radimpress_workstation.embedded.stack import EmbeddedStack
    from radimpress_workstation.job_backend.backend import (
        local_job_backend,
        reset_local_job_backend,
    )
    from radimpress_workstation.synthetic import generate_reports

    deciding = [0.0, 0]
    original = aws_authorization.Authorizer.require

    def timed(self, requests):
        started = time.perf_counter()
        try:
            return original(self, requests)
        finally:
            deciding[0] += time.perf_counter() - started
            deciding[1] += len(requests)

    aws_authorization.Authorizer.require = timed  # type: ignore[method-assign]
    reset_local_job_backend()
    started = time.perf_counter()
    try:
        with (
            redirect_stdout(io.StringIO()),
            EmbeddedStack(
                ROOT / "template.yaml",
                parameters={"PollSeconds": "1"},
                retry_scale=0.0,
                stack_name="bench",
                authorize=authorize,
            ) as stack,
        ):
            clients.override("sagemaker", local_job_backend)
            for key, rows in (
                ("incoming/train/bench/train.jsonl", generate_reports(train, seed, "T")),
                ("incoming/infer/bench/infer.jsonl", generate_reports(infer, seed + 1, "I")),
            ):
                stack.upload(key, jsonl(rows))
                result = stack.wait(stack.start_execution(key), timeout=600)
                if result.status != "SUCCEEDED":
                    raise SystemExit(f"run failed: {result.error} {result.cause}")
            local_job_backend().wait()
    finally:
        aws_authorization.Authorizer.require = original  # type: ignore[method-assign]
        reset_local_job_backend()
    return {
        "wall_seconds": time.perf_counter() - started,
        "requests_decided": deciding[1],
        "deciding_seconds": deciding[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--infer", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"enforced": [], "reference": []}
    one_run(True, 20, 5, 0)  # warm imports and caches for both
    for round_ in range(args.repeat):
        for name, authorize in (("reference", False), ("enforced", True)):
            runs[name].append(one_run(authorize, args.train, args.infer, seed=round_))
            print(f"round {round_ + 1} {name}: {runs[name][-1]['wall_seconds']:.2f} s", flush=True)
    median = {k: statistics.median(r["wall_seconds"] for r in v) for k, v in runs.items()}
    enforced = runs["enforced"]
    figures = {
        "benchmark": "authorization",
        "train_records": args.train,
        "infer_records": args.infer,
        "repeat": args.repeat,
        "median_wall_seconds": median,
        "ratio_enforced_over_reference": median["enforced"] / median["reference"],
        "requests_decided_per_run": statistics.median(r["requests_decided"] for r in enforced),
        "microseconds_per_request": 1e6
        * sum(r["deciding_seconds"] for r in enforced)
        / max(1, sum(r["requests_decided"] for r in enforced)),
        "runs": runs,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_1min": os.getloadavg()[0],
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(
        f"median {median['reference']:.2f} s without, {median['enforced']:.2f} s with "
        f"authorization (x{figures['ratio_enforced_over_reference']:.3f}); "
        f"{figures['requests_decided_per_run']:.0f} requests per run, "
        f"{figures['microseconds_per_request']:.0f} us each -> {OUT.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
