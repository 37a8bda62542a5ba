"""radimpress_workstation.heap: the embedded stack's one process keeps its malloc arenas few, its
mmap threshold fixed, and gives freed pages back when a step ends (issue 19 item 8: a million
records peaked near the SUM of the steps' memory, since each step's thread kept what it freed in
an arena of its own, and megabyte buffers stayed in the arenas once glibc raised its threshold).

Each is measured from glibc itself in fresh processes, against a control without the setting:
the arena count from ``malloc_stats`` (one "Arena N:" block per arena; malloc_stats(3)), memory
from /proc/self/status.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from radimpress_workstation import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc only (mallopt, malloc_trim)")

# Eight threads alive at once, each allocating through malloc (objects over pymalloc's 512
# bytes), then glibc's own count of arenas on stderr.
_THREADS = """
import ctypes, threading
barrier = threading.Barrier(8)
def work():
    kept = [bytes(4096) for _ in range(64)]
    barrier.wait()
    del kept
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


# The process's resident memory in KB, for the scripts below.
_RSS_KB = """
def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
"""


def _python(*parts: str) -> subprocess.CompletedProcess[str]:
    """The parts (each dedented) run as one script in a fresh interpreter."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def _arenas(setup: str) -> int:
    done = _python(setup, _THREADS)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_without_the_limit_each_thread_gets_an_arena_of_its_own() -> None:
    assert _arenas("") > heap.ARENAS  # the control: what the limit is for


def test_configure_caps_them() -> None:
    setup = "from radimpress_workstation import heap\nassert heap.configure()\n"
    assert _arenas(setup) <= heap.ARENAS


# A 16 MB block freed (glibc then raises its mmap threshold to 16 MB), then 100 MB of 2 MB
# buffers, each followed by a 100 KB block that outlives it; the buffers freed: KB given back to
# the system at once.
_BUFFERS = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
big = libc.malloc(16 << 20); ctypes.memset(big, 1, 16 << 20); libc.free(big)
buffers, survivors = [], []
for _ in range(50):
    buffers.append(libc.malloc(2 << 20)); ctypes.memset(buffers[-1], 1, 2 << 20)
    survivors.append(libc.malloc(100 << 10))
before = rss_kb()
for buffer in buffers: libc.free(buffer)
print(before - rss_kb())
"""


@pytest.mark.parametrize("configured", [False, True])
def test_a_fixed_mmap_threshold_unmaps_freed_buffers_at_once(configured: bool) -> None:
    setup = "from radimpress_workstation import heap\nheap.configure()\n" if configured else ""
    given_back = int(_python(setup, _RSS_KB, _BUFFERS).stdout)
    # Measured: about 0 KB with glibc's dynamic threshold, 100 MB with it fixed.
    assert (given_back > 90_000) is configured, given_back


def test_the_cli_sets_the_limit_before_any_command_runs() -> None:
    setup = """
    import contextlib, io
    from radimpress_workstation.cli import main
    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
        main(["--help"])
    """
    assert _arenas(setup) <= heap.ARENAS


def test_release_free_memory_returns_freed_pages_to_the_system() -> None:
    code = """
    import threading
    from radimpress_workstation import heap
    kept = []
    def step():  # 200 MB in malloc'd chunks; one in 50 outlives the step, as results do
        chunks = [bytes(2000) for _ in range(100_000)]
        kept.extend(chunks[::50])
    thread = threading.Thread(target=step)
    thread.start(); thread.join()
    before = rss_kb()
    heap.release_free_memory()
    print(before - rss_kb())
    """
    done = _python(_RSS_KB, code)
    # The freed chunks lie between live ones: without malloc_trim the pages stay with the
    # process (measured: 0.7 of 200 MB given back), with it most of them go.
    assert int(done.stdout) > 150_000


@pytest.mark.parametrize("ends", ["Completed", "Failed"])
def test_a_local_job_releases_when_it_ends(monkeypatch, ends) -> None:
    """(The seam's release after each invocation: tests/integration/test_seam.py.)"""
    from radimpress_workstation.job_backend import lifecycle
    from radimpress_workstation.job_backend.job_record import ContainerError, Job

    calls: list[str] = []
    monkeypatch.setattr(heap, "release_free_memory", lambda: calls.append("released"))

    def work(job: Job) -> None:
        if ends == "Failed":
            raise ContainerError("the model failed")

    jobs = lifecycle.JobLifecycle(max_workers=1, notify=lambda job: None)
    job = Job(kind="training", name="j", request={})
    try:
        jobs.register(job, "CreateTrainingJob")
        jobs.start(job, work)
        jobs.wait()
    finally:
        jobs.shutdown()
    assert (job.status, calls) == (ends, ["released"])
