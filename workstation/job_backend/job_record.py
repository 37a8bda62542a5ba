"""One job as the backend keeps it (request, status, times, stop flag), and how a job ends early.

``describe_*`` responses are built from a ``Job``; the work running a job raises ``ContainerError``
(its message becomes the FailureReason) or, once a stop was asked for, ``JobStopped``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


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

    def check_stop(self) -> None:
        """Called by the work between steps: a stopped job ends at the next step."""
        if self.stop_requested.is_set():
            raise JobStopped
