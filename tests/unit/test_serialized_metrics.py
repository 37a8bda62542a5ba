"""function_environment.SerializedMetrics: concurrent Lambdas (threads of one process) share
powertools' one metric set; one invocation's flush iterated it while another added to it, and
failed with "dictionary changed size during iteration" (a fresh clone's concurrency test)."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from radimpress_workstation.embedded.function_environment import SerializedMetrics


def _invocations_at_once(threads: int = 6, rounds: int = 1500) -> list[str]:
    """Each thread adds metrics and flushes, as a handler does; the errors they raise."""
    metrics = Metrics(namespace="radimpress-tests", service="radimpress")
    errors: list[str] = []

    def invocation() -> None:
        for i in range(rounds):
            try:
                metrics.add_metric(name=f"m{i % 40}", unit=MetricUnit.Count, value=1)
                metrics.flush_metrics()
            except Exception as err:  # what the handler's invocation would fail with
                errors.append(type(err).__name__)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython can: the race shows
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workers = [threading.Thread(target=invocation) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    finally:
        sys.setswitchinterval(interval)
        metrics.clear_metrics()
    return errors


def test_concurrent_flushes_fail_without_the_lock_and_not_with_it() -> None:
    assert "RuntimeError" in _invocations_at_once()  # the race is real (powertools 3.x)
    serialized = SerializedMetrics()
    serialized.install()
    try:
        assert _invocations_at_once() == []
    finally:
        serialized.uninstall()
    assert "RuntimeError" in _invocations_at_once()  # uninstall restores powertools
