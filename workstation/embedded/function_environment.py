"""Process-global state that the Lambda runtime gives each function invocation its own copy of.

The Lambda runtime gives every function its own process; in-process, handlers share one
``os.environ`` and one powertools log formatter. Two pieces keep them apart:

- ``EnvGate.enter(env)`` puts a function's environment in place around an invocation:
  invocations with equal environments run concurrently, one with a different environment waits
  for those in flight, and ``restore()`` puts back what the process had;
- ``InvocationLogs`` gives each invocation its own powertools log keys. powertools' ``Logger``
  keeps the keys ``inject_lambda_context`` and ``append_keys`` add (``function_name``,
  ``function_request_id``, ``run_id``, ...) on the formatter, and every ``Logger`` of one service
  shares one formatter: with concurrent Map iterations (threads), a line took the keys of
  whichever invocation wrote them last and named the wrong function or run. Installed, the
  formatter's keys live in a context variable each invocation (each on its own thread) sets
  afresh, so a line carries the keys of the invocation that wrote it, as in the cloud.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

_MISSING = object()


class Slot:
    """One invocation's hold on the gate; ``leave`` is safe to call twice (worker and seam)."""

    def __init__(self, gate: EnvGate) -> None:
        self._gate = gate
        self._held = True
        self._lock = threading.Lock()

    def leave(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._gate._leave()


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

    def enter(self, env: Mapping[str, str]) -> Slot:
        """Wait until ``env`` can be in place, put it there and hold it until ``Slot.leave``.

        A timed-out invocation's slot is left by the seam when it gives up on the handler (the
        handler may still be running, but it is dead to the world: see ``lambda_seam``).
        """
        signature = frozenset(env.items())
        with self._cond:
            while self._active and self._current != signature:
                self._cond.wait()
            if self._current != signature:
                self._switch(env)
                self._current = signature
            self._active += 1
        return Slot(self)

    @contextlib.contextmanager
    def applied(self, env: Mapping[str, str]) -> Iterator[None]:
        slot = self.enter(env)
        try:
            yield
        finally:
            slot.leave()

    def _leave(self) -> None:
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


# ---- log keys per invocation ---------------------------------------------------------------

# formatter id -> that formatter's keys in the running invocation (None outside invocations).
_KEYS: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "radimpress_invocation_log_keys", default=None
)


class _PerInvocation:
    """Stands in for ``LambdaPowertoolsFormatter.log_format`` (a data descriptor, so it wins
    over the instance attribute of the same name, which stays the keys outside invocations).

    Inside an invocation the first read copies those keys; every later read, write and
    ``clear_state`` (which assigns a new dict) touches the invocation's own copy.
    """

    def __get__(self, formatter: Any, owner: Any = None) -> Any:
        if formatter is None:
            return self
        keys = _KEYS.get()
        base = formatter.__dict__.get("log_format")
        if keys is None:
            return base
        mine = keys.get(id(formatter))
        if mine is None:
            mine = keys[id(formatter)] = dict(base or {})
        return mine

    def __set__(self, formatter: Any, value: Any) -> None:
        keys = _KEYS.get()
        if keys is None or "log_format" not in formatter.__dict__:
            # Outside invocations, or the formatter being made (a handler module's first
            # import): these are the keys every invocation starts from.
            formatter.__dict__["log_format"] = value
        if keys is not None:
            keys[id(formatter)] = value


class InvocationLogs:
    """Installs ``_PerInvocation`` on powertools' formatter while any seam is installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._installs = 0
        self._original: Any = _MISSING

    def install(self) -> None:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        with self._lock:
            if self._installs == 0:
                self._original = LambdaPowertoolsFormatter.__dict__.get("log_format", _MISSING)
                setattr(LambdaPowertoolsFormatter, "log_format", _PerInvocation())  # noqa: B010
            self._installs += 1

    def uninstall(self) -> None:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        with self._lock:
            if self._installs == 0:
                return
            self._installs -= 1
            if self._installs:
                return
            if self._original is _MISSING:
                delattr(LambdaPowertoolsFormatter, "log_format")
            else:
                setattr(LambdaPowertoolsFormatter, "log_format", self._original)  # noqa: B010

    @staticmethod
    @contextlib.contextmanager
    def invocation() -> Iterator[None]:
        """Log keys of their own for the code run inside (one invocation, on one thread)."""
        token = _KEYS.set({})
        try:
            yield
        finally:
            _KEYS.reset(token)


class SerializedMetrics:
    """One lock around powertools' EMF metric set while the seam is installed.

    powertools keeps one metric set per process (class-level dicts every ``Metrics`` shares). On
    AWS a process runs one invocation at a time; here the Lambdas are threads of one process, and
    a flush iterating the set while another invocation added to it raised "dictionary changed
    size during iteration", which failed that invocation (one of four concurrent executions of a
    concurrency test). The provider's methods that read or change the set take one lock
    (re-entrant: a flush serializes and clears). Which invocation's EMF line a metric lands in
    under concurrency stays as it was; their counts add up the same.
    """

    METHODS = (
        "add_metric",
        "add_dimension",
        "add_dimensions",
        "add_metadata",
        "serialize_metric_set",
        "flush_metrics",
        "clear_metrics",
    )

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider as Provider,
        )

        for name in self.METHODS:
            original = Provider.__dict__.get(name)
            if original is None or name in self._originals:
                continue
            self._originals[name] = original
            setattr(Provider, name, self._locked(original))

    def uninstall(self) -> None:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider as Provider,
        )

        for name, original in self._originals.items():
            setattr(Provider, name, original)
        self._originals.clear()

    def _locked(self, method: Any) -> Any:
        import functools

        lock = self._lock

        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked
