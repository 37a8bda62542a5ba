"""The C heap of the one process that hosts the embedded stack's Lambdas and jobs as threads.

On AWS every Lambda invocation and every job runs in a process of its own, and what a step frees
leaves with that process. The embedded stack runs them as threads of one process, where glibc's
malloc gives each new thread an arena of its own (up to eight per core) and keeps in it the
pages a finished step freed. The process's peak was then close to the SUM of its steps' peaks
(Ingest's id index, the transform's batches, Publish's columns) instead of the largest of them.

So before it starts any thread the CLI (:func:`configure`):

- limits malloc to :data:`ARENAS` arenas;
- fixes the mmap threshold at :data:`MMAP_THRESHOLD`. glibc raises it by default to the size of
  any larger block freed (up to 32 MB), after which the megabyte buffers of S3 streams and JSON
  reads come from the arenas, where a few small objects between them pin the pages; at a fixed
  threshold they are mapped and unmapped on their own. Setting it turns off the dynamic trim
  threshold too (mallopt(3)), which would then trim the heap's top at every 128 KiB free and
  fault the pages in again: :data:`TRIM_THRESHOLD` leaves that to the trims at a step's end.

and the seam and the job backend hand freed pages back to the system when an invocation or a job
ends (:func:`release_free_memory`, glibc's ``malloc_trim``). Measured with ``bench/local_e2e.py
--memory`` (1,000,000 tiny records): see bench/results/local_e2e_memory.json.

All are glibc calls (``mallopt``, ``malloc_trim``; see mallopt(3) and malloc_trim(3)); with
another C library (macOS, musl) they do nothing and memory behaves as before.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

# mallopt(3) parameters, as numbered in glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# The embedded stack's Python threads hold the GIL while they allocate, so more arenas buy
# little; two leave one for the odd allocation made while another thread is in C code.
ARENAS = 2
# The 1 MiB reads (moto's S3 bodies, radimpress.json_records) are just above it; smaller blocks,
# numpy's temporaries among them, stay in the arenas, where reusing them is cheap. Measured on
# select's fit of 50,000 reports (CPU seconds): glibc's defaults 21.2-22.5, 128 KiB with the trim
# threshold left at its default 24.8, 128 KiB / 64 MiB 23.4, 1 MiB / 64 MiB 22.5.
MMAP_THRESHOLD = 1 << 20
TRIM_THRESHOLD = 64 << 20


@cache
def _glibc() -> Any | None:
    """The running process's C library when it is glibc (it has mallopt and malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)  # the symbols already loaded into this process
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None  # musl: neither exists
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


def configure() -> bool:
    """Cap malloc's arenas and fix its mmap and trim thresholds; True when the C library took
    them all. Call it before threads start: a thread keeps the arena it was given."""
    libc = _glibc()
    if libc is None:
        return False
    settings = (
        (M_ARENA_MAX, ARENAS),
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
    )
    return all([libc.mallopt(parameter, value) == 1 for parameter, value in settings])


def release_free_memory() -> None:
    """Give the pages malloc holds free back to the system (every arena, not only the top)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
