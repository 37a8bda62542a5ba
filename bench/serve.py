"""Latency and throughput of ``radimpress serve``: 1,000 requests over HTTP against the same
served model called in-process, so the ratio is the HTTP layer's cost.

A local run trains the model first (``radimpress run --train ... --model select`` on generated
reports; or ``--run-dir`` serves a run folder you have), then its kept model is loaded as
``radimpress serve`` loads it and served by the same ``EndpointServer`` on 127.0.0.1. Each
request is ``{"text_inputs": <one findings text>, "max_length": 128}``, the findings cycling
through the run's findings file. Measured, after 20 warm-up requests each:

- in-process: ``ServedModel.invoke`` (the body checks, JSON parsing and the model's prediction:
  everything /invocations does but HTTP), sequentially (the reference);
- HTTP, sequential: one client on one keep-alive connection;
- HTTP, concurrent: ``--clients`` clients (threads), each on its own keep-alive connection,
  ``--requests`` requests in all (the server predicts one request at a time, as one model
  worker);
- HTTP, sequential, the server as it was first written (``REFERENCE_REQUESTS`` requests):
  headers and body in two writes with Nagle's algorithm on, which a keep-alive client's delayed
  ACK holds back about 40 ms a response.

Prints and saves p50/p95/p99/mean latency (ms) and throughput (requests/s) of each, and the
ratios HTTP / in-process.

    .venv/bin/python bench/serve.py [--requests 1000] [--clients 4] [--run-dir out/<run id>]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20
REFERENCE_REQUESTS = 200  # the two-write server takes ~40 ms a request


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50_ms": round(at(0.50), 3),
        "p95_ms": round(at(0.95), 3),
        "p99_ms": round(at(0.99), 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def timed(calls: int, one: Callable[[int], None]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        one(i)
        latencies.append(time.perf_counter() - t)
    return latencies, time.perf_counter() - started


def trained_run(folder: Path, train: int, infer: int) -> Path:
    from radimpress_workstation.cli import main
    from radimpress_workstation.synthetic import write_demo_files

    data = write_demo_files(folder / "data", train=train, infer=infer, seed=41, with_bad=False)
    argv = ["run", "--train", str(data.train), "--infer", str(data.infer), "--model", "select",
            "--out", str(folder / "out"), "--quiet"]  # fmt: skip
    if main(argv) != 0:
        raise SystemExit("the training run failed")
    (run,) = [p for p in (folder / "out").iterdir() if p.is_dir()]
    return run


def findings_of(run_dir: Path) -> list[str]:
    """The distinct findings texts the run scored (its scores.jsonl keeps each row's findings)."""
    texts = []
    for line in (run_dir / "scores.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("findings"):
            texts.append(row["findings"])
    return list(dict.fromkeys(texts))


def bench(run_dir: Path, requests: int, clients: int) -> dict[str, Any]:
    from radimpress_workstation.endpoint_server import EndpointServer
    from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD
    from radimpress_workstation.served_model import served_model
    from radimpress_workstation.trained_models import kept_models

    texts = findings_of(run_dir)
    bodies = [json.dumps({"text_inputs": t, "max_length": 128}).encode() for t in texts]
    (kept,) = kept_models(run_dir)
    with (
        served_model(kept, ENDPOINT_MAX_PAYLOAD) as served,
        open(os.devnull, "w") as log,
    ):
        server = EndpointServer(("127.0.0.1", 0), served, log=log)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        host, port = server.server_address[:2]

        def in_process(i: int) -> None:
            served.invoke(bodies[i % len(bodies)], "application/json", None)

        def client() -> Callable[[int], None]:
            connection = http.client.HTTPConnection(str(host), int(port), timeout=60)
            headers = {"Content-Type": "application/json"}

            def one(i: int) -> None:
                connection.request("POST", "/invocations", bodies[i % len(bodies)], headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")

            return one

        timed(WARM_UP, in_process)
        inproc, inproc_seconds = timed(requests, in_process)
        sequential_client = client()
        timed(WARM_UP, sequential_client)
        sequential, sequential_seconds = timed(requests, sequential_client)
        concurrent, concurrent_seconds = concurrent_run(client, requests, clients)
        server.RequestHandlerClass = type(
            "TwoWrites",
            (server.RequestHandlerClass,),
            {"wbufsize": 0, "disable_nagle_algorithm": False},
        )
        reference_client = client()
        timed(5, reference_client)
        reference, reference_seconds = timed(min(requests, REFERENCE_REQUESTS), reference_client)
        server.shutdown()
        server.server_close()
    modes = {
        "in_process": (inproc, inproc_seconds),
        "http_sequential": (sequential, sequential_seconds),
        f"http_{clients}_clients": (concurrent, concurrent_seconds),
        "http_sequential_two_writes": (reference, reference_seconds),
    }
    results = {
        name: {**percentiles(lat), "requests_per_s": round(len(lat) / seconds, 1)}
        for name, (lat, seconds) in modes.items()
    }
    base = results["in_process"]
    ratios = {
        f"{name}_p50_vs_in_process": round(r["p50_ms"] / base["p50_ms"], 2)
        for name, r in results.items()
        if name != "in_process"
    }
    for name, r in results.items():
        if name != "in_process":
            speed = r["requests_per_s"] / base["requests_per_s"]
            ratios[f"{name}_throughput_vs_in_process"] = round(speed, 2)
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "model": kept.describe(),
        "distinct_findings": len(texts),
        "mean_body_bytes": round(statistics.fmean(len(b) for b in bodies)),
        "results": results,
        "ratios": ratios,
    }


def concurrent_run(
    client: Callable[[], Callable[[int], None]], requests: int, clients: int
) -> tuple[list[float], float]:
    shares = [requests // clients + (1 if c < requests % clients else 0) for c in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    ones = [client() for _ in range(clients)]
    for one in ones:
        timed(WARM_UP // clients or 1, one)
    barrier = threading.Barrier(clients + 1)

    def work(c: int) -> None:
        barrier.wait()
        latencies[c], _ = timed(shares[c], lambda i, c=c: ones[c](i * clients + c))

    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return [x for part in latencies for x in part], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--train", type=int, default=400, help="generated training reports")
    parser.add_argument("--infer", type=int, default=200, help="generated findings to send")
    parser.add_argument("--run-dir", type=Path, help="serve this run folder instead of training")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "serve.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        run_dir = args.run_dir or trained_run(Path(scratch), args.train, args.infer)
        measured = bench(run_dir, args.requests, args.clients)
    report = {
        "benchmark": "radimpress serve: HTTP vs in-process",
        "requests": args.requests,
        "clients": args.clients,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        **measured,
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"saved {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
