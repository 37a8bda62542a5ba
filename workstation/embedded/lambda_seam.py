"""The one seam between moto and our code: Lambda invocations run the real handler in-process.

moto's Lambda backend without Docker (``LambdaSimpleBackend``) only echoes its input. ``install()``
replaces its ``invoke`` with ``_invoke``, which, like the Lambda Python runtime:

- reads the function's ``Handler``, ``Environment``, ``Timeout`` and ``MemorySize`` from moto
  (what ``create_function`` / ``update_function_configuration`` stored), so the template's values
  are the ones that run;
- imports ``module.attr`` from the function's code folder (``register_code``), once, under a lock:
  Map runs iterations on threads and two first imports of one module must not interleave;
- applies the function's environment to ``os.environ`` around the call (see ``EnvGate``: the
  environment is process-global, so invocations with equal environments run concurrently and a
  function with a different one waits for those in flight);
- returns the result as JSON, or ``{"errorType", "errorMessage", "stackTrace"}`` with the
  ``x-amz-function-error`` header so Step Functions' Retry/Catch match on the exception class name;
  a result over Step Functions' 256 KiB state limit fails as ``States.DataLimitExceeded`` (moto
  would pass it on, hiding a run that breaks in the cloud);
- enforces the function's ``Timeout``: the handler runs on a thread of its own, and one still
  running at the deadline is answered as the Lambda service answers it,
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after
  <t> seconds"}`` (AWS Lambda Developer Guide, "Troubleshoot invocation issues in Lambda"). Python
  cannot kill a thread, so the timed-out invocation is made dead to the world instead: every AWS
  call it makes from then on raises (``SandboxGone``, a BaseException no handler catches), as a
  frozen sandbox would make none (calls on threads the handler started itself, such as a managed
  transfer's workers, are not recognised as its own);
- reports each invocation like Lambda's REPORT log line (duration, Timeout, ``MemorySize``; the
  process's peak RSS stands in for "Max Memory Used", which in-process cannot be told apart per
  invocation): ``reports()`` and the ``lambda_seam`` logger;
- gives each invocation its own powertools log keys (``function_environment.InvocationLogs``), so
  under concurrent Map iterations a log line names the function and run that wrote it, and puts
  one lock around powertools' process-wide metric set (``function_environment.SerializedMetrics``),
  which concurrent invocations otherwise change while another flushes it.

A test can run one function another way (``run_with``), e.g. in a child process it kills.

It also scales the sleep of moto's Retry implementation (``retry_scale``), so local runs do not
wait out cloud back-off intervals while the ASL stays as written. moto's own cost per task is cut
in ``moto_speedups``; the environment handling is ``function_environment.EnvGate``.

Pinned to the moto versions it was tested on: it patches private classes.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import importlib.metadata
import json
import logging
import random
import resource
import sys
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radimpress_workstation import heap
from radimpress_workstation.embedded.aws_authorization import acting_as
from radimpress_workstation.embedded.function_environment import (
    EnvGate,
    InvocationLogs,
    SerializedMetrics,
)

LOG = logging.getLogger(__name__)

TESTED_MOTO = ((5, 2, 3), (6, 0, 0))  # [low, high)
# Step Functions refuses state data over 256 KiB (States.DataLimitExceeded); moto does not check.
MAX_STATE_BYTES = 256 * 1024


class SeamError(RuntimeError):
    """The seam cannot be installed (unsupported moto) or a function cannot be run."""


def _moto_version() -> tuple[int, ...]:
    text = importlib.metadata.version("moto")
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_moto_version() -> None:
    """Refuse moto versions the seam was not tested on (it patches moto internals)."""
    version = _moto_version()
    low, high = TESTED_MOTO
    if not (low <= version < high):
        raise SeamError(
            "the embedded Lambda seam was tested with moto >=5.2.3,<6; installed moto is "
            f"{'.'.join(map(str, version))}. Install a tested version "
            f"(pip install -c constraints.txt 'moto>=5.2.3,<6')."
        )


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: float
    function_version: str = "$LATEST"
    # uuid4() reads os.urandom, which costs ~0.7 ms per call in small VMs; ids need no secrecy.
    aws_request_id: str = field(
        default_factory=lambda: str(uuid.UUID(int=random.getrandbits(128), version=4))
    )
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class SeamStats:
    """Where invocation time goes: in handlers versus in the seam itself (import, env, JSON)."""

    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    handler_seconds: float = 0.0
    seam_seconds: float = 0.0
    retry_sleep_requested: float = 0.0
    retry_sleep_done: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class _Seam:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # installs, registry
        self.import_lock = threading.RLock()
        self.installs = 0
        self.original_invoke: Callable[..., Any] | None = None
        self.original_retry_time: Any = None
        self.code_dirs: dict[str, Path] = {}
        self.handlers: dict[tuple[str, str], Callable[..., Any]] = {}
        self.base_env: dict[str, str] = {}
        self.retry_scale = 1.0
        self.timeout_scale = 1.0
        self.env = EnvGate()
        self.logs = InvocationLogs()
        self.metrics = SerializedMetrics()
        self.stats = SeamStats()
        self.stats_lock = threading.Lock()
        self.original_api_call: Callable[..., Any] | None = None
        self.runners: dict[str, Runner] = {}
        self.reports: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)


_SEAM = _Seam()


def install(
    *,
    retry_scale: float = 1.0,
    base_environment: Mapping[str, str] | None = None,
    timeout_scale: float = 1.0,
) -> None:
    """Route moto's Lambda invocations to the real handlers (needs moto's non-Docker backend).

    ``retry_scale`` multiplies every Retry interval moto's interpreter sleeps (0 = no wait).
    ``base_environment`` is applied under every function's own variables (e.g. AWS_REGION).
    ``timeout_scale`` multiplies each function's Timeout before it is enforced (0 = none).
    Nested installs are counted; the last ``uninstall()`` restores moto.
    """
    check_moto_version()
    from botocore.client import BaseClient
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    if retry_scale < 0:
        raise SeamError(f"retry_scale must be >= 0, got {retry_scale}")
    if timeout_scale < 0:
        raise SeamError(f"timeout_scale must be >= 0, got {timeout_scale}")
    with _SEAM.lock:
        if _SEAM.installs == 0:
            _SEAM.original_invoke = LambdaSimpleBackend.invoke
            LambdaSimpleBackend.invoke = _invoke
            _SEAM.original_retry_time = retrier_decl.time
            retrier_decl.time = _ScaledRetryTime()
            _SEAM.original_api_call = BaseClient._make_api_call  # type: ignore[attr-defined]
            BaseClient._make_api_call = _guarded_api_call  # type: ignore[attr-defined]
            _SEAM.logs.install()
            _SEAM.metrics.install()
            _SEAM.stats = SeamStats()
            _SEAM.reports.clear()
        _SEAM.installs += 1
        _SEAM.retry_scale = retry_scale
        _SEAM.timeout_scale = timeout_scale
        _SEAM.base_env = dict(base_environment or {})


def uninstall() -> None:
    """Undo ``install`` (when the last user leaves) and restore the process environment."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    with _SEAM.lock:
        if _SEAM.installs == 0:
            return
        _SEAM.installs -= 1
        if _SEAM.installs:
            return
        LambdaSimpleBackend.invoke = _SEAM.original_invoke
        retrier_decl.time = _SEAM.original_retry_time
        from botocore.client import BaseClient

        BaseClient._make_api_call = _SEAM.original_api_call  # type: ignore[attr-defined]
        _SEAM.logs.uninstall()
        _SEAM.metrics.uninstall()
        _SEAM.code_dirs.clear()
        _SEAM.runners.clear()
        _SEAM.base_env = {}
    _SEAM.env.restore()


