"""The local SageMaker job backend: the SageMaker calls the Lambdas make, answered on this machine.

The embedded runtime hands :func:`local_job_backend` to the handlers as their SageMaker client
(``radimpress.clients.override("sagemaker", local_job_backend)``). It answers the calls the
pipeline makes (create/describe/stop training and transform jobs, create/describe model) with
boto3's request and response shapes: requests are checked as boto3 checks them and refused with
SageMaker's error codes (``api_checks``); the container an image URI names runs the job
(``CONTAINER_FINDERS``, ``containers``); around it the backend does SageMaker's part
(``training_job``, ``transform_job``) and the job moves through SageMaker's states on a thread
(``lifecycle``), so the state machine's Wait/JobStatus loop really polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radimpress import clients
from radimpress.spec import LOCAL_IMAGE_PREFIX
from radimpress_workstation.embedded.aws_authorization import (
    job_s3,
    require_sagemaker_call,
    unchecked,
)
from radimpress_workstation.job_backend.api_checks import (
    arn,
    check_request,
    split_s3_uri,
    validation_error,
)
from radimpress_workstation.job_backend.containers import Container, ContainerFinder
from radimpress_workstation.job_backend.endpoints import EndpointsDouble
from radimpress_workstation.job_backend.job_record import Job, now
from radimpress_workstation.job_backend.jsonpath import compile_json_path
from radimpress_workstation.job_backend.jumpstart import find_jumpstart_container
from radimpress_workstation.job_backend.lifecycle import JobLifecycle
from radimpress_workstation.job_backend.local_container import find_local_container
from radimpress_workstation.job_backend.registry import ModelRegistryDouble
from radimpress_workstation.job_backend.training_job import run_training_job
from radimpress_workstation.job_backend.transform_job import run_transform_job
from radimpress_workstation.job_backend.transform_workers import WarmWorkers, concurrency
from radimpress_workstation.job_backend.work_dirs import JOB_SCRATCH

# Lines a transform job hands the container at once. The local models answer a batch with a
# few sparse products per index cluster, whatever its size: 50,000 findings against 50,000
# training reports took 52 s in batches of 512 and 19-27 s in batches of 4,096 (16,384: no
# faster), the same impressions; the models' own batch is 4,096 (consensus.PREDICT_BATCH).
PREDICT_BATCH = 4096
# Asked in order for the container behind an image URI; the first that knows it runs the job.
CONTAINER_FINDERS: tuple[ContainerFinder, ...] = (find_local_container, find_jumpstart_container)


def container_for(image: str, operation: str) -> Container:
    """The container an image URI names, or a ValidationException listing the local models."""
    for find in CONTAINER_FINDERS:
        container = find(image)
        if container is not None:
            return container
    from radimpress_training.models import available_models

    raise validation_error(
        operation,
        f"image {image!r} cannot run on the local job backend (only JumpStart's Deep Learning "
        f"Container images have a local double); use {LOCAL_IMAGE_PREFIX}<model> with one of "
        f"the local models: {', '.join(available_models())}",
    )


class LocalJobBackend:
    """Answers the SageMaker calls the Lambdas make; jobs run on a small thread pool."""

    def __init__(
        self,
        s3_factory: Callable[[], Any] | None = None,
        max_workers: int = 2,
        predict_batch: int = PREDICT_BATCH,
        work_root: Path | None = None,
    ) -> None:
        # The service's own S3 access (the container doubles' public artifacts); a job's reads
        # and writes go through ``job_s3``, as the execution role its request names.
        self._s3_factory = unchecked(s3_factory or clients.s3)
        self._jobs = JobLifecycle(max_workers, self._notify)
        self._models_lock = threading.Lock()
        self._models: dict[str, dict[str, Any]] = {}
        self._predict_batch = predict_batch
        # The jobs' working directories (patient text): under the run folder when the runtime
        # names one, else the system temp folder; removed however a job ends (``work_dirs``).
        self._work_root = work_root
        self.on_job_change: Callable[[str, str, str], None] | None = None
        # Model-server workers started ahead of a transform of their image (warm_transform_workers).
        self._warm_lock = threading.Lock()
        self._warm: dict[str, WarmWorkers] = {}
        # The Model Registry: kept in moto's SageMaker backend, behind the service's contract.
        self.registry = ModelRegistryDouble(unchecked(lambda: clients.boto3_client("sagemaker")))
        self.create_model_package = self.registry.create_model_package
        self.describe_model_package = self.registry.describe_model_package
        self.list_model_packages = self.registry.list_model_packages
        self.update_model_package = self.registry.update_model_package
        # Real-time endpoints of the models created here (no serving: see `radimpress serve`).
        self.endpoints = EndpointsDouble(self._has_model)
        for call in (
            "create_endpoint_config",
            "describe_endpoint_config",
            "list_endpoint_configs",
            "delete_endpoint_config",
            "create_endpoint",
            "update_endpoint",
            "describe_endpoint",
        ):
            setattr(self, call, getattr(self.endpoints, call))

    def _has_model(self, name: str) -> bool:
        with self._models_lock:
            return name in self._models

    def _notify(self, job: Job) -> None:
        if self.on_job_change is not None:
            self.on_job_change(job.kind, job.name, job.status)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has ended (tests, shutdown)."""
        self._jobs.wait(timeout)

    def job_seconds(self) -> dict[str, float]:
        """Seconds the ended jobs computed, per kind (``training_job``, ``transform_job``)."""
        return self._jobs.job_seconds()

    def ended_event(self, kind: str, name: str) -> threading.Event | None:
        """The event set when job ``name`` of ``kind`` ends (Completed, Failed or Stopped);
        None for a job this backend does not run (the embedded stack's ``job_ended``)."""
        job = self._jobs.find(kind, name)
        return job.ended_event if job is not None else None

    def shutdown(self) -> None:
        self._jobs.shutdown()
        with self._warm_lock:
            warm, self._warm = list(self._warm.values()), {}
        for workers in warm:
            workers.shutdown()

    def warm_transform_workers(self, image: str) -> bool:
        """Start the model-server workers of a transform of ``image`` that is coming (the local
        runtime knows: an inference run follows its training run), so their start-up uses a CPU
        that is idle now; the next transform job of ``image`` served by as many workers takes
        them (:func:`transform_workers.answering`; one served in its thread leaves them). False
        when its container serves in the job's thread."""
        container = container_for(image, "CreateTransformJob")
        warm_up = container.worker_warm_up()
        workers = concurrency({}, container)
        if warm_up is None or workers < 2:
            return False
        started = WarmWorkers(workers, warm_up)
        with self._warm_lock:
            replaced = self._warm.pop(image, None)
            self._warm[image] = started
        if replaced is not None:
            replaced.shutdown()
        return True

    def _take_warm(self, image: str) -> WarmWorkers | None:
        with self._warm_lock:
            return self._warm.pop(image, None)

    # ----- training ----------------------------------------------------------------------------

    def create_training_job(self, **request: Any) -> dict[str, Any]:
        operation = "CreateTrainingJob"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        image = request["AlgorithmSpecification"].get("TrainingImage", "")
        container = container_for(image, operation).bind(operation, request, self._s3_factory)
        for channel in request.get("InputDataConfig", []):
            s3_source = channel.get("DataSource", {}).get("S3DataSource")
            if not s3_source:
                raise validation_error(
                    operation,
                    f"channel {channel['ChannelName']!r}: only S3DataSource is supported locally",
                )
            split_s3_uri(s3_source["S3Uri"], f"channel {channel['ChannelName']!r}", operation)
        split_s3_uri(
            request["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath", operation
        )
        job = Job("training", request["TrainingJobName"], request)
        self._jobs.register(job, operation)
        s3 = job_s3(request.get("RoleArn"), self._s3_factory)
        self._jobs.start(job, lambda j: run_training_job(j, container, s3, self._work_root))
        return {"TrainingJobArn": arn("training-job", job.name)}

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        require_sagemaker_call("DescribeTrainingJob", {"TrainingJobName": TrainingJobName})
        job = self._jobs.get("training", TrainingJobName, "DescribeTrainingJob")
        request = job.request
        response: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": arn("training-job", job.name),
            "TrainingJobStatus": job.status,
            "SecondaryStatus": {"InProgress": "Training", "Completed": "Completed"}.get(
                job.status, job.status
            ),
            "AlgorithmSpecification": request["AlgorithmSpecification"],
            "RoleArn": request.get("RoleArn"),
            "InputDataConfig": request.get("InputDataConfig", []),
            "OutputDataConfig": request["OutputDataConfig"],
            "ResourceConfig": request["ResourceConfig"],
            "StoppingCondition": request["StoppingCondition"],
            "HyperParameters": request.get("HyperParameters", {}),
            "Environment": request.get("Environment", {}),
            "CreationTime": job.created,
            "LastModifiedTime": job.ended or job.started or job.created,
            "ModelArtifacts": {"S3ModelArtifacts": job.artifact or ""},
        }
        if job.started:
            response["TrainingStartTime"] = job.started
        if job.ended:
            response["TrainingEndTime"] = job.ended
            seconds = max(1, int((job.ended - (job.started or job.created)).total_seconds()))
            response["TrainingTimeInSeconds"] = seconds
            response["BillableTimeInSeconds"] = seconds
        if job.failure_reason:
            response["FailureReason"] = job.failure_reason
        return response

    def stop_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        require_sagemaker_call("StopTrainingJob", {"TrainingJobName": TrainingJobName})
        self._jobs.stop("training", TrainingJobName, "StopTrainingJob")
        return {}

    # ----- models ------------------------------------------------------------------------------

    def create_model(self, **request: Any) -> dict[str, Any]:
        operation = "CreateModel"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        primary = request.get("PrimaryContainer")
        if not primary or "Image" not in primary:
            raise validation_error(operation, "PrimaryContainer.Image is required locally")
        container = container_for(primary["Image"], operation)
        container.bind(operation, request, self._s3_factory).check_model(primary, operation)
        if primary.get("ModelDataUrl"):
            split_s3_uri(primary["ModelDataUrl"], "ModelDataUrl", operation)
        with self._models_lock:
            if request["ModelName"] in self._models:
                raise validation_error(
                    operation,
                    f"Cannot create already existing model {arn('model', request['ModelName'])}",
                )
            self._models[request["ModelName"]] = {**request, "_created": now()}
        return {"ModelArn": arn("model", request["ModelName"])}

    def describe_model(self, *, ModelName: str) -> dict[str, Any]:
        require_sagemaker_call("DescribeModel", {"ModelName": ModelName})
        with self._models_lock:
            request = self._models.get(ModelName)
        if request is None:
            raise validation_error(
                "DescribeModel", f"Could not find model {arn('model', ModelName)}."
            )
        response = {k: v for k, v in request.items() if not k.startswith("_")}
        response["ModelArn"] = arn("model", ModelName)
        response["CreationTime"] = request["_created"]
        return response

    # ----- transform ---------------------------------------------------------------------------

    def create_transform_job(self, **request: Any) -> dict[str, Any]:
        operation = "CreateTransformJob"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        with self._models_lock:
            model = self._models.get(request["ModelName"])
        if model is None:
            raise validation_error(
                operation, f"Could not find model {arn('model', request['ModelName'])}."
            )
        primary = model["PrimaryContainer"]
        if primary.get("ModelDataSource"):
            # As on SageMaker: Batch Transform needs a compressed model.tar.gz (ModelDataUrl).
            raise validation_error(
                operation,
                "Batch Transform does not support models with ModelDataSource; create the model "
                "with ModelDataUrl pointing at a model.tar.gz",
            )
        transform_input = request["TransformInput"]
        source = transform_input["DataSource"]["S3DataSource"]
        if source["S3DataType"] != "S3Prefix":
            raise validation_error(operation, "only S3DataType=S3Prefix is supported locally")
        split_s3_uri(source["S3Uri"], "TransformInput S3Uri", operation)
        split_s3_uri(request["TransformOutput"]["S3OutputPath"], "S3OutputPath", operation)
        if transform_input.get("CompressionType", "None") != "None":
            raise validation_error(operation, "only CompressionType=None is supported locally")
        if transform_input.get("SplitType", "None") != "Line":
            raise validation_error(operation, "only SplitType=Line is supported locally")
        processing = request.get("DataProcessing", {})
        try:
            filters = (
                compile_json_path(processing.get("InputFilter", "$")),
                compile_json_path(processing.get("OutputFilter", "$")),
            )
        except ValueError as err:
            raise validation_error(operation, str(err)) from None
        container = container_for(primary["Image"], operation).bind(
            operation, request, self._s3_factory, model=model
        )
        job = Job("transform", request["TransformJobName"], request)
        self._jobs.register(job, operation)
        # A transform job runs as its model's execution role.
        s3 = job_s3(model.get("ExecutionRoleArn"), self._s3_factory)
        image = primary["Image"]
        self._jobs.start(
            job,
            lambda j: run_transform_job(
                j,
                container,
                primary,
                filters,
                s3,
                self._predict_batch,
                self._work_root,
                lambda: self._take_warm(image),
            ),
        )
        return {"TransformJobArn": arn("transform-job", job.name)}

    def describe_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        require_sagemaker_call("DescribeTransformJob", {"TransformJobName": TransformJobName})
        job = self._jobs.get("transform", TransformJobName, "DescribeTransformJob")
        request = job.request
        response: dict[str, Any] = {
            "TransformJobName": job.name,
            "TransformJobArn": arn("transform-job", job.name),
            "TransformJobStatus": job.status,
            "ModelName": request["ModelName"],
            "TransformInput": request["TransformInput"],
            "TransformOutput": request["TransformOutput"],
            "TransformResources": request["TransformResources"],
            "CreationTime": job.created,
        }
        for key in ("MaxConcurrentTransforms", "MaxPayloadInMB", "BatchStrategy", "Environment"):
            if key in request:
                response[key] = request[key]
        if "DataProcessing" in request:
            response["DataProcessing"] = request["DataProcessing"]
        if job.started:
            response["TransformStartTime"] = job.started
        if job.ended:
            response["TransformEndTime"] = job.ended
        if job.failure_reason:
            response["FailureReason"] = job.failure_reason
        return response

    def stop_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        require_sagemaker_call("StopTransformJob", {"TransformJobName": TransformJobName})
        self._jobs.stop("transform", TransformJobName, "StopTransformJob")
        return {}


_backend_lock = threading.Lock()
_backend: LocalJobBackend | None = None
_work_root: Path | None = None


def local_job_backend() -> LocalJobBackend:
    """The process-wide backend: every Lambda invocation in this process sees the same jobs."""
    global _backend
    with _backend_lock:
        if _backend is None:
            _backend = LocalJobBackend(work_root=_work_root)
        return _backend


def reset_local_job_backend(run_folder: Path | None = None) -> None:
    """Wait for running jobs and forget every job and model (a new embedded stack, a test);
    the next backend keeps its jobs' working directories in ``run_folder`` (under
    ``JOB_SCRATCH``; None: in the system temp folder)."""
    global _backend, _work_root
    with _backend_lock:
        backend, _backend = _backend, None
        _work_root = run_folder / JOB_SCRATCH if run_folder is not None else None
    if backend is not None:
        backend.shutdown()
