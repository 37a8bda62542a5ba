"""How a job moves through its states: InProgress -> Completed / Failed, or Stopping -> Stopped.

Jobs run on a small thread pool, so the state machine's Wait/JobStatus loop really polls. What a
job's work raises decides how it ends: ``ContainerError`` and S3 errors give a FailureReason naming
the job, file, line and field; any other exception is a model bug, named with its type and place
(``AlgorithmError``), never its arguments. A stop asked for while the job runs ends it at its next
step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from radimpress_workstation import heap
from radimpress_workstation.job_backend.api_checks import arn, check_job_name, client_error
from radimpress_workstation.job_backend.job_record import (
    ContainerError,
    Job,
    JobStopped,
    failure_place,
    now,
)

MAX_FAILURE_REASON = 1024  # SageMaker's limit on FailureReason


class JobLifecycle:
    """The jobs of one backend by kind and name, their threads and their status changes."""

    def __init__(self, max_workers: int, notify: Callable[[Job], None]) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Job]] = {"training": {}, "transform": {}}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-job")
        self._notify = notify

    def register(self, job: Job, operation: str) -> None:
        """Accept a new job; refuse a bad or already used name as SageMaker does."""
        check_job_name(job.name, operation)
        table = self._jobs[job.kind]
        with self._lock:
            if job.name in table:
                raise client_error(
                    operation,
                    "ResourceInUse",
                    f"{job.kind} job names must be unique within an AWS account and region, "
                    f"and a job with this name already exists ({arn(job.kind, job.name)})",
                )
            table[job.name] = job

    def start(self, job: Job, work: Callable[[Job], None]) -> None:
        job.future = self._pool.submit(self._run, job, work)

    def find(self, kind: str, name: str) -> Job | None:
        """The job, or None when there is none of that kind and name."""
        with self._lock:
            return self._jobs.get(kind, {}).get(name)

    def get(self, kind: str, name: str, operation: str) -> Job:
        job = self.find(kind, name)
        if job is None:
            raise client_error(operation, "ValidationException", "Requested resource not found.")
        return job

    def stop(self, kind: str, name: str, operation: str) -> None:
        """Ask a job to stop: Stopping now, Stopped when its work reaches the next step."""
        job = self.get(kind, name, operation)
        with self._lock:
            if job.status != "InProgress":
                raise client_error(
                    operation,
                    "ValidationException",
                    f"The request was rejected because the {job.kind} job is in status "
                    f"{job.status}.",
                )
            job.stop_requested.set()
            job.status = "Stopping"
        self._notify(job)
        if job.future is not None and job.future.cancel():
            self._finish(job, "Stopped", None)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has ended (tests, shutdown)."""
        for future in [job.future for job in self._all()]:
            if future is not None:
                future.result(timeout)

    def job_seconds(self) -> dict[str, float]:
        """Seconds the ended jobs computed, per kind (``training_job``, ``transform_job``)."""
        totals: dict[str, float] = {}
        for job in self._all():
            if job.started and job.ended:
                key = f"{job.kind}_job"
                totals[key] = totals.get(key, 0.0) + (job.ended - job.started).total_seconds()
        return totals

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    def _all(self) -> list[Job]:
        with self._lock:
            return [job for table in self._jobs.values() for job in table.values()]

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        job.started = now()
        self._notify(job)
        try:
            job.check_stop()
            work(job)
            job.check_stop()
        except JobStopped:
            self._finish(job, "Stopped", None)
        except ContainerError as err:
            self._finish(job, "Failed", f"{type(err).__name__}: {err}")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            self._finish(job, "Failed", f"S3 {err.operation_name} failed: {code}")
        except Exception as err:  # a model bug: name the exception and where, not its arguments
            self._finish(job, "Failed", f"AlgorithmError: {failure_place(err)}")
        else:
            self._finish(job, "Completed", None)
        finally:
            heap.release_free_memory()  # the job's container would have exited with it

    def _finish(self, job: Job, status: str, reason: str | None) -> None:
        with self._lock:  # atomic with stop: a stop that won the race turns Completed into Stopped
            if job.ended is not None:
                return
            if job.stop_requested.is_set() and status == "Completed":
                status = "Stopped"
            if reason is not None:
                reason = f"{job.kind} job {job.name}: {reason}"[:MAX_FAILURE_REASON]
            job.failure_reason = reason
            job.ended = now()
            job.status = status
        job.ended_event.set()
        self._notify(job)
