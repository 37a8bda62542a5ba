"""The one seam between moto and our code: Lambda invocations run the real handler in-process.

moto's Lambda backend without Docker (``LambdaSimpleBackend``) only echoes its input. ``install()``
replaces its ``invoke`` with ``_invoke``, which, like the Lambda Python runtime:

- reads the function's ``Handler``, ``Environment``, ``Timeout`` and ``MemorySize`` from moto
  (what ``create_function`` / ``update_function_configuration`` stored), so the template's values
  are the ones that run;
- imports ``module.attr`` from the function's code folder (``register_code``), once, under a lock:
  Map runs iterations on threads and two first imports of one module must not interleave;
- applies the function's environment to ``os.environ`` around the call (see ``_EnvGate``: the
  environment is process-global, so invocations with equal environments run concurrently and a
  function with a different one waits for those in flight);
- returns the result as JSON, or ``{"errorType", "errorMessage", "stackTrace"}`` with the
  ``x-amz-function-error`` header so Step Functions' Retry/Catch match on the exception class name;
  a result over Step Functions' 256 KiB state limit fails as ``States.DataLimitExceeded`` (moto
  would pass it on, hiding a run that breaks in the cloud).

It also scales the sleep of moto's Retry implementation (``retry_scale``), so local runs do not
wait out cloud back-off intervals while the ASL stays as written, and (``fast_interpreter``) lets
the interpreter's Lambda task reuse one boto3 client instead of building one per invocation and
parse each JSONPath once instead of at every evaluation (about 1 ms each): most of moto's own cost
per task state (see bench/emulator_overhead.py). ``read_history`` reads
an execution's history from moto's backend instead of through its API, whose generic serializer
costs about 1 ms per event per call (a watcher polling a long execution would otherwise compete
with it for the CPU).

Pinned to the moto versions it was tested on: it patches private classes.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.metadata
import json
import logging
import os
import random
import sys
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

TESTED_MOTO = ((5, 2, 3), (6, 0, 0))  # [low, high)
# Step Functions refuses state data over 256 KiB (States.DataLimitExceeded); moto does not check.
MAX_STATE_BYTES = 256 * 1024
_MISSING = object()


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


class _EnvGate:
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


@dataclass
class SeamStats:
    """Where invocation time goes: in handlers versus in the seam itself (import, env, JSON)."""

    invocations: int = 0
    errors: int = 0
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
        self.original_client_for: Callable[..., Any] | None = None
        self.client_cache: dict[tuple[Any, ...], Any] = {}
        self.original_parsers: dict[Any, Callable[[str], Any]] = {}
        self.env = _EnvGate()
        self.stats = SeamStats()
        self.stats_lock = threading.Lock()


_SEAM = _Seam()


def install(
    *,
    retry_scale: float = 1.0,
    base_environment: Mapping[str, str] | None = None,
    fast_interpreter: bool = True,
) -> None:
    """Route moto's Lambda invocations to the real handlers (needs moto's non-Docker backend).

    ``retry_scale`` multiplies every Retry interval moto's interpreter sleeps (0 = no wait).
    ``base_environment`` is applied under every function's own variables (e.g. AWS_REGION).
    ``fast_interpreter`` caches the Lambda client the interpreter builds per task invocation and
    the JSONPath expressions it parses per evaluation (False: moto as shipped, for benchmarks).
    Nested installs are counted; the last ``uninstall()`` restores moto.
    """
    check_moto_version()
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    if retry_scale < 0:
        raise SeamError(f"retry_scale must be >= 0, got {retry_scale}")
    with _SEAM.lock:
        if _SEAM.installs == 0:
            _SEAM.original_invoke = LambdaSimpleBackend.invoke
            LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
            _SEAM.original_retry_time = retrier_decl.time
            retrier_decl.time = _ScaledRetryTime()  # type: ignore[assignment]
            _SEAM.original_client_for = lambda_eval_utils.boto_client_for
            if fast_interpreter:
                lambda_eval_utils.boto_client_for = _reused_client_for
                for module in _jsonpath_modules():
                    _SEAM.original_parsers[module] = module.parse
                    module.parse = _memoized(module.parse)
            _SEAM.stats = SeamStats()
        _SEAM.installs += 1
        _SEAM.retry_scale = retry_scale
        _SEAM.base_env = dict(base_environment or {})


def uninstall() -> None:
    """Undo ``install`` (when the last user leaves) and restore the process environment."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with _SEAM.lock:
        if _SEAM.installs == 0:
            return
        _SEAM.installs -= 1
        if _SEAM.installs:
            return
        LambdaSimpleBackend.invoke = _SEAM.original_invoke  # type: ignore[method-assign]
        retrier_decl.time = _SEAM.original_retry_time
        lambda_eval_utils.boto_client_for = _SEAM.original_client_for
        for module, parse in _SEAM.original_parsers.items():
            module.parse = parse
        _SEAM.original_parsers.clear()
        _SEAM.client_cache.clear()
        _SEAM.code_dirs.clear()
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


