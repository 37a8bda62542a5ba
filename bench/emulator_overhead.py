"""What the embedded AWS itself costs per Lambda task state, next to calling the handler directly.

Builds a throw-away SAM app (one no-op function; a chain of Lambda tasks, then an inline Map over
items calling it) with EmbeddedStack, runs it with moto's interpreter as shipped
(``fast_interpreter=False``, the reference) and with the speed-ups (``moto_speedups``), and
compares both with the same handler called in-process with a JSON round trip. Prints and writes
bench/results/emulator_overhead.json.

    .venv/bin/python bench/emulator_overhead.py [--chain 30] [--items 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "emulator_overhead.json"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: code/
    Environment:
      Variables:
        BENCH: "1"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  NoopFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bench_noop.handler
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        NoopArn: !GetAtt NoopFunction.Arn
      Events:
        Uploaded:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.s3]
              detail-type: [Object Created]
            InputTransformer:
              InputPathsMap:
                key: $.detail.object.key
              InputTemplate: '{"key": <key>, "items": []}'
"""

HANDLER = """\
def handler(event, context):
    return {"key": event.get("key"), "n": event.get("n", 0) + 1}
"""


def _definition(chain: int, items: int) -> dict:
    states: dict = {}
    for i in range(chain):
        states[f"Task{i}"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${NoopArn}", "Payload": {"key.$": "$.key", "n": i}},
            "ResultSelector": {"n.$": "$.Payload.n"},
            "ResultPath": "$.last",
            "Next": f"Task{i + 1}" if i + 1 < chain else "Fan",
        }
    states["Fan"] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 10,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Item",
            "States": {"Item": {"Type": "Task", "Resource": "${NoopArn}", "End": True}},
        },
        "ResultPath": None,
        "End": True,
    }
    # The Map's items come from the input; the transformer gives [], so a Pass fills them.
    states = {
        "Fill": {
            "Type": "Pass",
            "Result": [{"key": "k", "n": i} for i in range(items)],
            "ResultPath": "$.items",
            "Next": "Task0",
        },
        **states,
    }
    return {"StartAt": "Fill", "States": states}


def _direct() -> float:
    """Seconds per direct in-process call with the JSON round trip Lambda does."""
    sys.path.insert(0, str(_direct.code))  # type: ignore[attr-defined]
    import bench_noop

    n = 20_000
    t0 = time.perf_counter()
    for i in range(n):
        json.dumps(bench_noop.handler(json.loads(json.dumps({"key": "k", "n": i})), None))
    return (time.perf_counter() - t0) / n


def _phase_seconds(history: list[dict], first: str, last: str) -> float:
    """Seconds from ``first`` state entered to ``last`` state exited (history timestamps)."""
    entered = next(e for e in history if e["type"].endswith("Entered") and e["state"] == first)
    exited = [e for e in history if e["type"].endswith("Exited") and e["state"] == last][-1]
    return (exited["timestamp"] - entered["timestamp"]).total_seconds()


def _run_once(app: Path, stock: bool, name: str, chain: int) -> dict:
    """One execution on a fresh stack: stock moto behaviour, or the seam's optimisations."""
    from radimpress_workstation.embedded import lambda_seam, moto_speedups
    from radimpress_workstation.embedded.stack import EmbeddedStack

    saved = moto_speedups.read_history
    if stock:  # a watcher polling moto's API, as without the in-process history read
        moto_speedups.read_history = lambda arn: None
    try:
        with EmbeddedStack(app / "template.yaml", fast_interpreter=not stock) as stack:
            arn = stack.start_execution("incoming/bench.json", name=name)
            t0 = time.perf_counter()
            result = stack.wait(arn, timeout=600)
            wall = time.perf_counter() - t0
            stats = lambda_seam.stats().as_dict()
    finally:
        moto_speedups.read_history = saved
    if result.status != "SUCCEEDED":
        raise SystemExit(f"bench execution {result.status}: {result.error} {result.cause}")
    return {
        "wall_s": wall,
        "chain_s": _phase_seconds(result.history, "Task0", f"Task{chain - 1}"),
        "map_s": _phase_seconds(result.history, "Fan", "Fan"),
        "seam_s_per_invocation": stats["seam_seconds"] / stats["invocations"],
        "handler_s_per_invocation": stats["handler_seconds"] / stats["invocations"],
    }


def _summary(runs: list[dict], chain: int, items: int) -> dict:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "runs": len(runs),
        "median_execution_wall_s": round(med("wall_s"), 4),
        "chain_ms_per_task_state": round(1000 * med("chain_s") / chain, 3),
        "map_ms_per_item": round(1000 * med("map_s") / items, 3),
        "seam_ms_per_invocation": round(1000 * med("seam_s_per_invocation"), 3),
        "handler_ms_per_invocation": round(1000 * med("handler_s_per_invocation"), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=30)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp)
        (app / "code").mkdir()
        (app / "code" / "bench_noop.py").write_text(HANDLER)
        (app / "template.yaml").write_text(TEMPLATE)
        (app / "machine.asl.json").write_text(json.dumps(_definition(args.chain, args.items)))
        _direct.code = app / "code"  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        _run_once(app, stock=False, name="warm-up", chain=args.chain)  # imports, caches
        runs: dict[bool, list[dict]] = {True: [], False: []}
        for i in range(args.repeat):  # alternate, so machine load hits both alike
            for stock in (True, False):
                runs[stock].append(_run_once(app, stock, f"bench-{i}-{stock}", args.chain))
        direct_s = _direct()
        total = time.perf_counter() - t0
    stock = _summary(runs[True], args.chain, args.items)
    seam = _summary(runs[False], args.chain, args.items)
    result = {
        "benchmark": "emulator_overhead",
        "what": "time per Lambda task state on moto's ASL interpreter: moto's stock behaviour "
        "(a boto3 client built per invocation, JSONPath parsed per evaluation, history polled "
        "through the API) versus the seam (client reused, JSONPath parsed once, history read "
        "in-process); the handler is a no-op",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "chain_tasks": args.chain,
        "map_items": args.items,
        "map_max_concurrency": 10,
        "reference_stock_moto": stock,
        "seam": seam,
        "direct_call_ms": round(1000 * direct_s, 5),
        "speedup_execution_wall": round(
            stock["median_execution_wall_s"] / seam["median_execution_wall_s"], 2
        ),
        "speedup_chain_per_task": round(
            stock["chain_ms_per_task_state"] / seam["chain_ms_per_task_state"], 2
        ),
        "emulator_ms_per_task_state": round(seam["chain_ms_per_task_state"] - 1000 * direct_s, 3),
        "bench_wall_s": round(total, 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
