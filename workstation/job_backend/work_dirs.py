"""Where a local job keeps its working directory, and its removal on every exit path.

A job's directory holds patient text (the training channel's copy of the training reports, a
transform job's input and output lines), so it must not outlive the run outside the run folder.
The runtime hands the backend a work root inside the run folder (``JOB_SCRATCH``); each job gets
its own directory under it (or under the system temp folder when no root was given: tests, the
bench), removed when the job ends, however it ends. A job still running when the process ends
(Ctrl-C or SIGTERM while training: the job's thread dies with the process, before its own
clean-up) is removed by :func:`remove_all`, which the ``radimpress`` command calls last.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JOB_SCRATCH = "job-scratch"  # the jobs' working directories, inside a run folder, while they run

_lock = threading.Lock()
_live: set[Path] = set()
_roots: set[Path] = set()


@contextmanager
def job_directory(job_name: str, root: Path | None) -> Iterator[Path]:
    """A new directory for one job under ``root`` (created if needed; None: the system temp
    folder), removed with everything in it when the block ends; ``root`` too once empty."""
    with _lock:
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            _roots.add(root)
        path = Path(tempfile.mkdtemp(prefix=f"radimpress-{job_name}-", dir=root))
        _live.add(path)
    try:
        yield path
    finally:
        with _lock:
            _live.discard(path)
            shutil.rmtree(path, ignore_errors=True)
            if root is not None:
                _remove_if_empty(root)


def remove_all() -> None:
    """Remove every job directory still in use, and the emptied roots (the process is ending)."""
    with _lock:
        for path in sorted(_live):
            shutil.rmtree(path, ignore_errors=True)
        _live.clear()
        for root in sorted(_roots):
            _remove_if_empty(root)


def _remove_if_empty(root: Path) -> None:
    try:
        root.rmdir()
    except OSError:  # another job still works there, or it is gone already
        return
    _roots.discard(root)