def installed() -> bool:
    return _SEAM.installs > 0


def register_code(function_name: str, code_dir: Path | str | None) -> None:
    """Say where a function's code lives (its CodeUri); it joins ``sys.path`` on first use."""
    with _SEAM.lock:
        if code_dir is None:
            _SEAM.code_dirs.pop(function_name, None)
        else:
            _SEAM.code_dirs[function_name] = Path(code_dir).resolve()


def stats() -> SeamStats:
    """Counters since the last first ``install()`` (read them while the stack is up)."""
    return _SEAM.stats


def reports() -> list[dict[str, Any]]:
    """One entry per finished invocation, like Lambda's REPORT line: ``request_id``,
    ``function``, ``duration_ms``, ``timeout_s``, ``memory_size_mb``, ``process_peak_rss_mb``,
    ``status`` ("ok", "error" or "timeout")."""
    with _SEAM.stats_lock:
        return list(_SEAM.reports)


# A way to run one invocation: (function, environment, raw event, context) -> (payload, failed).
Runner = Callable[[Any, dict[str, str], "str | None", "LambdaContext"], tuple[bytes, bool]]


@contextlib.contextmanager
def run_with(function_name: str, runner: Runner) -> Iterator[None]:
    """Run ``function_name``'s invocations through ``runner`` inside the block (tests: e.g. in a
    child process that is killed half-way, which no in-process handler can be)."""
    with _SEAM.lock:
        _SEAM.runners[function_name] = runner
    try:
        yield
    finally:
        with _SEAM.lock:
            _SEAM.runners.pop(function_name, None)


def error_payload(error_type: str, message: str) -> bytes:
    """The payload the Lambda service returns for a failure of its own (no stack trace)."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class _ScaledRetryTime(types.SimpleNamespace):
    """Stands in for the ``time`` module inside moto's Retry implementation."""

    def sleep(self, seconds: float) -> None:
        scaled = seconds * _SEAM.retry_scale
        with _SEAM.stats_lock:
            _SEAM.stats.retry_sleep_requested += seconds
            _SEAM.stats.retry_sleep_done += scaled
        if scaled > 0:
            time.sleep(scaled)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _load_handler(code_dir: Path | None, handler: str) -> Callable[..., Any]:
    key = (str(code_dir or ""), handler)
    cached = _SEAM.handlers.get(key)
    if cached is not None:
        return cached
    with _SEAM.import_lock:
        cached = _SEAM.handlers.get(key)
        if cached is not None:
            return cached
        module_name, _, attr = handler.rpartition(".")
        if not module_name or not attr:
            raise _RuntimeError(
                "Runtime.MalformedHandlerName", f"Bad handler '{handler}': expected module.function"
            )
        if code_dir is not None and str(code_dir) not in sys.path:
            sys.path.append(str(code_dir))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise _RuntimeError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            ) from exc
        function = getattr(module, attr, None)
        if not callable(function):
            raise _RuntimeError(
                "Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'"
            )
        _SEAM.handlers[key] = function
        return function


class _RuntimeError(Exception):
    """An error the Lambda runtime (not the handler) reports, with Lambda's errorType."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _error_payload(exc: BaseException) -> bytes:
    error_type = exc.error_type if isinstance(exc, _RuntimeError) else type(exc).__name__
    frames = traceback.format_list(
        [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    )
    body = {
        "errorType": error_type,
        "errorMessage": str(exc),
        "stackTrace": [frame.rstrip("\n") for frame in frames],
    }
    return json.dumps(body).encode()


class SandboxGone(BaseException):
    """An AWS call from an invocation whose sandbox the service already stopped (timed out)."""


class _Invocation:
    """One invocation on its worker thread: what ``_guarded_api_call`` checks."""

    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name, self.request_id = function_name, request_id
        self.dead = False


_CURRENT = threading.local()


def _guarded_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
    """botocore's ``_make_api_call``, refused to an invocation that timed out."""
    invocation = getattr(_CURRENT, "invocation", None)
    if invocation is not None and invocation.dead:
        raise SandboxGone(
            f"{invocation.function_name} ({invocation.request_id}) timed out; its "
            f"{operation_name} call was never made"
        )
    assert _SEAM.original_api_call is not None
    return _SEAM.original_api_call(client, operation_name, api_params)


def _invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes | None:
    """Replacement for ``LambdaSimpleBackend.invoke`` (same signature, moto 5.2.x)."""
    started = time.perf_counter()
    fn = self.get_function(function_name, qualifier)
    invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    env = {**_SEAM.base_env, **{k: str(v) for k, v in (fn.environment_vars or {}).items()}}
    context = LambdaContext(
        function_name=fn.function_name,
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128),
        timeout_s=_timeout_of(fn),
    )
    raw = body.decode() if isinstance(body, bytes | bytearray) else body
    if invocation_type == "Event":
        thread = threading.Thread(
            target=_run, args=(fn, env, raw, context), name=f"lambda-{fn.function_name}"
        )
        thread.daemon = True
        thread.start()
        return b""
    payload, failed, handler_seconds = _run(fn, env, raw, context)
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    with _SEAM.stats_lock:
        _SEAM.stats.invocations += 1
        _SEAM.stats.errors += int(failed)
        _SEAM.stats.handler_seconds += handler_seconds
        _SEAM.stats.seam_seconds += time.perf_counter() - started - handler_seconds
    return payload


def _timeout_of(fn: Any) -> float:
    """The function's Timeout (seconds) as enforced here; 0 when not enforced."""
    return float(fn.timeout or 3) * _SEAM.timeout_scale


def _run(fn: Any, env: dict[str, str], raw: str | None, context: LambdaContext):
    """Run one invocation; returns (payload bytes, failed, seconds inside the handler)."""
    started = time.perf_counter()
    runner = _SEAM.runners.get(fn.function_name)
    if runner is not None:
        payload, failed = runner(fn, env, raw, context)
        seconds = time.perf_counter() - started
        _report(fn, context, seconds, "error" if failed else "ok")
        return payload, failed, seconds
    payload, failed, seconds, status = _sandboxed(fn, env, raw, context)
    _report(fn, context, time.perf_counter() - started, status)
    # What the invocation freed goes back to the system, as it would with Lambda's sandbox.
    heap.release_free_memory()
    return payload, failed, seconds


