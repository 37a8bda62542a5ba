"""When each local SageMaker job of a run computed: the console's job callback, timed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class JobInterval:
    """When a local SageMaker job computed (epoch seconds, comparable with history timestamps)."""

    kind: str  # "training" | "transform"
    name: str
    started: float
    ended: float | None = None
    status: str = "InProgress"


class JobClock:
    """Wraps the console's job callback and keeps each job's start and end time."""

    def __init__(self, forward: Callable[[str, str, str], None]) -> None:
        self._forward = forward
        self.jobs: dict[str, JobInterval] = {}

    def __call__(self, kind: str, name: str, status: str) -> None:
        now = time.time()
        job = self.jobs.setdefault(name, JobInterval(kind, name, now))
        if status not in ("InProgress", "Stopping") and job.ended is None:
            job.ended, job.status = now, status
        self._forward(kind, name, status)
