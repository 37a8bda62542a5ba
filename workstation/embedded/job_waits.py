"""Wait states that poll a local SageMaker job end when the job does.

The pipeline polls its jobs with a linear back-off (the n-th wait is n x poll_seconds), sized for
Step Functions' history quota on jobs that run for hours. On the embedded stack a job is a thread
of this process whose end is known the moment it happens, so the rest of a Wait is idle time: at
50,000 reports the back-off left the training job finished 6.5 s before its last Wait ended and
the fine-tuned transform 4 s before its own (bench/results/local_e2e_scale.json).

With ``install(ended_event)``, a Wait state whose input names a job (``$.job.kind`` and
``$.job.job_name``, as the pipeline's WaitForTraining and WaitForTransform do) ends when its
seconds pass, when the execution stops, or as soon as the event ``ended_event(kind, name)`` returns
is set. A Wait naming no job, or a job ``ended_event`` does not know (None: a Bedrock batch job),
waits as moto does. The execution's events are the same; only their timestamps come earlier, as
``retry_scale`` shortens Retry intervals. Polling cost is unchanged: the next JobStatus call is
the one that finds the job ended.

Patches moto's private ``WaitFunction._wait_interval``, like the seam: pinned to the versions
``lambda_seam.check_moto_version`` accepts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from radimpress_workstation.embedded.lambda_seam import check_moto_version
from radimpress_workstation.embedded.patches import CountedPatches, Patch

# How often a Wait that watches a job also checks that its execution is still running (moto sets
# ``program_state_event`` when an execution is stopped; one thread can wait on one event only).
STOP_CHECK_SECONDS = 0.2

EndedEvent = Callable[[str, str], "threading.Event | None"]

_PATCHES = CountedPatches()
_HOOK: dict[str, EndedEvent] = {}


def install(ended_event: EndedEvent) -> None:
    """End job-polling Wait states when ``ended_event(kind, name)`` is set (see the module)."""
    check_moto_version()
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    owner = wait_function.WaitFunction
    _HOOK["ended_event"] = ended_event

    def patches() -> list[Patch]:
        return [(owner, "_wait_interval", _job_aware(owner.__dict__["_wait_interval"]))]

    _PATCHES.install(patches)


def uninstall() -> None:
    if _PATCHES.uninstall():
        _HOOK.clear()


def polled_job(state_input: Any) -> tuple[str, str] | None:
    """(kind, name) of the job a Wait state's input polls, or None."""
    job = state_input.get("job") if isinstance(state_input, dict) else None
    if not isinstance(job, dict):
        return None
    kind, name = job.get("kind"), job.get("job_name")
    if isinstance(kind, str) and isinstance(name, str):
        return kind, name
    return None


def _job_aware(original: Callable[..., None]) -> Callable[..., None]:
    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        hook = _HOOK.get("ended_event")
        job = polled_job(env.states.get_input())
        ended = hook(*job) if hook is not None and job is not None else None
        if ended is None:
            original(self, env, wait_seconds)
            return
        deadline = time.monotonic() + wait_seconds
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or ended.wait(min(remaining, STOP_CHECK_SECONDS)):
                return

    return wait_interval