def run_in_process(
    fn: Any, env: dict[str, str], raw: str | None, context: LambdaContext
) -> tuple[bytes, bool]:
    """The seam's own way to run an invocation (for a ``run_with`` runner that wraps it)."""
    payload, failed, _, _ = _sandboxed(fn, env, raw, context)
    return payload, failed


def _sandboxed(
    fn: Any, env: dict[str, str], raw: str | None, context: LambdaContext
) -> tuple[bytes, bool, float, str]:
    """The handler on a worker thread, given up on at the function's Timeout; returns (payload,
    failed, seconds inside the handler, "ok" | "error" | "timeout")."""
    started = time.perf_counter()
    invocation = _Invocation(fn.function_name, context.aws_request_id)
    outcome: dict[str, Any] = {}
    done = threading.Event()
    slot = _SEAM.env.enter(env)
    worker = threading.Thread(
        target=_in_sandbox,
        args=(fn, slot, invocation, raw, context, outcome, done),
        name=f"lambda-{fn.function_name}-{context.aws_request_id[:8]}",
        daemon=True,
    )
    worker.start()
    timeout = _timeout_of(fn)
    if done.wait(timeout if timeout > 0 else None):
        failed = outcome["failed"]
        return outcome["payload"], failed, outcome["seconds"], "error" if failed else "ok"
    # The Lambda service stops the sandbox: nothing the handler does from now on reaches AWS.
    invocation.dead = True
    slot.leave()
    LOG.info("function %s timed out after %.2f s", fn.function_name, timeout)
    with _SEAM.stats_lock:
        _SEAM.stats.timeouts += 1
    message = (
        f"RequestId: {context.aws_request_id} Error: Task timed out after {timeout:.2f} seconds"
    )
    seconds = time.perf_counter() - started
    return error_payload("Sandbox.Timedout", message), True, seconds, "timeout"


def _in_sandbox(
    fn: Any,
    slot: Any,
    invocation: _Invocation,
    raw: str | None,
    context: LambdaContext,
    outcome: dict[str, Any],
    done: threading.Event,
) -> None:
    """The worker thread: load and call the handler with its environment, role and log keys."""
    _CURRENT.invocation = invocation
    handler_seconds = 0.0
    try:
        with _SEAM.logs.invocation():
            handler = _load_handler(_SEAM.code_dirs.get(fn.function_name), fn.handler)
            event = json.loads(raw) if raw else {}
            t0 = time.perf_counter()
            try:
                # Every AWS call the handler makes is authorized as the function's role.
                with acting_as(fn.role):
                    result = handler(event, context)
            finally:
                handler_seconds = time.perf_counter() - t0
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise _RuntimeError(
                    "Runtime.MarshalError", f"Unable to marshal response: {exc}"
                ) from exc
            if len(payload) > MAX_STATE_BYTES:
                raise _RuntimeError(
                    "States.DataLimitExceeded",
                    f"{fn.function_name} returned {len(payload)} bytes; Step Functions state data "
                    f"is limited to {MAX_STATE_BYTES} bytes: pass S3 keys, not contents",
                )
            outcome.update(payload=payload, failed=False)
    except Exception as exc:
        # Ids only: the message is the handler's own; handlers keep report text out of it.
        LOG.info("function %s raised %s", fn.function_name, type(exc).__name__)
        outcome.update(payload=_error_payload(exc), failed=True)
    except SandboxGone:
        outcome.update(payload=b"", failed=True)  # nobody waits for this answer any more
    finally:
        outcome["seconds"] = handler_seconds
        _CURRENT.invocation = None
        slot.leave()
        done.set()


def _report(fn: Any, context: LambdaContext, seconds: float, status: str) -> None:
    """Lambda's REPORT line, with the function's MemorySize and the process's peak RSS."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    entry = {
        "request_id": context.aws_request_id,
        "function": fn.function_name,
        "duration_ms": round(seconds * 1000, 2),
        "timeout_s": context.timeout_s,
        "memory_size_mb": context.memory_limit_in_mb,
        "process_peak_rss_mb": peak_mb,
        "status": status,
    }
    with _SEAM.stats_lock:
        _SEAM.reports.append(entry)
    LOG.info(
        "REPORT RequestId: %s Function: %s Duration: %.2f ms Timeout: %.0f s Memory Size: %d MB "
        "Process Peak RSS: %d MB Status: %s",
        context.aws_request_id,
        fn.function_name,
        entry["duration_ms"],
        context.timeout_s,
        context.memory_limit_in_mb,
        peak_mb,
        status,
    )