def _reused_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for``, built once per (region, service, credentials, mode).

    boto3 clients are thread-safe once built; building one costs more than a whole local task.
    """
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    key = (region, service, repr(state_credentials), botocore_stubber.enabled, moto_server_port())
    client = _SEAM.client_cache.get(key)
    if client is None:
        with _SEAM.lock:
            client = _SEAM.client_cache.get(key)
            if client is None:
                assert _SEAM.original_client_for is not None
                client = _SEAM.original_client_for(region, service, state_credentials)
                _SEAM.client_cache[key] = client
    return client


def _jsonpath_modules() -> list[Any]:
    """moto's interpreter modules that call ``jsonpath_ng`` ``parse`` on every evaluation."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    return [json_path, result_path]


def _memoized(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parse that builds each expression once (expressions are not mutated by find/update)."""
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def cached(path: str) -> Any:
        expression = cache.get(path)
        if expression is None:
            with lock:
                expression = cache.get(path)
                if expression is None:
                    expression = cache[path] = parse(path)
        return expression

    return cached


def read_history(execution_arn: str) -> list[dict[str, Any]] | None:
    """The execution's history events in boto3's shape, read from moto's backend in-process.

    Both embedded modes (``mock_aws`` and the threaded server) keep moto's backends in this
    process; None when the execution is not there (e.g. a moto server in another process).
    """
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    _, _, _, region, account, *_ = execution_arn.split(":")
    try:
        execution = stepfunctions_parser_backends[account][region].describe_execution(execution_arn)
    except Exception:  # moto's ExecutionDoesNotExist / InvalidArn: not in this process
        return None
    events = execution.to_history_output()["events"]  # a deep copy taken under moto's lock
    return [_plain(event) for event in events]


def _plain(value: Any) -> Any:
    """moto's internal event -> boto3's: enums to their values, ISO timestamps to datetimes."""
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        stamp = out.get("timestamp")
        if isinstance(stamp, str):
            out["timestamp"] = datetime.fromisoformat(stamp)
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


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
        timeout_s=float(fn.timeout or 3),
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


def _run(fn: Any, env: dict[str, str], raw: str | None, context: LambdaContext):
    """Run one invocation; returns (payload bytes, failed, seconds inside the handler)."""
    handler_seconds = 0.0
    with _SEAM.env.applied(env):
        try:
            handler = _load_handler(_SEAM.code_dirs.get(fn.function_name), fn.handler)
            event = json.loads(raw) if raw else {}
            t0 = time.perf_counter()
            try:
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
            return payload, False, handler_seconds
        except Exception as exc:
            # Ids only: the message is the handler's own; handlers keep report text out of it.
            LOG.info("function %s raised %s", fn.function_name, type(exc).__name__)
            return _error_payload(exc), True, handler_seconds
