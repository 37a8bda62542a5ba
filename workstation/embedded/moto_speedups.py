"""Where moto's own cost per task goes, cut without changing what an execution does.

Most of moto's cost per Step Functions task state is not the work: its interpreter builds a new
boto3 Lambda client for every task invocation (more than a whole local task costs) and parses
each JSONPath again at every evaluation (about 1 ms each), and reading an execution's history
through its API runs a generic serializer at about 1 ms per event per call (a watcher polling a
long execution competes with it for the CPU). ``install()`` reuses one client per (region,
service, credentials, mode) and parses each JSONPath once; ``read_history`` reads the history from
moto's backend in this process. bench/emulator_overhead.py measures both against moto as shipped
(``EmbeddedStack(fast_interpreter=False)``).

These patch moto internals, like the Lambda seam: pinned to the versions
``lambda_seam.check_moto_version`` accepts (moto>=5.2.3,<6).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from radimpress_workstation.embedded.lambda_seam import check_moto_version
from radimpress_workstation.embedded.patches import CountedPatches, Patch


class _Clients:
    """The interpreter's Lambda clients, built once: moto's builder and what it built."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.original_client_for: Callable[..., Any] | None = None
        self.cache: dict[tuple[Any, ...], Any] = {}


_PATCHES = CountedPatches()
_CLIENTS = _Clients()


def install() -> None:
    """Reuse the interpreter's Lambda clients and parse each JSONPath once (nested installs
    are counted; the last ``uninstall()`` restores moto)."""
    check_moto_version()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    def patches() -> list[Patch]:
        _CLIENTS.original_client_for = lambda_eval_utils.boto_client_for
        return [
            (lambda_eval_utils, "boto_client_for", _reused_client_for),
            *[(module, "parse", _memoized(module.parse)) for module in _jsonpath_modules()],
        ]

    _PATCHES.install(patches)


def uninstall() -> None:
    if _PATCHES.uninstall():
        _CLIENTS.cache.clear()


def _reused_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for``, built once per (region, service, credentials, mode).

    boto3 clients are thread-safe once built; building one costs more than a whole local task.
    """
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    key = (region, service, repr(state_credentials), botocore_stubber.enabled, moto_server_port())
    client = _CLIENTS.cache.get(key)
    if client is None:
        with _CLIENTS.lock:
            client = _CLIENTS.cache.get(key)
            if client is None:
                assert _CLIENTS.original_client_for is not None
                client = _CLIENTS.original_client_for(region, service, state_credentials)
                _CLIENTS.cache[key] = client
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
