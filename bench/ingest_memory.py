"""Ingest memory and speed: the streaming Ingest step vs reading the whole file (the reference),
and one long element inside a JSON array (issue 19 item 8).

Each variant runs in its own process on the same generated JSON Lines file, so peak RSS (minus the
process's RSS before the work) is what the variant itself needed. S3 is a stand-in that streams
the file from disk and counts written bytes: this measures ingest, not moto's storage.

The long-element case ingests ``[good, {"findings": <--element-mb of text>}, good]``: the
element must be rejected as record 2 without being read whole (target: peak working memory under
1.2x the element's size; it was 2x). ``--functions DIR`` measures another checkout's Lambda
package; ``--before DIR`` measures the long element with it too, beside this checkout's figure
(e.g. ``git archive 8c30f86 functions | tar -x -C /tmp/before``, then ``--before
/tmp/before/functions``).

    .venv/bin/python bench/ingest_memory.py [--mb 200] [--element-mb 200] [--before DIR]
Writes bench/results/ingest_memory.json.
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ingest_memory.json"
FINDINGS = (
    "The cardiomediastinal silhouette is within normal limits. The lungs are clear without focal "
    "consolidation, pleural effusion or pneumothorax. No acute osseous abnormality. XXXX."
)


def make_file(path: Path, megabytes: int) -> int:
    records = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < megabytes * 1024 * 1024:
            out.write(
                json.dumps(
                    {
                        "study_id": f"s{records}",
                        "subject_id": records // 3,
                        "findings": FINDINGS,
                        "impression": "No acute cardiopulmonary process.",
                    }
                )
                + "\n"
            )
            records += 1
    return records


class DiskS3:
    """get_object streams a local file; writes are counted, not kept."""

    def __init__(self, path: str) -> None:
        self.path, self.written, self._parts = path, 0, 0

    def get_object(self, Bucket, Key):
        return {"Body": open(self.path, "rb")}

    def put_object(self, Bucket, Key, Body, **_):
        self.written += len(Body)
        return {"ETag": '"0"'}  # Ingest's version claim reads it (a conditional create)

    def create_multipart_upload(self, **_):
        return {"UploadId": "u"}

    def upload_part(self, Body, **_):
        self.written += len(Body)
        self._parts += 1
        return {"ETag": f'"{self._parts}"'}

    def complete_multipart_upload(self, **_):
        pass

    def abort_multipart_upload(self, **_):
        pass


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_long_element_file(path: Path, megabytes: int) -> int:
    """A JSON array whose second element holds ``megabytes`` of findings; returns its size."""
    good = {"findings": FINDINGS, "impression": "No acute cardiopulmonary process."}
    chunk = "x" * (1024 * 1024)
    with path.open("w", encoding="utf-8") as out:
        out.write("[" + json.dumps({"study_id": "before", **good}) + ",\n")
        out.write('{"study_id": "long", "impression": "x", "findings": "')
        for _ in range(megabytes):
            out.write(chunk)
        out.write('"},\n' + json.dumps({"study_id": "after", **good}) + "]\n")
    return megabytes * 1024 * 1024


def long_element_child(path: str) -> dict:
    from radimpress.spec import load_spec
    from radimpress.steps.ingest import ingest

    spec = load_spec("jumpstart-flan-t5-xl")
    before = rss_mb()
    start = time.perf_counter()
    s3 = DiskS3(path)
    result = ingest(s3, "bench", "incoming/train/bench/long.json", "bench-run", spec)
    return {
        "variant": "long-element",
        "seconds": round(time.perf_counter() - start, 3),
        "accepted": result.records,
        "rejected": result.rejected,
        "peak_rss_mb": round(rss_mb(), 1),
        "work_rss_mb": round(rss_mb() - before, 1),
    }


def child(variant: str, path: str) -> dict:
    functions = os.environ.get("BENCH_FUNCTIONS") or str(ROOT / "functions")
    sys.path.insert(0, functions)
    if variant == "long-element":
        return long_element_child(path)
    from radimpress.records import Purpose, Report, read_reports
    from radimpress.spec import load_spec
    from radimpress.steps.ingest import ingest

    spec = load_spec("jumpstart-flan-t5-xl")
    before = rss_mb()
    start = time.perf_counter()
    if variant == "streaming":
        s3 = DiskS3(path)
        result = ingest(s3, "bench", "incoming/train/bench/file.jsonl", "bench-run", spec)
        accepted, written = result.records, s3.written
    else:  # reference: the whole file in memory, records listed, outputs built as strings
        with open(path, "rb") as handle:
            data = handle.read()
        import io

        outcomes = list(read_reports(io.BytesIO(data), Purpose.TRAIN, path))
        reports = [o for o in outcomes if isinstance(o, Report)]
        records = "".join(json.dumps(r.to_dict()) + "\n" for r in reports).encode()
        train = "".join(
            json.dumps({"findings": r.findings, "impression": r.impression}) + "\n" for r in reports
        ).encode()
        accepted, written = len(reports), len(records) + len(train)
    seconds = time.perf_counter() - start
    return {
        "variant": variant,
        "seconds": round(seconds, 3),
        "accepted": accepted,
        "bytes_written": written,
        "peak_rss_mb": round(rss_mb(), 1),
        "work_rss_mb": round(rss_mb() - before, 1),
    }


def run_child(variant: str, path: Path, functions: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "BENCH_FUNCTIONS": functions},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def long_element(megabytes: int, functions: str) -> dict:
    """Ingest of one ``megabytes`` element in a JSON array: its memory against its size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.json"
        size = make_long_element_file(path, megabytes)
        run = run_child("long-element", path, functions)
    assert (run["accepted"], run["rejected"]) == (2, 1), run
    return {
        "element_mb": round(size / 1024 / 1024, 1),
        "run": run,
        "work_rss_over_element": round(run["work_rss_mb"] / (size / 1024 / 1024), 3),
        "target_work_rss_over_element": 1.2,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the generated file")
    parser.add_argument(
        "--element-mb", type=int, default=200, help="size of the long array element (0: skip)"
    )
    parser.add_argument(
        "--functions",
        default=str(ROOT / "functions"),
        help="the Lambda package folder to measure (default: this checkout's)",
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also measure the long element with this Lambda package folder (the code before a "
        "change) and save it beside the figure",
    )
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    functions = str(Path(args.functions).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reports.jsonl"
        records = make_file(path, args.mb)
        size_mb = path.stat().st_size / 1024 / 1024
        runs = {
            variant: run_child(variant, path, functions) for variant in ("streaming", "whole-file")
        }
    stream, whole = runs["streaming"], runs["whole-file"]
    assert stream["accepted"] == whole["accepted"] == records
    summary = {
        "benchmark": "ingest_memory",
        "functions": functions,
        "file_mb": round(size_mb, 1),
        "records": records,
        "runs": runs,
        "work_rss_ratio_whole_over_streaming": round(
            whole["work_rss_mb"] / max(stream["work_rss_mb"], 1.0), 1
        ),
        "streaming_mb_per_second": round(size_mb / stream["seconds"], 1),
        "speed_ratio_whole_over_streaming": round(whole["seconds"] / stream["seconds"], 2),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.element_mb:
        summary["long_element"] = long_element(args.element_mb, functions)
        if args.before:
            before = long_element(args.element_mb, str(Path(args.before).resolve()))
            summary["long_element"]["before"] = {"functions": args.before, **before}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
