"""Whose environment ``os.environ`` holds while a Lambda handler runs in this process.

The Lambda runtime gives every function its own process and environment; in-process, handlers
share one ``os.environ``. ``EnvGate.applied(env)`` puts a function's environment in place around
an invocation: invocations with equal environments run concurrently, one with a different
environment waits for those in flight, and ``restore()`` puts back what the process had.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

_MISSING = object()


class EnvGate:
    """Applies one function environment at a time to the process-global ``os.environ``.

    Invocations whose environments are equal share the gate (concurrent Map iterations of one
    function, or of functions that only differ by Globals-identical values); an invocation with a
    different environment waits until those in flight have finished. Keys a previous environment
    set and the next one lacks are restored to what the process had before the seam touched them.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: frozenset[tuple[str, str]] | None = None
        self._active = 0
        self._saved: dict[str, Any] = {}

    @contextlib.contextmanager
    def applied(self, env: Mapping[str, str]) -> Iterator[None]:
        signature = frozenset(env.items())
        with self._cond:
            while self._active and self._current != signature:
                self._cond.wait()
            if self._current != signature:
                self._switch(env)
                self._current = signature
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    def _switch(self, env: Mapping[str, str]) -> None:
        for key in list(self._saved):
            if key not in env:
                self._restore_key(key)
        for key, value in env.items():
            if key not in self._saved:
                self._saved[key] = os.environ.get(key, _MISSING)
            os.environ[key] = value

    def _restore_key(self, key: str) -> None:
        original = self._saved.pop(key)
        if original is _MISSING:
            os.environ.pop(key, None)
        else:
            os.environ[key] = original

    def restore(self) -> None:
        """Put back every variable the seam changed (when the stack stops)."""
        with self._cond:
            while self._active:
                self._cond.wait()
            for key in list(self._saved):
                self._restore_key(key)
            self._current = None
