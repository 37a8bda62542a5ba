"""One job as the backend keeps it (request, status, times, stop flag), and how a job ends early.

``describe_*`` responses are built from a ``Job``; the work running a job raises ``ContainerError``
(its message becomes the FailureReason) or, once a stop was asked for, ``JobStopped``.
"""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


def failure_place(err: BaseException) -> str:
    """``<type> at <file>:<line>`` of where ``err`` was raised: what a job's failure reason says
    of an unexpected error, never its arguments (they may hold report text)."""
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return f"{type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}"


class ContainerError(Exception):
    """A job failed for a reason that is safe to show (names, positions, never report text)."""


class JobStopped(Exception):
    """StopTrainingJob / StopTransformJob reached a running job."""


@dataclass
class Job:
    """One job's request and status; ``describe`` builds boto3's response from it."""

    kind: str  # "training" | "transform"
    name: str
    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    created: datetime = field(default_factory=now)
    started: datetime | None = None
    ended: datetime | None = None
    artifact: str | None = None
    future: Future[None] | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    ended_event: threading.Event = field(default_factory=threading.Event)  # set with ``ended``

    def check_stop(self) -> None:
        """Called by the work between steps: a stopped job ends at the next step."""
        if self.stop_requested.is_set():
            raise JobStopped
