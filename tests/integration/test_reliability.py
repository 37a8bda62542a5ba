"""The reliability scenarios as tests: the same functions bench/reliability.py runs, on one
embedded stack (fewer trials; the 1 GB upload stays in the bench)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import aws_xray_sdk.core  # noqa: F401  (opens its UDP emitter socket on import: before sockets are blocked)
import pytest

pytestmark = pytest.mark.usefixtures("socket_disabled")

_PATH = Path(__file__).resolve().parents[2] / "bench" / "reliability.py"
_SPEC = importlib.util.spec_from_file_location("bench_reliability", _PATH)
reliability = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_reliability"] = reliability
_SPEC.loader.exec_module(reliability)


@pytest.fixture(scope="module")
def bench():
    with reliability.stack_for_bench() as stack:
        yield reliability.Bench(stack)


def check(outcome: dict) -> None:
    assert outcome["ok"], (
        f"{outcome['name']}: expected {outcome['expected']}, {outcome['observed']}"
    )


def test_five_duplicate_deliveries_make_one_run(bench):
    check(reliability.five_duplicate_deliveries(bench))


def test_a_late_event_processes_the_version_it_names(bench):
    check(reliability.late_event_for_overwritten_object(bench))


def test_the_newest_finished_training_is_the_latest_model(bench):
    check(reliability.trainings_and_inference_together(bench, trials=1))


def test_publish_killed_after_its_first_object_leaves_no_rows_and_reruns_once(bench):
    check(reliability.publish_killed_after_first_object(bench))


def test_s3_throttled_in_every_handler_is_retried(bench):
    check(reliability.s3_throttled_in_every_handler(bench))


def test_s3_down_during_record_failure_still_notifies(bench):
    check(reliability.s3_down_during_record_failure(bench))
