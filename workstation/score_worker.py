"""A second process that scores part of the distinct pairs while the command scores the rest.

Forked before the files are read, so it shares almost nothing with the command's heap: a worker
forked after reading spent most of its gain on copy-on-write faults, both processes touching
pages they still shared. It waits for batches of pairs, scores each with the command's own
function and sends the rows back (marshal: bytes, tuples, floats); a row is the same whichever
process scores its pair. A worker that fails, dies or is not there leaves its batch to the
command, which then scores it itself, so the output never depends on the worker.
"""

from __future__ import annotations

import contextlib
import marshal
import os
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

from radimpress_workstation.side_by_side import idle_second_cpu

_HEADER = 8  # bytes of the length that precedes every message

Score = Callable[..., list[Any]]


class ScoreWorker:
    """One forked worker; use as a context manager (the worker ends with the block)."""

    def __init__(self, pid: int, to_worker: IO[bytes], from_worker: IO[bytes]) -> None:
        self._pid = pid
        self._to_worker: IO[bytes] | None = to_worker
        self._from_worker = from_worker
        self._pending = False

    @classmethod
    def start(cls, score: Score) -> ScoreWorker | None:
        """A worker running ``score(pairs, *options)`` on what it is sent, or None where a second
        CPU is not idle (see :func:`idle_second_cpu`) and the command scores everything."""
        if not idle_second_cpu():
            return None
        tasks_read, tasks_write = os.pipe()
        rows_read, rows_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: serve batches until the command closes its end
            os.close(tasks_write)
            os.close(rows_read)
            try:
                with os.fdopen(tasks_read, "rb") as tasks, os.fdopen(rows_write, "wb") as rows:
                    _serve(score, tasks, rows)
            finally:
                os._exit(0)  # none of the command's clean-up: it is the command's
        os.close(tasks_read)
        os.close(rows_write)
        return cls(pid, os.fdopen(tasks_write, "wb"), os.fdopen(rows_read, "rb"))

    def submit(self, pairs: list[Any], *options: Any) -> bool:
        """Send a batch; False (nothing sent) when the worker is gone."""
        if self._to_worker is None or self._pending:
            return False
        message = marshal.dumps((pairs, options))
        try:
            self._to_worker.write(len(message).to_bytes(_HEADER, "little") + message)
            self._to_worker.flush()
        except OSError:  # the worker has ended: its pipe is closed
            self._to_worker = None
            return False
        self._pending = True
        return True

    def collect(self) -> list[Any] | None:
        """The rows of the batch sent, or None when the worker could not score it."""
        if not self._pending:
            return None
        self._pending = False
        header = self._from_worker.read(_HEADER)
        size = int.from_bytes(header, "little") if len(header) == _HEADER else 0
        body = self._from_worker.read(size) if size else b""
        if not size or len(body) != size:
            self._to_worker = None  # failed or died: no more batches for it
            return None
        rows: list[Any] = marshal.loads(body)
        return rows

    def __enter__(self) -> ScoreWorker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the batch pipe (the worker then ends) and wait for the worker."""
        if self._to_worker is not None:
            with contextlib.suppress(OSError):  # a worker already gone
                self._to_worker.close()
        self._from_worker.close()
        os.waitpid(self._pid, 0)


def _serve(score: Score, tasks: IO[bytes], rows: IO[bytes]) -> None:
    """Answer each batch with its rows, or an empty message when scoring it failed."""
    while True:
        header = tasks.read(_HEADER)
        if len(header) < _HEADER:  # the command is done (or gone)
            return
        pairs, options = marshal.loads(tasks.read(int.from_bytes(header, "little")))
        try:
            answer = marshal.dumps(score(pairs, *options))
        except Exception:  # the command scores the batch itself and meets the error there
            answer = b""
        rows.write(len(answer).to_bytes(_HEADER, "little") + answer)
        rows.flush()
