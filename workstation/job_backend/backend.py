"""The local SageMaker job backend: training and Batch Transform jobs run on this machine.

The Lambdas call ``clients.sagemaker()``; with ``RADIMPRESS_JOB_BACKEND=local`` they get
:func:`local_job_backend` instead of boto3's client. It answers the six calls the pipeline makes
with boto3's request and response shapes (requests are checked against botocore's own SageMaker
service model, errors are ``botocore.exceptions.ClientError`` with SageMaker's error codes) and
honours the contracts a real job sees:

- a training job downloads every ``InputDataConfig`` channel from S3 into
  ``<job dir>/input/data/<channel>``, runs the local model named by the training image
  (``radimpress-local/<model>``), which writes itself into ``<job dir>/model`` (``SM_MODEL_DIR``),
  and the backend packs that folder as ``<S3OutputPath>/<job>/output/model.tar.gz``;
- a transform job reads every object under the ``TransformInput`` S3 prefix line by line, applies
  ``DataProcessing`` (InputFilter, JoinSource=Input, OutputFilter), generates with the model and
  writes ``<S3OutputPath>/<input file name>.out``, one line out per line in, order kept;
- jobs run on a background thread and move ``InProgress`` -> ``Completed``/``Failed``, so the
  state machine's Wait/JobStatus loop really polls. ``FailureReason`` names the job, file, line
  and field at fault, never report text.

S3 goes through boto3 (``radimpress.clients.s3()``), so in the embedded runtime the jobs read and
write moto's bucket exactly as a real job reads and writes S3.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from radimpress import clients
from radimpress.storage import json_objects

LOCAL_IMAGE_PREFIX = "radimpress-local/"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT = "123456789012"  # moto's default account: ARNs look like the ones the mock hands out
MAX_FAILURE_REASON = 1024  # SageMaker's limit on FailureReason
PREDICT_BATCH = 512
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_DEFAULT_TEMPLATE = {"prompt": "{prompt}", "completion": "{completion}"}


# --------------------------------------------------------------------------------------------
# Errors and request validation with SageMaker's own shapes
# --------------------------------------------------------------------------------------------


def _client_error(operation: str, code: str, message: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


class _ServiceModel:
    """botocore's SageMaker model, loaded once: requests are validated as boto3 would."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def validate(cls, operation: str, params: Mapping[str, Any]) -> None:
        from botocore.session import get_session
        from botocore.validate import validate_parameters

        with cls._lock:
            if cls._model is None:
                cls._model = get_session().get_service_model("sagemaker")
        validate_parameters(dict(params), cls._model.operation_model(operation).input_shape)


def _local_model_name(image: str, operation: str) -> str:
    """The local model an image names, or a ValidationException listing the local models."""
    from radimpress_training.models import available_models

    names = available_models()
    if image.startswith(LOCAL_IMAGE_PREFIX) and image[len(LOCAL_IMAGE_PREFIX) :] in names:
        return image[len(LOCAL_IMAGE_PREFIX) :]
    raise _client_error(
        operation,
        "ValidationException",
        f"image {image!r} cannot run on the local job backend (JumpStart and other container "
        f"images need SageMaker); use {LOCAL_IMAGE_PREFIX}<model> with one of the local "
        f"models: {', '.join(names)}",
    )


