"""Time and size of the results layer at the blog's scale: publish_run, then every named query.

A run of `--reports` reports (default 2,000, the size of the blog's dev sets) for `--models`
models (default 3), seeded generated score rows of realistic length, published into moto S3 with
radimpress.results.publish_run; then the Parquet files are mirrored and every Athena named query of
template.yaml runs on DuckDB. Reports the median of `--repeats` runs of each step, object sizes and
peak memory (ru_maxrss) of this process.

    .venv/bin/python bench/results_layer.py [--reports 2000] [--models 3] [--output ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from radimpress.results import publish_run  # noqa: E402
from radimpress_workstation import sql  # noqa: E402

_VOCABULARY = (
    "heart size normal lungs clear no focal consolidation pleural effusion pneumothorax "
    "mediastinal contours stable degenerative changes spine right lower lobe opacity atelectasis "
    "cardiomegaly mild interstitial edema unchanged compared prior examination"
)
WORDS = _VOCABULARY.split()
METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def rows(run_id: str, model: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        row = {
            "run_id": run_id,
            "dataset": "dev1",
            "model": model,
            "study_id": f"s{i:06d}",
            "findings": _text(rng, rng.randint(30, 80)),
            "reference": _text(rng, rng.randint(5, 25)),
            "generated": _text(rng, rng.randint(5, 25)),
        }
        for metric in METRICS:
            p, r = rng.random(), rng.random()
            row[metric] = {"precision": p, "recall": r, "fmeasure": 2 * p * r / (p + r)}
        out.append(json.dumps(row))
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "bench" / "results" / "results_layer.json"
    )
    args = parser.parse_args()

    publish_s, query_s, sizes = [], [], {}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        keys = []
        for m in range(args.models):
            key = f"runs/bench/scores/model-{m}.jsonl"
            s3.put_object(
                Bucket="bench", Key=key, Body=rows("bench", f"model-{m}", args.reports, m).encode()
            )
            keys.append(key)
        run = {
            "source_key": "incoming/infer/dev1/x.jsonl",
            "records": args.reports,
            "rejected": 0,
            "started_at": "2026-11-24T08:00:00Z",
            "execution": "bench",
        }
        input_bytes = sum(s3.head_object(Bucket="bench", Key=k)["ContentLength"] for k in keys)
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = publish_run(s3, "bench", run_id="bench", dataset="dev1", score_keys=keys, run=run)
            publish_s.append(time.perf_counter() - start)
        for obj in s3.list_objects_v2(Bucket="bench", Prefix="results/")["Contents"]:
            kind = obj["Key"].split("/")[1]
            sizes[kind] = sizes.get(kind, 0) + obj["Size"]
        with tempfile.TemporaryDirectory() as folder:
            sql.mirror_results(s3, "bench", folder)
            for _ in range(args.repeats):
                start = time.perf_counter()
                results = sql.run_named_queries(folder)
                query_s.append(time.perf_counter() - start)
    result = {
        "reports_per_model": args.reports,
        "models": args.models,
        "score_rows_jsonl_bytes": input_bytes,
        "publish_run_seconds_median": round(statistics.median(publish_s), 3),
        "named_queries": [r.query.logical_id for r in results],
        "all_named_queries_duckdb_seconds_median": round(statistics.median(query_s), 3),
        "bytes_written": sizes,
        "report_key": out["report_key"],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "note": "moto S3 in-process; in Lambda add S3 latency per object (one GET per model, "
        "models + 2 PUTs).",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
