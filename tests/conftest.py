"""Shared fixtures: paths, the optional shared data folder, and offline defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests never talk to real AWS: fake credentials and a fixed region for every boto3 client.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "radimpress-tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "radimpress")


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    """../shared/data when present; tests that use it are skipped cleanly when it is absent."""
    if not (SHARED_DATA / "openi" / "dev.jsonl").exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
