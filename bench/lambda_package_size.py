"""Size of every Lambda's built package: `sam build` (no Docker), then measure each function folder.

Lambda's limits: 50 MB for a zip uploaded directly, 250 MB unzipped (function + layers). We hold
every built folder under 50 MB unzipped (functions/Makefile leaves out the boto3/botocore the
runtime already ships); the fraction of that limit is reported per function. Each built folder is
then imported the way Lambda would: with the runtime's Python version (the template's Globals
Runtime, e.g. python3.13, whose wheels the build fetched), without site-packages, the folder
first and only the runtime's own boto3/botocore (and their dependencies) besides, loading every
handler module and radimpress.results (which Publish imports when it runs), so a module the
Makefile left out or a dependency missing from requirements.txt fails here instead of in the cloud.

    .venv/bin/python bench/lambda_package_size.py [--build-dir DIR] [--no-build]
Writes bench/results/lambda_package_size.json; exits 1 when a function is over the limit or does
not import.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lambda_package_size.json"
TEMPLATE = ROOT / "template.yaml"
LIMIT_MB = 50.0
# What the Lambda Python runtime puts on the path next to the function (functions/Makefile's
# RUNTIME_PROVIDED), as import names.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
IMPORT_CHECK = """
import importlib, json, pkgutil, sys
import radimpress.handlers as handlers
names = [f"radimpress.handlers.{m.name}" for m in pkgutil.iter_modules(handlers.__path__)]
failed = {}
for name in [*names, "radimpress.results"]:
    try:
        module = importlib.import_module(name)
        if name in names and not callable(getattr(module, "handler", None)):
            failed[name] = "no handler"
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"modules": len(names) + 1, "failed": failed}))
"""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


def zipped_mb(path: Path) -> float:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(path).as_posix())
    return buffer.tell() / 1024 / 1024


def runtime_path(into: Path) -> Path:
    """A folder holding (links to) only the modules the Lambda runtime provides."""
    import importlib

    for name in RUNTIME_MODULES:
        source = Path(importlib.import_module(name).__file__)
        source = source.parent if source.name == "__init__.py" else source
        (into / source.name).symlink_to(source)
    return into


def lambda_runtime() -> str:
    """The template's Lambda runtime (Globals.Function.Runtime), e.g. ``python3.13``."""
    import re

    found = re.search(r"^\s+Runtime:\s*(python3\.\d+)\s*$", TEMPLATE.read_text(), re.M)
    if not found:
        raise SystemExit(f"{TEMPLATE}: no pythonX.Y Runtime found")
    return found.group(1)


def find_interpreter(name: str) -> str | None:
    """A working ``pythonX.Y``: a pyenv version's binary (a shim needs pyenv's environment, which
    the isolated import check does not pass on), else one on PATH."""
    version = name.removeprefix("python")
    installed = Path.home().glob(f".pyenv/versions/{version}*/bin/{name}")
    for candidate in [*sorted(map(str, installed)), shutil.which(name)]:
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=30, env={})
        if probe.returncode == 0:
            return candidate
    return None


def import_check(folder: Path, runtime: Path, interpreter: str) -> dict:
    """Import every handler module from ``folder`` with no site-packages, as Lambda does."""
    path = [str(folder.resolve()), str(runtime)]
    code = f"import sys; sys.path[:0] = {path!r}\n{IMPORT_CHECK}"
    result = subprocess.run(
        [interpreter, "-I", "-S", "-B", "-c", code],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
        env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    if result.returncode != 0:
        return {"modules": 0, "failed": {"interpreter": result.stderr.strip()[-500:]}}
    return json.loads(result.stdout.strip().splitlines()[-1])


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
    runtime_name = lambda_runtime()
    interpreter = find_interpreter(runtime_name)
    if interpreter is None:
        print(
            f"{runtime_name} is not installed here: the built folders hold its compiled wheels, "
            "so only it can import them",
            file=sys.stderr,
        )
        return 2
    functions = {}
    scratch = tempfile.TemporaryDirectory()
    runtime = runtime_path(Path(scratch.name))
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
            "imports": import_check(folder, runtime, interpreter),
        }
    scratch.cleanup()
    over = [name for name, f in functions.items() if f["unzipped_mb"] >= LIMIT_MB]
    broken = [name for name, f in functions.items() if f["imports"]["failed"]]
    summary = {
        "benchmark": "lambda_package_size",
        "limit_mb_unzipped": LIMIT_MB,
        "build_seconds": seconds,
        "runtime": runtime_name,
        "functions": functions,
        "over_limit": over,
        "import_failures": broken,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 1 if over or broken or not functions else 0


if __name__ == "__main__":
    sys.exit(main())
