"""Slower checks, kept out of tests/unit so the unit suite stays fast and needs no PyTorch.

SDK parity (imports the SageMaker SDK), the seq2seq entry point (PyTorch), whole-data-set runs on
../shared/data. They are as pure as the unit tests: every test here runs with sockets disabled.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SLOW_TESTS = Path(__file__).resolve().parent
# The slow tests reuse the unit tests' data builders (results_data, the report page fixture).
sys.path.insert(0, str(SLOW_TESTS.parent / "unit"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_TESTS in item.path.parents:
            item.add_marker(pytest.mark.disable_socket)
