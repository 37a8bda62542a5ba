"""Shared fixtures: paths, the optional shared data folder, offline defaults, strict skips.

Strict skips: with ``RADIMPRESS_STRICT_SKIPS=1`` (.ci/run sets it) a skip for something CI always
has fails the test instead of hiding it:

- ``pytest.importorskip`` of a module whose distribution pyproject.toml declares (``make test``
  installs every extra), at collection or at run time;
- a test marked ``shared_data`` or using the ``shared_data`` fixture (CI has ../shared/data);
- a test marked ``required_in_ci("what")`` (a system package .ci/run installs, such as chromium).

Other skips (an undeclared optional tool) stay skips. Without the switch every skip stays a skip,
so a clone with no shared data still passes.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
STRICT_SKIPS = "RADIMPRESS_STRICT_SKIPS"

# Tests never talk to real AWS: fake credentials and a fixed region for every boto3 client.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "radimpress-tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "radimpress")

# Import names whose distribution is called otherwise (PEP 503 normalised).
_DISTRIBUTION_OF = {"sklearn": "scikit-learn", "yaml": "pyyaml"}
_IMPORTORSKIP = re.compile(r"could not import '([^']+)'")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions(pyproject: Path = ROOT / "pyproject.toml") -> frozenset[str]:
    """Every distribution pyproject.toml declares, in [project] dependencies or any extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r.strip()) for r in requirements)
    return frozenset(_normalised(m.group(0)) for m in names if m)


def _strict() -> bool:
    return os.environ.get(STRICT_SKIPS) == "1"


def _missing_declared_dependency(message: str) -> str | None:
    found = _IMPORTORSKIP.search(message)
    if found is None:
        return None
    top = found.group(1).split(".")[0]
    distribution = _DISTRIBUTION_OF.get(top, _normalised(top))
    if distribution not in declared_distributions():
        return None
    return f"{distribution}, a dependency pyproject.toml declares, is not installed"


def _must_not_skip(item: pytest.Item, message: str) -> str | None:
    """Why this skip fails under the strict switch, or None when it may stay a skip."""
    missing = _missing_declared_dependency(message)
    if missing:
        return missing
    if item.get_closest_marker("shared_data") or "shared_data" in getattr(item, "fixturenames", ()):
        return f"the shared data ({SHARED_DATA}) is needed"
    marker = item.get_closest_marker("required_in_ci")
    if marker:
        return f"{marker.args[0] if marker.args else 'what it needs'} is needed"
    return None


def _failed(why: str, message: str) -> str:
    return f"{why}: skipping is a failure under {STRICT_SKIPS}=1 ({message})"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    if (
        _strict()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and call.excinfo is not None
        and call.excinfo.errisinstance(pytest.skip.Exception)
    ):
        message = str(call.excinfo.value)
        why = _must_not_skip(item, message)
        if why:
            report.outcome = "failed"
            report.longrepr = _failed(why, message)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """A module-level ``pytest.importorskip`` of a declared dependency fails collection."""
    report = yield
    if _strict() and report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
        why = _missing_declared_dependency(message)
        if why:
            report.outcome = "failed"
            report.longrepr = _failed(why, message)
    return report


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    """../shared/data when present; tests that use it skip when it is absent (fail when strict)."""
    if not (SHARED_DATA / "openi" / "dev.jsonl").exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A real boto3 session with nothing to find: no credential variables, empty credential
    and config files, no container or instance metadata lookup (no network), so botocore
    raises NoCredentialsError when it would sign the first request."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
