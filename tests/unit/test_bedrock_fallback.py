"""Per-record calls for runs below the batch minimum: retries with backoff on throttling, bounded
concurrency, rejections instead of crashes (radimpress.bedrock.fallback), against the Bedrock
double's runtime (InvokeModel and Converse checked with botocore's bedrock-runtime model)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from botocore.exceptions import EndpointConnectionError

from radimpress.bedrock.fallback import NOT_ATTEMPTED, Backoff, invoke_each
from radimpress.bedrock.model_input import BodyFormat, Generation, Prompt, model_input
from radimpress_workstation.job_backend.bedrock import LocalBedrock

MODEL = "meta.llama3-1-8b-instruct-v1:0"
GEN = Generation(max_tokens=64, temperature=0.0)


def requests(n: int, fmt: BodyFormat = BodyFormat.META_LLAMA3):
    return [
        (
            f"s{i}",
            model_input(
                fmt,
                Prompt("Write the impression.", f"FINDINGS: Finding {i}. Rest.\nIMPRESSION:"),
                GEN,
            ),
        )
        for i in range(n)
    ]


@pytest.fixture
def double():
    bedrock = LocalBedrock(lambda: None)
    yield bedrock
    bedrock.shutdown()


def test_every_record_is_answered_with_its_tokens(double):
    result = invoke_each(double, MODEL, BodyFormat.META_LLAMA3, requests(5), sleep=lambda s: None)
    assert {s: a.text for s, a in result.answers.items()} == {
        f"s{i}": f"Finding {i}." for i in range(5)
    }
    assert result.rejections == [] and result.retries == 0
    assert result.output_tokens == 10 and result.input_tokens > 0


def test_converse_requests_go_to_converse(double):
    result = invoke_each(
        double, "cohere.command-r-v1:0", BodyFormat.CONVERSE, requests(2, BodyFormat.CONVERSE)
    )
    assert result.answers["s1"].text == "Finding 1."


def test_throttling_is_retried_with_exponential_backoff_then_succeeds(double):
    double.fail_next("ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException")
    slept: list[float] = []
    result = invoke_each(
        double,
        MODEL,
        BodyFormat.META_LLAMA3,
        requests(1),
        backoff=Backoff(max_attempts=4, base_seconds=1.0, cap_seconds=3.0),
        sleep=slept.append,
        draw=lambda: 1.0,  # the top of each jitter range: 1, 2, then the cap
    )
    assert result.answers["s0"].text == "Finding 0."
    assert result.retries == 3 and slept == [1.0, 2.0, 3.0]


def test_a_record_still_throttled_after_the_last_attempt_is_rejected_and_the_run_goes_on(double):
    double.fail_next(*["ThrottlingException"] * 3)
    result = invoke_each(
        double,
        MODEL,
        BodyFormat.META_LLAMA3,
        requests(2),
        max_workers=1,  # s0 takes the three failures, in order
        backoff=Backoff(max_attempts=3),
        sleep=lambda s: None,
    )
    assert [r.study_id for r in result.rejections] == ["s0"]
    assert result.rejections[0].code == "bedrock:ThrottlingException"
    assert "attempt 3 of 3" in result.rejections[0].reason
    assert set(result.answers) == {"s1"}


def test_a_refused_body_is_not_retried(double):
    bad = [("s0", {"prompt": 5})]
    result = invoke_each(
        double, MODEL, BodyFormat.META_LLAMA3, bad, sleep=lambda s: pytest.fail("slept")
    )
    assert result.rejections[0].code == "bedrock:ValidationException" and result.retries == 0


class FlakyRuntime:
    """A runtime that drops the connection once, then answers, and records its concurrency."""

    def __init__(self, delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0
        self.delay = delay

    def invoke_model(self, **request):
        with self.lock:
            self.calls += 1
            first = self.calls == 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if first:
                raise EndpointConnectionError(endpoint_url="https://bedrock-runtime.invalid")
            time.sleep(self.delay)
            return {"body": io.BytesIO(b'{"generation": "ok", "generation_token_count": 1}')}
        finally:
            with self.lock:
                self.active -= 1


def test_dropped_connections_are_retried_and_concurrency_stays_bounded():
    runtime = FlakyRuntime(delay=0.01)
    result = invoke_each(
        runtime, MODEL, BodyFormat.META_LLAMA3, requests(12), max_workers=3, sleep=lambda s: None
    )
    assert len(result.answers) == 12 and result.retries == 1
    assert runtime.peak <= 3


class BrokenRuntime:
    def invoke_model(self, **request):
        return {"body": io.BytesIO(b"not json")}


class BuggyRuntime:
    def invoke_model(self, **request):
        raise KeyError("a bug")


def test_unreadable_answers_are_rejections_and_our_own_bugs_are_not_swallowed():
    result = invoke_each(BrokenRuntime(), MODEL, BodyFormat.META_LLAMA3, requests(1))
    assert result.rejections[0].code == "bedrock:malformed-output"
    with pytest.raises(KeyError):
        invoke_each(BuggyRuntime(), MODEL, BodyFormat.META_LLAMA3, requests(1))


def test_records_left_when_time_runs_out_are_rejected_as_not_attempted(double):
    calls = iter([False, False, True])
    result = invoke_each(
        double, MODEL, BodyFormat.META_LLAMA3, requests(5), should_stop=lambda: next(calls, True)
    )
    assert set(result.answers) == {"s0", "s1"}
    assert [r.study_id for r in result.rejections] == ["s2", "s3", "s4"]
    assert {r.code for r in result.rejections} == {NOT_ATTEMPTED}
    with pytest.raises(ValueError):
        invoke_each(double, MODEL, BodyFormat.META_LLAMA3, [], max_workers=0)


def test_client_errors_carry_their_code(double):
    double.fail_next("AccessDeniedException")
    result = invoke_each(double, MODEL, BodyFormat.META_LLAMA3, requests(1))
    assert result.rejections[0].code == "bedrock:AccessDeniedException"
