"""The run lifecycle's reliability scenarios on the embedded stack (issue 19, items 1-6 and 9):
the same functions bench/reliability.py runs.

``TestLifecycle`` shares one in-process stack. ``TestPublishKilled`` runs Publish's Lambda in a
child process that is SIGKILLed just before it writes the run summary, so no ``except`` or
``finally`` of it runs; moto serves that stack over HTTP on 127.0.0.1 so the child reaches it.
Each class holds its own stack (moto's mock is process-global: one stack at a time).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import aws_xray_sdk.core  # noqa: F401  (opens its UDP emitter socket on import: before sockets are blocked)
import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "reliability.py"
if "bench_reliability" not in sys.modules:
    _SPEC = importlib.util.spec_from_file_location("bench_reliability", _PATH)
    sys.modules["bench_reliability"] = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(sys.modules["bench_reliability"])
reliability = sys.modules["bench_reliability"]


def check(outcome: dict) -> None:
    assert outcome["ok"], (
        f"{outcome['name']}: expected {outcome['expected']}, {outcome['observed']}"
    )


@pytest.mark.usefixtures("socket_disabled")
class TestLifecycle:
    @pytest.fixture(scope="class")
    def bench(self):
        with reliability.stack_for_bench() as stack:
            yield reliability.Bench(stack)

    def test_a_redelivery_after_a_partly_failed_run_is_a_duplicate(self, bench):
        check(reliability.redelivery_after_partial_failure(bench))

    def test_sns_down_after_the_commit_keeps_the_run_committed_and_says_so(self, bench):
        check(reliability.sns_down_while_publish_notifies(bench))

    def test_a_refused_release_tells_the_operator_what_to_do(self, bench):
        check(reliability.claim_release_refused(bench))

    def test_a_lambda_timeout_is_retried_and_keeps_both_models(self, bench):
        check(reliability.lambda_timeout_in_score(bench))

    def test_two_failed_models_send_one_notice(self, bench):
        check(reliability.two_failed_models_one_notice(bench))

    def test_log_lines_name_their_function_and_run_under_concurrency(self, bench):
        check(reliability.log_attribution_under_concurrency(bench, executions=4))


@pytest.mark.allow_hosts(["127.0.0.1"])
class TestPublishKilled:
    @pytest.fixture(scope="class")
    def bench(self):
        with reliability.stack_for_bench(server=True) as stack:
            yield reliability.Bench(stack)

    def test_a_publish_killed_once_is_finished_by_its_retry(self, bench):
        check(reliability.publish_killed_for_real(bench, attempts=1))

    def test_a_publish_killed_on_every_attempt_leaves_nothing_and_the_upload_runs_again(
        self, bench
    ):
        check(reliability.publish_killed_for_real(bench, attempts=None))
