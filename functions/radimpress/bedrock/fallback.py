"""Per-record ``InvokeModel``/``Converse`` calls, for runs too small for a batch inference job.

A batch job needs at least the model's "Minimum number of records per batch inference job"
(a Bedrock service quota, 100 by default for the text models used here: ``batch_files``), so a
smaller run calls the model once per record instead. Calls run on a bounded thread pool (the
model's tokens-per-minute quota is shared by the account: keep ``max_workers`` small) and a call
refused with ``ThrottlingException``, ``ServiceUnavailableException``, ``ModelNotReadyException``
or ``InternalServerException`` (the retryable errors of ``InvokeModel``/``Converse``:
botocore's ``bedrock-runtime`` model gives them HTTP 429, 503 and 500, and ModelNotReady's reads
"not ready to serve inference requests. The AWS SDK will automatically retry the operation up to
5 times") or by a dropped connection is
tried again after an exponential backoff with full jitter, at most ``max_attempts`` times in all.
Give this module a client with botocore's own retries off (``Config(retries={"max_attempts":
1})``), or the two retry loops multiply.

A record that still fails, or whose answer holds no text, becomes a
:class:`~radimpress.bedrock.batch_files.RecordRejection` with the error code; the run goes on.
Records not started before ``should_stop()`` said so (the Lambda running out of time) are
rejected as ``bedrock:not-attempted``. Nothing logged or returned quotes report text.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from radimpress.bedrock.batch_files import MALFORMED_OUTPUT, RecordRejection
from radimpress.bedrock.model_input import BodyFormat
from radimpress.bedrock.model_output import ModelAnswer, ModelOutputError, read_answer
from radimpress.errors import error_code, is_transient

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "InternalServerException",
    }
)
NOT_ATTEMPTED = "bedrock:not-attempted"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    max_attempts: int = 6
    base_seconds: float = 1.0
    cap_seconds: float = 20.0

    def delay(self, retry: int, draw: float) -> float:
        return draw * min(self.cap_seconds, self.base_seconds * 2**retry)


@dataclass
class FallbackResult:
    """The answers by study id, the rejections, and the tokens and retries they took."""

    answers: dict[str, ModelAnswer] = field(default_factory=dict)
    rejections: list[RecordRejection] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0


def _retryable(err: Exception) -> bool:
    if isinstance(err, ClientError):
        return error_code(err) in RETRYABLE_CODES or is_transient(err)
    return is_transient(err)


class _Caller:
    """One model's calls: the request per body format, and the retry loop around it."""

    def __init__(
        self,
        runtime: Any,
        model_id: str,
        fmt: BodyFormat,
        backoff: Backoff,
        sleep: Callable[[float], None],
        draw: Callable[[], float],
    ) -> None:
        self.runtime, self.model_id, self.fmt = runtime, model_id, fmt
        self.backoff, self.sleep, self.draw = backoff, sleep, draw
        self.lock = threading.Lock()
        self.retries = 0

    def call_once(self, body: Mapping[str, Any]) -> ModelAnswer:
        if self.fmt is BodyFormat.CONVERSE:
            response = self.runtime.converse(modelId=self.model_id, **body)
            return read_answer(self.fmt, response)
        response = self.runtime.invoke_model(
            modelId=self.model_id,
            body=json.dumps(body).encode("utf-8"),
            contentType="application/json",
            accept="application/json",
        )
        try:
            parsed = json.loads(response["body"].read())
        except ValueError:
            raise ModelOutputError("the response body is not JSON") from None
        return read_answer(self.fmt, parsed)

    def call(self, study_id: str, body: Mapping[str, Any]) -> ModelAnswer | RecordRejection:
        operation = "Converse" if self.fmt is BodyFormat.CONVERSE else "InvokeModel"
        for attempt in range(1, self.backoff.max_attempts + 1):
            try:
                return self.call_once(body)
            except ModelOutputError:
                return RecordRejection(
                    study_id, MALFORMED_OUTPUT, f"{operation}: the answer holds no generated text"
                )
            except Exception as err:
                if not isinstance(err, ClientError) and not is_transient(err):
                    raise  # a bug of ours, not the service's answer
                code = error_code(err)
                if not _retryable(err) or attempt == self.backoff.max_attempts:
                    return RecordRejection(
                        study_id,
                        f"bedrock:{code}",
                        f"{operation} answered {code} (attempt {attempt} of "
                        f"{self.backoff.max_attempts})",
                    )
                with self.lock:
                    self.retries += 1
                self.sleep(self.backoff.delay(attempt - 1, self.draw()))
        raise AssertionError("unreachable: the last attempt returns")


def invoke_each(
    runtime: Any,
    model_id: str,
    fmt: BodyFormat,
    requests: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    max_workers: int = 4,
    backoff: Backoff | None = None,
    should_stop: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> FallbackResult:
    """Call ``model_id`` once per (study id, request body), at most ``max_workers`` at a time.

    ``fmt`` is the body format of the requests: ``CONVERSE`` bodies go to ``converse`` (the body's
    fields as its parameters), every other format to ``invoke_model``."""
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    caller = _Caller(runtime, model_id, fmt, backoff or Backoff(), sleep, draw)
    result = FallbackResult()
    pending: dict[Future[ModelAnswer | RecordRejection], str] = {}

    def collect(done: Iterable[Future[ModelAnswer | RecordRejection]]) -> None:
        for future in done:
            study_id = pending.pop(future)
            outcome = future.result()
            if isinstance(outcome, RecordRejection):
                result.rejections.append(outcome)
                continue
            result.answers[study_id] = outcome
            result.input_tokens += outcome.input_tokens or 0
            result.output_tokens += outcome.output_tokens or 0

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bedrock") as pool:
        stopped = False
        for study_id, body in requests:
            if stopped or (should_stop is not None and should_stop()):
                stopped = True
                result.rejections.append(
                    RecordRejection(study_id, NOT_ATTEMPTED, "not called: time ran out")
                )
                continue
            while len(pending) >= 2 * max_workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
            pending[pool.submit(caller.call, study_id, body)] = study_id
        collect(wait(pending).done)
    result.retries = caller.retries
    return result
