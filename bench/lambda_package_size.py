"""Size of every Lambda's built package: `sam build` (no Docker), then measure each function folder.

Lambda's limits: 50 MB for a zip uploaded directly, 250 MB unzipped (function + layers). We hold
every built folder under 50 MB unzipped (functions/Makefile leaves out the boto3/botocore the
runtime already ships); the fraction of that limit is reported per function.

    .venv/bin/python bench/lambda_package_size.py [--build-dir DIR] [--no-build]
Writes bench/results/lambda_package_size.json; exits 1 when a function is over the limit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lambda_package_size.json"
LIMIT_MB = 50.0


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


def zipped_mb(path: Path) -> float:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(path).as_posix())
    return buffer.tell() / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--no-build", action="store_true", help="measure an existing build")
    args = parser.parse_args()
    seconds = None
    if not args.no_build:
        start = time.perf_counter()
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "sam"),
                "build",
                "--template",
                str(ROOT / "template.yaml"),
                "--build-dir",
                str(args.build_dir),
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
        seconds = round(time.perf_counter() - start, 1)
    functions = {}
    for folder in sorted(p for p in args.build_dir.iterdir() if p.is_dir()):
        if not (folder / "radimpress").is_dir():
            continue
        unzipped = folder_mb(folder)
        top = sorted(
            (
                (folder_mb(p) if p.is_dir() else p.stat().st_size / 1024 / 1024, p.name)
                for p in folder.iterdir()
            ),
            reverse=True,
        )[:5]
        functions[folder.name] = {
            "unzipped_mb": round(unzipped, 1),
            "zipped_mb": round(zipped_mb(folder), 1),
            "fraction_of_limit": round(unzipped / LIMIT_MB, 2),
            "largest": {name: round(mb, 1) for mb, name in top},
        }
    over = [name for name, f in functions.items() if f["unzipped_mb"] >= LIMIT_MB]
    summary = {
        "benchmark": "lambda_package_size",
        "limit_mb_unzipped": LIMIT_MB,
        "build_seconds": seconds,
        "functions": functions,
        "over_limit": over,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 1 if over or not functions else 0


if __name__ == "__main__":
    sys.exit(main())
