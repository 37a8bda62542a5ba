"""bench/local_e2e.py's memory figure counts a run's child processes (the results process, the
model-server workers): the run's own peak RSS left out what a process of its own held."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "local_e2e.py"
HOLD = "import sys; block = bytearray(96 << 20); block[::4096] = b'x' * len(block[::4096]); "
HOLD += "print('ready', flush=True); sys.stdin.read()"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_local_e2e", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")
def test_the_tree_counts_a_childs_memory_with_its_parents(bench) -> None:
    alone = bench.tree_rss_bytes(os.getpid())
    with subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with_child = bench.tree_rss_bytes(os.getpid())
        child_alone = bench.tree_rss_bytes(child.pid)
        child.communicate("")
    assert child_alone >= 96 << 20  # the block it touched, page by page
    assert with_child - alone >= (96 << 20) * 0.9
    assert bench.tree_rss_bytes(2**22 + 12345) == 0  # no such process: nothing resident