def _split_s3_uri(uri: str, what: str, operation: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket:
        raise _client_error(operation, "ValidationException", f"{what} must be an s3:// URI")
    return bucket, key


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


def _now() -> datetime:
    return datetime.now(UTC)


class JobFailed(Exception):
    """A job failed for a reason that is safe to show (names, positions, never report text)."""


class _StopJob(Exception):
    """StopTrainingJob / StopTransformJob reached a running job."""


# --------------------------------------------------------------------------------------------
# A minimal JSONPath for DataProcessing filters
# --------------------------------------------------------------------------------------------

_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[((?:'[^']*'\s*,?\s*)+)\]")


def compile_json_path(expression: str) -> Callable[[Any], Any]:
    """Compile the JSONPath subset Batch Transform filters use: ``$``, ``$.a.b``, ``$['a','b']``.

    A multi-name step (``$['a','b']``) selects those members into a new object, as SageMaker does
    for OutputFilter. Anything else raises ValueError.
    """
    if not expression.startswith("$"):
        raise ValueError(f"JSONPath {expression!r} must start with '$'")
    steps: list[list[str]] = []
    position = 1
    while position < len(expression):
        match = _PATH_STEP.match(expression, position)
        if not match:
            raise ValueError(f"unsupported JSONPath {expression!r} at character {position}")
        if match.group(1):
            steps.append([match.group(1)])
        else:
            steps.append(re.findall(r"'([^']*)'", match.group(2)))
        position = match.end()

    def apply(value: Any) -> Any:
        for names in steps:
            if not isinstance(value, dict):
                raise JobFailed(f"JSONPath {expression!r} needs a JSON object")
            missing = [n for n in names if n not in value]
            if len(names) == 1:
                if missing:
                    raise JobFailed(f"JSONPath {expression!r}: field {names[0]!r} is missing")
                value = value[names[0]]
            else:
                value = {n: value[n] for n in names if n in value}
        return value

    return apply


# --------------------------------------------------------------------------------------------
# Job records
# --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One job's request and status; ``describe`` builds boto3's response from it."""

    kind: str
    name: str
    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    created: datetime = field(default_factory=_now)
    started: datetime | None = None
    ended: datetime | None = None
    artifact: str | None = None
    future: Future[None] | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)

    def check_stop(self) -> None:
        """Called by the work between steps: a stopped job ends at the next step."""
        if self.stop_requested.is_set():
            raise _StopJob


# --------------------------------------------------------------------------------------------
# Training: channels in, model dir out, model.tar.gz to S3
# --------------------------------------------------------------------------------------------


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        yield from json_objects(handle, path.name, JobFailed)


def _render(template: str, record: Mapping[str, Any], where: str) -> str:
    try:
        return template.format_map(record)
    except KeyError as err:
        missing = err.args[0]
        raise JobFailed(f"{where}: field {missing!r} named by template.json is missing") from None
    except (IndexError, ValueError) as err:
        problem = type(err).__name__
        raise JobFailed(f"{where}: template.json cannot be applied ({problem})") from None


def run_local_training(model_name: str, env: Mapping[str, str]) -> None:
    """The entry point a local training "container" runs, given SageMaker's ``SM_*`` variables.

    Reads every ``*.jsonl`` in the training channel (``SM_CHANNEL_TRAINING``), turns each line
    into a (prompt, completion) pair with ``template.json`` as JumpStart does, fits the model and
    saves it into ``SM_MODEL_DIR``. The environment is passed in, not read from os.environ, so
    concurrent jobs do not race.
    """
    from radimpress_training.models import TrainingPair, get_model_class

    model_class = get_model_class(model_name)
    pairs: list[TrainingPair] = []
    if model_class.needs_training:
        channel = Path(env.get("SM_CHANNEL_TRAINING", ""))
        if not channel.is_dir():
            raise JobFailed(f"model {model_name!r} needs a 'training' channel")
        template = dict(_DEFAULT_TEMPLATE)
        template_file = channel / "template.json"
        if template_file.exists():
            try:
                template.update(json.loads(template_file.read_text(encoding="utf-8")))
            except json.JSONDecodeError:
                raise JobFailed("template.json is not valid JSON") from None
        files = sorted(channel.rglob("*.jsonl"))
        if not files:
            raise JobFailed("the training channel holds no *.jsonl file")
        for path in files:
            for number, record in _iter_jsonl(path):
                where = f"{path.name} line {number}"
                pairs.append(
                    TrainingPair(
                        _render(template["prompt"], record, where),
                        _render(template["completion"], record, where),
                    )
                )
        if not pairs:
            raise JobFailed("the training channel holds no records")
    model = model_class().fit(pairs)
    model.save(env["SM_MODEL_DIR"])


# --------------------------------------------------------------------------------------------
# Transform: the local "inference container"
# --------------------------------------------------------------------------------------------


def _prompt_of(payload: Any) -> str:
    """Accept the JumpStart text2text request (``{"text_inputs": ...}``) or a bare string."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("text_inputs"), str):
        return payload["text_inputs"]
    raise JobFailed("model input must be a string or an object with 'text_inputs'")


class LocalJobBackend:
    """Answers the SageMaker calls the Lambdas make; jobs run on a small thread pool."""

    def __init__(
        self,
        s3_factory: Callable[[], Any] | None = None,
        max_workers: int = 2,
        predict_batch: int = PREDICT_BATCH,
    ) -> None:
        self._s3_factory = s3_factory or clients.s3
        self._lock = threading.Lock()
        self._training: dict[str, _Job] = {}
        self._transform: dict[str, _Job] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-job")
        self._predict_batch = predict_batch
        self.on_job_change: Callable[[str, str, str], None] | None = None

    # ----- bookkeeping -------------------------------------------------------------------------

    def _register(self, table: dict[str, _Job], job: _Job, operation: str) -> None:
        if not _NAME.match(job.name):
            raise _client_error(
                operation, "ValidationException", f"job name {job.name!r} is not a valid name"
            )
        with self._lock:
            if job.name in table:
                raise _client_error(
                    operation,
                    "ResourceInUse",
                    f"{job.kind} job names must be unique within an AWS account and region, "
                    f"and a job with this name already exists ({_arn(job.kind, job.name)})",
                )
            table[job.name] = job

    def _start(self, job: _Job, work: Callable[[_Job], None]) -> None:
        job.future = self._pool.submit(self._run, job, work)

    def _run(self, job: _Job, work: Callable[[_Job], None]) -> None:
        job.started = _now()
        self._notify(job)
        try:
            job.check_stop()
            work(job)
            job.check_stop()
        except _StopJob:
            self._finish(job, "Stopped", None)
        except JobFailed as err:
            self._finish(job, "Failed", f"{type(err).__name__}: {err}")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            self._finish(job, "Failed", f"S3 {err.operation_name} failed: {code}")
        except Exception as err:  # a model bug: name the exception and where, not its arguments
            frame = traceback.extract_tb(err.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            self._finish(job, "Failed", f"AlgorithmError: {type(err).__name__} at {where}")
        else:
            self._finish(job, "Completed", None)

    def _finish(self, job: _Job, status: str, reason: str | None) -> None:
        with self._lock:  # atomic with _stop: a stop that won the race turns Completed into Stopped
            if job.ended is not None:
                return
            if job.stop_requested.is_set() and status == "Completed":
                status = "Stopped"
            if reason is not None:
                reason = f"{job.kind} job {job.name}: {reason}"[:MAX_FAILURE_REASON]
            job.failure_reason = reason
            job.ended = _now()
            job.status = status
        self._notify(job)

    def _stop(self, table: dict[str, _Job], name: str, operation: str) -> None:
        """Ask a job to stop: Stopping now, Stopped when its work reaches the next step."""
        job = self._get(table, name, operation)
        with self._lock:
            if job.status != "InProgress":
                raise _client_error(
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

    def stop_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        self._stop(self._training, TrainingJobName, "StopTrainingJob")
        return {}

    def stop_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        self._stop(self._transform, TransformJobName, "StopTransformJob")
        return {}

    def _notify(self, job: _Job) -> None:
        if self.on_job_change is not None:
            self.on_job_change(job.kind, job.name, job.status)

    def _get(self, table: dict[str, _Job], name: str, operation: str) -> _Job:
        with self._lock:
            job = table.get(name)
        if job is None:
            raise _client_error(operation, "ValidationException", "Requested resource not found.")
        return job

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has ended (tests, shutdown)."""
        with self._lock:
            futures = [j.future for j in (*self._training.values(), *self._transform.values())]
        for future in futures:
            if future is not None:
                future.result(timeout)

    def job_seconds(self) -> dict[str, float]:
        """Seconds the ended jobs computed, per kind (``training_job``, ``transform_job``)."""
        totals: dict[str, float] = {}
        with self._lock:
            jobs = [*self._training.values(), *self._transform.values()]
        for job in jobs:
            if job.started and job.ended:
                key = f"{job.kind}_job"
                totals[key] = totals.get(key, 0.0) + (job.ended - job.started).total_seconds()
        return totals

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    # ----- S3 helpers --------------------------------------------------------------------------

    def _download_prefix(self, uri: str, target: Path, where: str) -> list[Path]:
        """Copy every object under an S3 prefix into ``target``, keeping the key after it."""
        bucket, prefix = _split_s3_uri(uri, where, "")
        s3 = self._s3_factory()
        files = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                # The part of the key after the prefix; a prefix naming one file keeps its name.
                relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                local = target / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(local))
                files.append(local)
        if not files:
            raise JobFailed(f"{where}: no object under {uri}")
        return files

    # ----- training ----------------------------------------------------------------------------

    def create_training_job(self, **request: Any) -> dict[str, Any]:
        operation = "CreateTrainingJob"
        try:
            _ServiceModel.validate(operation, request)
        except ParamValidationError as err:
            raise _client_error(operation, "ValidationException", str(err)) from None
        image = request["AlgorithmSpecification"].get("TrainingImage", "")
        model_name = _local_model_name(image, operation)
        for channel in request.get("InputDataConfig", []):
            s3_source = channel.get("DataSource", {}).get("S3DataSource")
            if not s3_source:
                raise _client_error(
                    operation,
                    "ValidationException",
                    f"channel {channel['ChannelName']!r}: only S3DataSource is supported locally",
                )
            _split_s3_uri(s3_source["S3Uri"], f"channel {channel['ChannelName']!r}", operation)
        _split_s3_uri(
            request["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath", operation
        )
        job = _Job("training", request["TrainingJobName"], request)
        self._register(self._training, job, operation)
        self._start(job, lambda j: self._train(j, model_name))
        return {"TrainingJobArn": _arn("training-job", job.name)}

    def _train(self, job: _Job, model_name: str) -> None:
        request = job.request
        with tempfile.TemporaryDirectory(prefix=f"radimpress-{job.name}-") as tmp:
            root = Path(tmp)
            channels = {}
            for channel in request.get("InputDataConfig", []):
                job.check_stop()
                name = channel["ChannelName"]
                target = root / "input" / "data" / name
                target.mkdir(parents=True)
                self._download_prefix(
                    channel["DataSource"]["S3DataSource"]["S3Uri"], target, f"channel {name!r}"
                )
                channels[name] = target
            model_dir = root / "model"
            output_dir = root / "output" / "data"
            model_dir.mkdir()
            output_dir.mkdir(parents=True)
            env = {
                **request.get("Environment", {}),
                "SM_MODEL_DIR": str(model_dir),
                "SM_INPUT_DIR": str(root / "input"),
                "SM_OUTPUT_DATA_DIR": str(output_dir),
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(request.get("HyperParameters", {})),
                "SM_CURRENT_HOST": "algo-1",
                "TRAINING_JOB_NAME": job.name,
                **{f"SM_CHANNEL_{n.upper()}": str(p) for n, p in channels.items()},
            }
            job.check_stop()
            run_local_training(model_name, env)
            job.check_stop()
            if not any(model_dir.iterdir()):
                raise JobFailed("the model wrote nothing to SM_MODEL_DIR")
            output = request["OutputDataConfig"]
            bucket, prefix = _split_s3_uri(output["S3OutputPath"], "S3OutputPath", "")
            prefix = prefix.rstrip("/")
            job_prefix = f"{prefix}/{job.name}/output" if prefix else f"{job.name}/output"
            s3 = self._s3_factory()
            if output.get("CompressionType", "GZIP") == "NONE":
                for path in sorted(model_dir.rglob("*")):
                    if path.is_file():
                        rel = path.relative_to(model_dir).as_posix()
                        s3.upload_file(str(path), bucket, f"{job_prefix}/model/{rel}")
                job.artifact = f"s3://{bucket}/{job_prefix}/model/"
            else:
                archive = root / "model.tar.gz"
                with tarfile.open(archive, "w:gz") as tar:
                    for path in sorted(model_dir.iterdir()):
                        tar.add(path, arcname=path.name)
                s3.upload_file(str(archive), bucket, f"{job_prefix}/model.tar.gz")
                job.artifact = f"s3://{bucket}/{job_prefix}/model.tar.gz"

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        job = self._get(self._training, TrainingJobName, "DescribeTrainingJob")
        request = job.request
        response: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": _arn("training-job", job.name),
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

    # ----- models ------------------------------------------------------------------------------

    def create_model(self, **request: Any) -> dict[str, Any]:
        operation = "CreateModel"
        try:
            _ServiceModel.validate(operation, request)
        except ParamValidationError as err:
            raise _client_error(operation, "ValidationException", str(err)) from None
        container = request.get("PrimaryContainer")
        if not container or "Image" not in container:
            raise _client_error(
                operation, "ValidationException", "PrimaryContainer.Image is required locally"
            )
        model_name = _local_model_name(container["Image"], operation)
        from radimpress_training.models import get_model_class

        has_data = bool(container.get("ModelDataUrl") or container.get("ModelDataSource"))
        if get_model_class(model_name).needs_training and not has_data:
            raise _client_error(
                operation,
                "ValidationException",
                f"local model {model_name!r} is trained: PrimaryContainer.ModelDataUrl must "
                "point at its model.tar.gz",
            )
        if container.get("ModelDataUrl"):
            _split_s3_uri(container["ModelDataUrl"], "ModelDataUrl", operation)
        with self._lock:
            if request["ModelName"] in self._models:
                raise _client_error(
                    operation,
                    "ValidationException",
                    f"Cannot create already existing model {_arn('model', request['ModelName'])}",
                )
            self._models[request["ModelName"]] = {**request, "_created": _now()}
        return {"ModelArn": _arn("model", request["ModelName"])}

    def describe_model(self, *, ModelName: str) -> dict[str, Any]:
        with self._lock:
            request = self._models.get(ModelName)
        if request is None:
            raise _client_error(
                "DescribeModel",
                "ValidationException",
                f"Could not find model {_arn('model', ModelName)}.",
            )
        response = {k: v for k, v in request.items() if not k.startswith("_")}
        response["ModelArn"] = _arn("model", ModelName)
        response["CreationTime"] = request["_created"]
        return response

    # ----- transform ---------------------------------------------------------------------------

    def create_transform_job(self, **request: Any) -> dict[str, Any]:
        operation = "CreateTransformJob"
        try:
            _ServiceModel.validate(operation, request)
        except ParamValidationError as err:
            raise _client_error(operation, "ValidationException", str(err)) from None
        with self._lock:
            model = self._models.get(request["ModelName"])
        if model is None:
            raise _client_error(
                operation,
                "ValidationException",
                f"Could not find model {_arn('model', request['ModelName'])}.",
            )
        container = model["PrimaryContainer"]
        if container.get("ModelDataSource"):
            # As on SageMaker: Batch Transform needs a compressed model.tar.gz (ModelDataUrl).
            raise _client_error(
                operation,
                "ValidationException",
                "Batch Transform does not support models with ModelDataSource; create the model "
                "with ModelDataUrl pointing at a model.tar.gz",
            )
        source = request["TransformInput"]["DataSource"]["S3DataSource"]
        if source["S3DataType"] != "S3Prefix":
            raise _client_error(
                operation, "ValidationException", "only S3DataType=S3Prefix is supported locally"
            )
        _split_s3_uri(source["S3Uri"], "TransformInput S3Uri", operation)
        _split_s3_uri(request["TransformOutput"]["S3OutputPath"], "S3OutputPath", operation)
        if request["TransformInput"].get("CompressionType", "None") != "None":
            raise _client_error(
                operation, "ValidationException", "only CompressionType=None is supported locally"
            )
        if request["TransformInput"].get("SplitType", "None") != "Line":
            raise _client_error(
                operation, "ValidationException", "only SplitType=Line is supported locally"
            )
        processing = request.get("DataProcessing", {})
        try:
            filters = (
                compile_json_path(processing.get("InputFilter", "$")),
                compile_json_path(processing.get("OutputFilter", "$")),
            )
        except ValueError as err:
            raise _client_error(operation, "ValidationException", str(err)) from None
        job = _Job("transform", request["TransformJobName"], request)
        self._register(self._transform, job, operation)
        model_name = _local_model_name(container["Image"], operation)
        self._start(job, lambda j: self._transform_run(j, model_name, container, filters))
        return {"TransformJobArn": _arn("transform-job", job.name)}

    def _load_model(self, model_name: str, container: Mapping[str, Any], root: Path) -> Any:
        from radimpress_training.models import get_model_class, load_model

        url = container.get("ModelDataUrl")
        if not url:
            return get_model_class(model_name)()
        bucket, key = _split_s3_uri(url, "ModelDataUrl", "")
        archive = root / "model.tar.gz"
        try:
            self._s3_factory().download_file(bucket, key, str(archive))
        except ClientError:
            raise JobFailed(f"cannot read the model artifact {url}") from None
        model_dir = root / "model"
        model_dir.mkdir()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(model_dir, filter="data")
        except (tarfile.TarError, OSError):
            raise JobFailed(f"the model artifact {url} is not a readable model.tar.gz") from None
        model = load_model(model_dir)
        if model.name != model_name:
            raise JobFailed(
                f"the model artifact holds a {model.name!r} model but the image runs {model_name!r}"
            )
        return model

    def _transform_run(
        self,
        job: _Job,
        model_name: str,
        container: Mapping[str, Any],
        filters: tuple[Callable[[Any], Any], Callable[[Any], Any]],
    ) -> None:
        request = job.request
        join_input = request.get("DataProcessing", {}).get("JoinSource", "None") == "Input"
        line_end = "\n" if request["TransformOutput"].get("AssembleWith", "None") == "Line" else ""
        out_bucket, out_prefix = _split_s3_uri(
            request["TransformOutput"]["S3OutputPath"], "S3OutputPath", ""
        )
        out_prefix = out_prefix.rstrip("/")
        s3 = self._s3_factory()
        with tempfile.TemporaryDirectory(prefix=f"radimpress-{job.name}-") as tmp:
            root = Path(tmp)
            model = self._load_model(model_name, container, root)
            inputs = self._download_prefix(
                request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
                root / "input",
                "TransformInput",
            )
            for index, path in enumerate(inputs):
                job.check_stop()
                relative = path.relative_to(root / "input").as_posix()
                out_path = root / f"output-{index}.out"
                self._transform_file(
                    job, model, path, out_path, relative, filters, join_input, line_end
                )
                key = f"{out_prefix}/{relative}.out" if out_prefix else f"{relative}.out"
                s3.upload_file(str(out_path), out_bucket, key)

    def _transform_file(
        self,
        job: _Job,
        model: Any,
        path: Path,
        out_path: Path,
        relative: str,
        filters: tuple[Callable[[Any], Any], Callable[[Any], Any]],
        join_input: bool,
        line_end: str,
    ) -> None:
        """Stream one input file through the model in batches: memory holds one batch."""
        with (
            path.open(encoding="utf-8") as handle,
            out_path.open("w", encoding="utf-8") as out,
        ):
            batch: list[tuple[int, Any, str]] = []
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                batch.append(self._parse_line(number, line, relative, filters[0]))
                if len(batch) >= self._predict_batch:
                    self._write_batch(
                        job, model, batch, out, relative, filters[1], join_input, line_end
                    )
                    batch = []
            if batch:
                self._write_batch(
                    job, model, batch, out, relative, filters[1], join_input, line_end
                )

    @staticmethod
    def _parse_line(
        number: int, line: str, relative: str, input_filter: Callable[[Any], Any]
    ) -> tuple[int, Any, str]:
        where = f"{relative} line {number}"
        try:
            record = json.loads(line)
        except ValueError:  # invalid JSON, or an integer too long for Python to read
            raise JobFailed(f"{where}: not valid JSON") from None
        try:
            return number, record, _prompt_of(input_filter(record))
        except JobFailed as err:
            raise JobFailed(f"{where}: {err}") from None

    @staticmethod
    def _write_batch(
        job: _Job,
        model: Any,
        batch: list[tuple[int, Any, str]],
        out: Any,
        relative: str,
        output_filter: Callable[[Any], Any],
        join_input: bool,
        line_end: str,
    ) -> None:
        job.check_stop()
        answers = model.predict([prompt for _, _, prompt in batch])
        if len(answers) != len(batch):
            raise JobFailed(f"{relative}: the model returned {len(answers)} of {len(batch)}")
        for (number, record, _), text in zip(batch, answers, strict=True):
            result: Any = {"generated_texts": [text]}
            if join_input:
                if not isinstance(record, dict):
                    raise JobFailed(f"{relative} line {number}: JoinSource=Input needs objects")
                result = {**record, "SageMakerOutput": result}
            try:
                result = output_filter(result)
            except JobFailed as err:
                raise JobFailed(f"{relative} line {number}: {err}") from None
            out.write(json.dumps(result, ensure_ascii=False))
            out.write(line_end)

    def describe_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        job = self._get(self._transform, TransformJobName, "DescribeTransformJob")
        request = job.request
        response: dict[str, Any] = {
            "TransformJobName": job.name,
            "TransformJobArn": _arn("transform-job", job.name),
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


_backend_lock = threading.Lock()
_backend: LocalJobBackend | None = None


def local_job_backend() -> LocalJobBackend:
    """The process-wide backend: every Lambda invocation in this process sees the same jobs."""
    global _backend
    with _backend_lock:
        if _backend is None:
            _backend = LocalJobBackend()
        return _backend


def reset_local_job_backend() -> None:
    """Wait for running jobs and forget every job and model (a new embedded stack, a test)."""
    global _backend
    with _backend_lock:
        backend, _backend = _backend, None
    if backend is not None:
        backend.shutdown()
