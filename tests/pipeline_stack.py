"""template.yaml on the embedded stack as the integration tests drive it: 1 s polls, no Retry
back-off, the handlers' SageMaker calls on the local job backend; and an upload followed to a
successful end."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from radimpress import clients
from radimpress_workstation.embedded.stack import EmbeddedStack
from radimpress_workstation.job_backend.backend import local_job_backend, reset_local_job_backend

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


@contextmanager
def pipeline_stack(
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    *,
    sagemaker: Callable[[], Any] = local_job_backend,
) -> Iterator[EmbeddedStack]:
    """The running stack; the local job backend's jobs are waited for before it stops."""
    reset_local_job_backend()
    with EmbeddedStack(
        TEMPLATE,
        parameters={"PollSeconds": "1", **(parameters or {})},
        retry_scale=0.0,
        stack_name=stack_name,
    ) as running:
        clients.override("sagemaker", sagemaker)
        yield running
        local_job_backend().wait()


def jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def run_upload(stack: EmbeddedStack, key: str, body: bytes, timeout: float = 300) -> Any:
    """Upload ``body`` to ``key``, start the pipeline as the rule would, wait: it succeeded."""
    stack.upload(key, body)
    result = stack.wait(stack.start_execution(key), timeout=timeout)
    assert result.status == "SUCCEEDED", (result.error, result.cause, stack.authorizer.denied)
    return result
