"""Slower checks, kept out of tests/unit so the unit suite stays fast and needs no PyTorch.

SDK parity (imports the SageMaker SDK), the seq2seq entry point (PyTorch), whole-data-set runs on
../shared/data. They are as pure as the unit tests: every test here runs with sockets disabled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_TESTS in item.path.parents:
            item.add_marker(pytest.mark.disable_socket)
