"""Ingest memory and speed: the streaming Ingest step vs reading the whole file (the reference).

Each variant runs in its own process on the same generated JSON Lines file, so peak RSS (minus the
process's RSS before the work) is what the variant itself needed. S3 is a stand-in that streams
the file from disk and counts written bytes: this measures ingest, not moto's storage.

    .venv/bin/python bench/ingest_memory.py [--mb 200]
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


def child(variant: str, path: str) -> dict:
    sys.path.insert(0, str(ROOT / "functions"))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the generated file")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reports.jsonl"
        records = make_file(path, args.mb)
        size_mb = path.stat().st_size / 1024 / 1024
        runs = {}
        for variant in ("streaming", "whole-file"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, str(path)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"},
            )
            runs[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    stream, whole = runs["streaming"], runs["whole-file"]
    assert stream["accepted"] == whole["accepted"] == records
    summary = {
        "benchmark": "ingest_memory",
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
