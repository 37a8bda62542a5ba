"""The Bedrock calls the Lambdas make, answered on this machine: batch jobs and per-record calls.

moto has no model invocation jobs, so this object plays Bedrock's part with boto3's request and
response shapes. It answers the control plane (``bedrock``: create/get/stop/list model invocation
jobs) and the runtime (``bedrock-runtime``: ``invoke_model``, ``converse``) from one object, so the
embedded stack can hand it to the handlers for both services (``radimpress.clients.override``).

- Requests are checked against botocore's own service models (``service_model``), refused with
  Bedrock's error codes; the caller's permissions against the stack's policies
  (``authorization``).
- A job moves Submitted -> Validating -> Scheduled -> InProgress -> Completed, PartiallyCompleted,
  Failed, or Stopping -> Stopped, on a small thread pool, so a Wait/JobStatus loop really polls;
  its work (``batch_job``) reads and writes S3 as the job's service role.
- Generation is the stand-in's (``standin``), labelled ``double:bedrock-<model id> (stand-in:
  lead)`` everywhere it writes.
- Tests (and the local runtime) can make runtime calls fail (:meth:`LocalBedrock.fail_next`) and
  cut jobs short (``records_before_timeout``).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from radimpress import clients
from radimpress_workstation.embedded.aws_authorization import job_s3, unchecked
from radimpress_workstation.embedded.moto_config import ACCOUNT_ID
from radimpress_workstation.job_backend.bedrock import bodies
from radimpress_workstation.job_backend.bedrock.authorization import (
    job_arn,
    model_arn,
    require_bedrock_call,
)
from radimpress_workstation.job_backend.bedrock.batch_job import BatchRun, JobFailure, JobHalted
from radimpress_workstation.job_backend.bedrock.quotas import DEFAULT_QUOTAS, Quotas
from radimpress_workstation.job_backend.bedrock.service_model import (
    check_request,
    service_error,
    validation_error,
)
from radimpress_workstation.job_backend.bedrock.standin import (
    generate,
    read_request,
    response_body,
)
from radimpress_workstation.job_backend.job_record import failure_place

STOPPABLE = ("Submitted", "Validating", "Scheduled", "InProgress")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SUMMARY_FIELDS = (
    "jobArn",
    "jobName",
    "modelId",
    "clientRequestToken",
    "roleArn",
    "status",
    "message",
    "submitTime",
    "lastModifiedTime",
    "endTime",
    "inputDataConfig",
    "outputDataConfig",
    "vpcConfig",
    "timeoutDurationInHours",
    "jobExpirationTime",
    "modelInvocationType",
    "totalRecordCount",
    "processedRecordCount",
    "successRecordCount",
    "errorRecordCount",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@dataclass
class BedrockJob:
    """One model invocation job as the double keeps it."""

    job_id: str
    arn: str
    fmt: str
    request: dict[str, Any]
    status: str = "Submitted"
    message: str | None = None
    submit_time: datetime = field(default_factory=_now)
    last_modified: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    future: Future[None] | None = None

    def describe(self) -> dict[str, Any]:
        request = self.request
        response: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": request["jobName"],
            "modelId": request["modelId"],
            "roleArn": request["roleArn"],
            "status": self.status,
            "submitTime": self.submit_time,
            "lastModifiedTime": self.last_modified,
            "inputDataConfig": request["inputDataConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "modelInvocationType": request.get("modelInvocationType", "InvokeModel"),
            **self.counts,
        }
        for name in ("clientRequestToken", "vpcConfig", "timeoutDurationInHours"):
            if name in request:
                response[name] = request[name]
        if self.message is not None:
            response["message"] = self.message
        if self.end_time is not None:
            response["endTime"] = self.end_time
        return response


class LocalBedrock:
    """Answers the Bedrock control-plane and runtime calls; jobs run on a small thread pool."""

    def __init__(
        self,
        s3_factory: Callable[[], Any] | None = None,
        *,
        quotas: Quotas = DEFAULT_QUOTAS,
        max_workers: int = 2,
        records_before_timeout: int | None = None,
    ) -> None:
        # A job's S3 goes through ``job_s3``: as its service role when a stack enforces IAM.
        self._s3_factory = unchecked(s3_factory or clients.s3)
        self.quotas = quotas
        self.records_before_timeout = records_before_timeout
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bedrock-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, BedrockJob] = {}  # job id -> job
        self._serial = itertools.count(1)
        self._failures: list[str] = []
        self.on_job_change: Callable[[str, str], None] | None = None

    # ----- the job lifecycle ----------------------------------------------------------------

    def _set(self, job: BedrockJob, status: str, message: str | None = None) -> None:
        with self._lock:
            if job.status in ("Completed", "PartiallyCompleted", "Failed", "Stopped"):
                return
            if job.stop_requested.is_set() and status in ("Completed", "PartiallyCompleted"):
                status = "Stopped"
            if job.stop_requested.is_set() and status in STOPPABLE:
                status = "Stopping"  # the work moved on, but the user asked it to stop
            job.status, job.last_modified = status, _now()
            if message is not None:
                job.message = message[:2048]  # the model's Message shape: at most 2,048
            if status in ("Completed", "PartiallyCompleted", "Failed", "Stopped"):
                job.end_time = job.last_modified
        if self.on_job_change is not None:
            self.on_job_change(job.request["jobName"], job.status)

    def _run(self, job: BedrockJob) -> None:
        s3 = job_s3(job.request["roleArn"], self._s3_factory)
        work = BatchRun(
            request=job.request,
            job_id=job.job_id,
            fmt=job.fmt,
            s3=s3,
            quotas=self.quotas,
            should_stop=job.stop_requested.is_set,
            records_before_timeout=self.records_before_timeout,
        )
        try:
            self._set(job, "Validating")
            files = work.validate()
            job.counts["totalRecordCount"] = work.counts.total
            if job.stop_requested.is_set():
                raise JobHalted
            self._set(job, "Scheduled")
            self._set(job, "InProgress")
            work.run(files)
        except JobHalted:
            self._set(job, "Stopped")
        except JobFailure as err:
            self._set(job, "Failed", str(err))
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            self._set(
                job,
                "Failed",
                f"Amazon S3 answered {code} to {err.operation_name} made with the service role "
                f"{job.request['roleArn']}",
            )
        except Exception as err:  # a bug of the double: its type and place, never its arguments
            self._set(job, "Failed", f"InternalServerException: {failure_place(err)}")
        else:
            self._set(job, "PartiallyCompleted" if work.counts.partial else "Completed")
        finally:
            job.counts.update(
                processedRecordCount=work.counts.processed,
                successRecordCount=work.counts.success,
                errorRecordCount=work.counts.errors,
            )

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has ended (tests, shutdown)."""
        with self._lock:
            futures = [job.future for job in self._jobs.values() if job.future is not None]
        for future in futures:
            if not future.cancelled():  # a job stopped before it ran has nothing to wait for
                future.result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    # ----- the control plane ----------------------------------------------------------------

    def _new_job_id(self, name: str) -> str:
        digest = hashlib.sha256(f"{name}\n{next(self._serial)}".encode()).digest()
        return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:12])

    def create_model_invocation_job(self, **request: Any) -> dict[str, Any]:
        operation = "CreateModelInvocationJob"
        check_request("bedrock", operation, request)
        invocation = request.get("modelInvocationType", "InvokeModel")
        fmt = bodies.CONVERSE if invocation == "Converse" else bodies.family(request["modelId"])
        if fmt is None:
            raise validation_error(
                operation,
                f"The Bedrock double serves no InvokeModel batch jobs for {request['modelId']} "
                "(Anthropic Claude, Meta Llama 3.x, Amazon Nova and Titan Text are served; any "
                "model with modelInvocationType Converse)",
            )
        token = request.get("clientRequestToken")
        with self._lock:
            same = [
                j
                for j in self._jobs.values()
                if token and j.request.get("clientRequestToken") == token
            ]
            if same:  # idempotent retry: the job the token already created
                return {"jobArn": same[0].arn}
            if any(j.request["jobName"] == request["jobName"] for j in self._jobs.values()):
                raise service_error(
                    operation,
                    "ConflictException",
                    f"A model invocation job named {request['jobName']} already exists",
                )
            job_id = self._new_job_id(request["jobName"])
        arn = job_arn(_region(), ACCOUNT_ID, job_id)
        require_bedrock_call(operation, arn, request)
        job = BedrockJob(job_id=job_id, arn=arn, fmt=fmt, request=json.loads(json.dumps(request)))
        with self._lock:
            self._jobs[job_id] = job
        job.future = self._pool.submit(self._run, job)
        return {"jobArn": arn}

    def _job(self, operation: str, identifier: str) -> BedrockJob:
        check_request("bedrock", operation, {"jobIdentifier": identifier})
        job_id = identifier.rsplit("/", 1)[-1]
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (identifier.startswith("arn:") and identifier != job.arn):
            raise service_error(
                operation, "ResourceNotFoundException", f"Job {identifier} was not found"
            )
        require_bedrock_call(operation, job.arn, {"jobIdentifier": identifier})
        return job

    def get_model_invocation_job(self, *, jobIdentifier: str) -> dict[str, Any]:
        job = self._job("GetModelInvocationJob", jobIdentifier)
        with self._lock:
            return job.describe()

    def stop_model_invocation_job(self, *, jobIdentifier: str) -> dict[str, Any]:
        operation = "StopModelInvocationJob"
        job = self._job(operation, jobIdentifier)
        with self._lock:
            if job.status not in STOPPABLE:
                raise validation_error(
                    operation, f"Job {job.arn} is {job.status} and cannot be stopped"
                )
            job.stop_requested.set()
        self._set(job, "Stopping")
        if job.future is not None and job.future.cancel():
            self._set(job, "Stopped")
        return {}

    def list_model_invocation_jobs(self, **request: Any) -> dict[str, Any]:
        operation = "ListModelInvocationJobs"
        check_request("bedrock", operation, request)
        require_bedrock_call(operation, "*", request)
        with self._lock:
            jobs = [job.describe() for job in self._jobs.values()]
        jobs = [j for j in jobs if _listed(j, request)]
        jobs.sort(
            key=lambda j: j["submitTime"],
            reverse=request.get("sortOrder", "Descending") == "Descending",
        )
        start = int(request.get("nextToken", "0")) if request.get("nextToken", "0").isdigit() else 0
        size = request.get("maxResults", 1000)
        page = jobs[start : start + size]
        response: dict[str, Any] = {
            "invocationJobSummaries": [{k: j[k] for k in _SUMMARY_FIELDS if k in j} for j in page]
        }
        if start + size < len(jobs):
            response["nextToken"] = str(start + size)
        return response

    # ----- the runtime ----------------------------------------------------------------------

    def fail_next(self, *codes: str) -> None:
        """The next runtime calls fail with these error codes, one each, in order (tests)."""
        with self._lock:
            self._failures.extend(codes)

    def _runtime_check(self, operation: str, request: dict[str, Any]) -> None:
        check_request("bedrock-runtime", operation, request, echo_values=False)
        with self._lock:
            code = self._failures.pop(0) if self._failures else None
        if code is not None:
            raise service_error(operation, code, f"{code} (injected by the Bedrock double)")
        require_bedrock_call(
            operation, model_arn(_region(), ACCOUNT_ID, request["modelId"]), request
        )

    def invoke_model(self, **request: Any) -> dict[str, Any]:
        operation = "InvokeModel"
        self._runtime_check(operation, request)
        fmt = bodies.family(request["modelId"])
        if fmt is None:
            raise validation_error(operation, "The provided model identifier is invalid.")
        raw = request.get("body", b"")
        raw = raw.read() if hasattr(raw, "read") else raw
        try:
            body = json.loads(raw)
        except ValueError:
            raise validation_error(
                operation, "Malformed input request: the body is not JSON"
            ) from None
        try:
            bodies.check_body(fmt, body, request["modelId"])
        except bodies.BodyError as err:
            raise validation_error(operation, str(err)) from None
        answer = generate(read_request(fmt, body))
        data = json.dumps(response_body(fmt, answer, request["modelId"])).encode("utf-8")
        return {
            "body": StreamingBody(io.BytesIO(data), len(data)),
            "contentType": "application/json",
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    def converse(self, **request: Any) -> dict[str, Any]:
        operation = "Converse"
        self._runtime_check(operation, request)
        body = {k: v for k, v in request.items() if k != "modelId"}
        try:
            bodies.check_body(bodies.CONVERSE, body, request["modelId"])
        except bodies.BodyError as err:
            raise validation_error(operation, str(err)) from None
        answer = generate(read_request(bodies.CONVERSE, body))
        return {
            **response_body(bodies.CONVERSE, answer, request["modelId"]),
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }


def _listed(job: dict[str, Any], request: dict[str, Any]) -> bool:
    """Whether a job passes ListModelInvocationJobs' filters."""
    if "statusEquals" in request and job["status"] != request["statusEquals"]:
        return False
    if "nameContains" in request and request["nameContains"] not in job["jobName"]:
        return False
    if "submitTimeAfter" in request and job["submitTime"] <= request["submitTimeAfter"]:
        return False
    return not ("submitTimeBefore" in request and job["submitTime"] >= request["submitTimeBefore"])


_instance_lock = threading.Lock()
_instance: LocalBedrock | None = None


def local_bedrock() -> LocalBedrock:
    """The process-wide double: every Lambda invocation in this process sees the same jobs."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = LocalBedrock()
        return _instance


def reset_local_bedrock(**options: Any) -> LocalBedrock:
    """Wait for running jobs, forget every job, and start a new double with ``options``."""
    global _instance
    with _instance_lock:
        previous, _instance = _instance, LocalBedrock(**options)
        current = _instance
    if previous is not None:
        previous.shutdown()
    return current
