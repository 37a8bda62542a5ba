"""Worker processes for a model's CPU-bound work, as a container uses its instance's CPUs.

Fitting and serving run in a job's thread beside the embedded stack's own, under one GIL; a
process of its own is how part of that work gets another core. Workers are spawned (a fork of a
process with running threads would copy their locks), ignore Ctrl-C (the process that started
them decides what ends) and end once that process is gone: one killed outright (SIGKILL, the OOM
killer) runs no shutdown, and a spawned worker waiting for work would wait forever, since it holds
both ends of its queue's pipe and never reads an end of file.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

PARENT_CHECK_SECONDS = 0.5


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the OS tells it, else the count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux, or the OS would not say
        return os.cpu_count() or 1


def worker_processes(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """``workers`` spawned processes that ignore SIGINT and end with this process; each runs
    ``initializer(*initargs)`` first (e.g. loads a model once)."""
    # Imported here: multiprocessing costs start-up to commands that only ask usable_cpus.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


class InlineExecutor(Executor):
    """The Executor interface without a process: ``submit`` runs the call at once (work too
    small for a worker's start-up, or a single CPU), so callers have one code path."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to whoever asks for the result, as a pool would
            future.set_exception(err)
        return future


def start_worker(parent: int) -> None:
    """Make this spawned process a worker of ``parent``: Ctrl-C ignored, ends once it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _start_worker(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    start_worker(parent)
    if initializer is not None:
        initializer(*initargs)


def _end_with(parent: int) -> None:
    """End this worker once the process that started it is gone (see the module)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
