"""training.models.helper_process: one code path for work in a worker process or inline.

The workers' own behaviour (spawned, deaf to Ctrl-C, gone once their parent is SIGKILLed) is
tested through the transform's worker pool, which uses them (test_transform_workers.py).
"""

from __future__ import annotations

import os

import pytest

from radimpress_training.models.helper_process import (
    InlineExecutor,
    usable_cpus,
    worker_processes,
)


def _fail() -> None:
    raise ZeroDivisionError("inside the work")


def test_inline_work_runs_at_submit_and_hands_back_its_result_or_error() -> None:
    ran: list[int] = []
    with InlineExecutor() as inline:
        done = inline.submit(lambda x: ran.append(x) or x * 2, 21)
        assert ran == [21] and done.result() == 42  # ran before anyone asked
        failed = inline.submit(_fail)
    with pytest.raises(ZeroDivisionError, match="inside the work"):
        failed.result()


def test_a_worker_process_answers_and_reports_its_errors_as_the_inline_one_does() -> None:
    with worker_processes(1) as pool:
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()
        with pytest.raises(ZeroDivisionError, match="inside the work"):
            pool.submit(_fail).result(timeout=60)


def test_usable_cpus_follows_the_affinity() -> None:
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
