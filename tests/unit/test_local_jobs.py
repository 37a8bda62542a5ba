"""The local SageMaker job backend against moto's S3, without the state machine."""

from __future__ import annotations

import io
import json
import tarfile
import threading

import pytest
from botocore.exceptions import ClientError
from botocore.session import get_session
from handler_support import BUCKET, ROLE

from radimpress_workstation.job_backend.backend import LocalJobBackend
from radimpress_workstation.job_backend.jsonpath import compile_json_path
from radimpress_workstation.synthetic import generate_reports

PROCESSING = {
    "InputFilter": "$.inputs",
    "JoinSource": "Input",
    "OutputFilter": "$['study_id','SageMakerOutput']",
}


@pytest.fixture
def backend(s3):
    jobs = LocalJobBackend(s3_factory=lambda: s3)
    yield jobs
    jobs.shutdown()


@pytest.fixture
def gated(s3):
    """A backend whose jobs wait for ``gate`` before their first S3 call: (backend, gate)."""
    gate = threading.Event()

    def slow_s3():
        gate.wait(10)
        return s3

    jobs = LocalJobBackend(s3_factory=slow_s3)
    yield jobs, gate
    gate.set()
    jobs.shutdown()


def put_lines(s3, key: str, rows) -> None:
    body = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def training_request(name: str, image: str = "radimpress-local/retrieval", **extra):
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/runs/r1/train/data",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/", "CompressionType": "GZIP"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"epochs": "3"},
    }
    request.update(extra)
    return request


def transform_request(name: str, model: str, input_key: str = "runs/r1/transform/m/input.jsonl"):
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{input_key}"}
            },
            "ContentType": "application/json",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/runs/r1/transform/m/output",
            "AssembleWith": "Line",
            "Accept": "application/json",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": PROCESSING,
    }


def upload_training_set(s3, reports) -> None:
    put_lines(
        s3,
        "runs/r1/train/data/train.jsonl",
        [{"findings": r["findings"], "impression": r["impression"]} for r in reports],
    )
    template = {"prompt": "{findings}", "completion": "{impression}"}
    s3.put_object(
        Bucket=BUCKET, Key="runs/r1/train/data/template.json", Body=json.dumps(template).encode()
    )


def transform_lines(reports):
    return [
        {
            "study_id": r["study_id"],
            "inputs": {"text_inputs": r["findings"], "max_length": 100, "num_beams": 1},
        }
        for r in reports
    ]


def train(backend, s3, name="train-1", reports=None):
    reports = reports or generate_reports(60, seed=3)
    upload_training_set(s3, reports)
    backend.create_training_job(**training_request(name))
    backend.wait()
    return backend.describe_training_job(TrainingJobName=name), reports


def test_training_job_packs_the_model_as_model_tar_gz(backend, s3):
    described, _ = train(backend, s3)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{BUCKET}/models/train-1/output/model.tar.gz"
    body = s3.get_object(Bucket=BUCKET, Key="models/train-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = tar.getnames()
    assert "radimpress-model.json" in names and "retrieval.json" in names
    assert described["TrainingEndTime"] >= described["TrainingStartTime"]


def test_status_is_in_progress_until_the_job_ends(s3, gated):
    jobs, gate = gated
    upload_training_set(s3, generate_reports(10))
    jobs.create_training_job(**training_request("slow"))
    assert jobs.describe_training_job(TrainingJobName="slow")["TrainingJobStatus"] == "InProgress"
    gate.set()
    jobs.wait(30)
    assert jobs.describe_training_job(TrainingJobName="slow")["TrainingJobStatus"] == "Completed"


def test_a_jobs_ended_event_is_set_when_it_ends_and_not_before(s3, gated):
    jobs, gate = gated
    upload_training_set(s3, generate_reports(10))
    jobs.create_training_job(**training_request("watched"))
    ended = jobs.ended_event("training", "watched")
    assert ended is not None and not ended.is_set()
    gate.set()
    assert ended.wait(30)
    assert jobs.describe_training_job(TrainingJobName="watched")["TrainingJobStatus"] == "Completed"


def test_a_stopped_job_sets_its_ended_event_and_unknown_jobs_have_none(s3, gated):
    jobs, gate = gated
    upload_training_set(s3, generate_reports(10))
    jobs.create_training_job(**training_request("stopped"))
    jobs.stop_training_job(TrainingJobName="stopped")
    gate.set()
    ended = jobs.ended_event("training", "stopped")
    assert ended is not None and ended.wait(30)
    assert jobs.describe_training_job(TrainingJobName="stopped")["TrainingJobStatus"] == "Stopped"
    assert jobs.ended_event("transform", "stopped") is None  # the name is a training job's
    assert jobs.ended_event("training", "never-created") is None
    assert jobs.ended_event("bedrock", "stopped") is None


def test_an_image_without_a_local_container_is_refused_with_the_local_models_listed(backend, s3):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/custom-training:1.0"
    with pytest.raises(ClientError) as raised:
        backend.create_training_job(**training_request("js", image=image))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "lead" in error["Message"] and "retrieval" in error["Message"]


def test_a_jumpstart_image_no_version_publishes_is_not_found(backend, s3):
    # JumpStart images run on the container double (tests/unit/test_jumpstart_container.py).
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.0.0"
    with pytest.raises(ClientError, match="not found"):
        backend.create_training_job(**training_request("js", image=image))


def test_requests_are_checked_against_sagemakers_service_model(backend):
    request = training_request("bad")
    del request["RoleArn"]
    with pytest.raises(ClientError, match="RoleArn"):
        backend.create_training_job(**request)
    with pytest.raises(ClientError, match="Unknown parameter"):
        backend.create_training_job(**training_request("bad2", Epochs=3))


def test_duplicate_job_names_and_unknown_jobs(backend, s3):
    train(backend, s3, "dup")
    with pytest.raises(ClientError) as raised:
        backend.create_training_job(**training_request("dup"))
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as raised:
        backend.describe_transform_job(TransformJobName="nope")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_missing_template_field_fails_the_job_naming_file_line_and_field(backend, s3):
    put_lines(
        s3,
        "runs/r1/train/data/train.jsonl",
        [{"findings": "secret text one", "impression": "x"}, {"findings": "secret text two"}],
    )
    s3.put_object(
        Bucket=BUCKET,
        Key="runs/r1/train/data/template.json",
        Body=b'{"prompt": "{findings}", "completion": "{impression}"}',
    )
    backend.create_training_job(**training_request("missing"))
    backend.wait()
    described = backend.describe_training_job(TrainingJobName="missing")
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "train.jsonl line 2" in reason and "'impression'" in reason
    assert "secret" not in reason
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == ""


def create_retrieval_model(jobs, name: str, described) -> None:
    """A model of the retrieval image with the artifact of the training job ``described``."""
    jobs.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "radimpress-local/retrieval",
            "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"],
        },
        ExecutionRoleArn=ROLE,
    )


def trained_with_input(jobs, s3):
    """A trained retrieval model "retrieval-m" and its training reports as transform input."""
    described, reports = train(jobs, s3)
    create_retrieval_model(jobs, "retrieval-m", described)
    put_lines(s3, "runs/r1/transform/m/input.jsonl", transform_lines(reports))
    return described, reports


def test_transform_joins_outputs_by_study_id_line_for_line(backend, s3):
    described, reports = train(backend, s3)
    create_retrieval_model(backend, "retrieval-m", described)
    assert backend.describe_model(ModelName="retrieval-m")["PrimaryContainer"]["ModelDataUrl"]
    queries = reports[:25]
    put_lines(s3, "runs/r1/transform/m/input.jsonl", transform_lines(queries))
    backend.create_transform_job(**transform_request("tf-1", "retrieval-m"))
    backend.wait()
    status = backend.describe_transform_job(TransformJobName="tf-1")
    assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
    key = "runs/r1/transform/m/output/input.jsonl.out"
    lines = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["study_id"] for row in rows] == [r["study_id"] for r in queries]
    assert all(set(row) == {"study_id", "SageMakerOutput"} for row in rows)
    # Retrieval over its own training findings finds each report again.
    exact = sum(
        row["SageMakerOutput"]["generated_texts"][0] == r["impression"]
        for row, r in zip(rows, queries, strict=True)
    )
    assert exact >= 20


def test_lead_needs_no_artifact_and_trained_models_do(backend, s3):
    with pytest.raises(ClientError, match="ModelDataUrl"):
        backend.create_model(
            ModelName="no-artifact",
            PrimaryContainer={"Image": "radimpress-local/retrieval"},
            ExecutionRoleArn=ROLE,
        )
    backend.create_model(
        ModelName="lead-m",
        PrimaryContainer={"Image": "radimpress-local/lead"},
        ExecutionRoleArn=ROLE,
    )
    reports = generate_reports(5)
    put_lines(s3, "runs/r1/transform/m/input.jsonl", transform_lines(reports))
    backend.create_transform_job(**transform_request("tf-lead", "lead-m"))
    backend.wait()
    assert backend.describe_transform_job(TransformJobName="tf-lead")["TransformJobStatus"] == (
        "Completed"
    )
    body = s3.get_object(Bucket=BUCKET, Key="runs/r1/transform/m/output/input.jsonl.out")["Body"]
    rows = [json.loads(line) for line in body.read().decode().splitlines()]
    first = [r["findings"].split(". ")[0] + "." for r in reports]
    assert [row["SageMakerOutput"]["generated_texts"][0] for row in rows] == first


def test_a_bad_transform_line_fails_the_job_without_quoting_it(backend, s3):
    backend.create_model(
        ModelName="lead-m",
        PrimaryContainer={"Image": "radimpress-local/lead"},
        ExecutionRoleArn=ROLE,
    )
    rows = transform_lines(generate_reports(2))
    put_lines(s3, "runs/r1/transform/m/input.jsonl", [rows[0], '{"study_id": "x", secret', rows[1]])
    backend.create_transform_job(**transform_request("tf-bad", "lead-m"))
    backend.wait()
    described = backend.describe_transform_job(TransformJobName="tf-bad")
    assert described["TransformJobStatus"] == "Failed"
    assert "input.jsonl line 2" in described["FailureReason"]
    assert "secret" not in described["FailureReason"]


def test_batch_transform_refuses_uncompressed_models(backend):
    backend.create_model(
        ModelName="uncompressed",
        PrimaryContainer={
            "Image": "radimpress-local/retrieval",
            "ModelDataSource": {
                "S3DataSource": {
                    "S3Uri": f"s3://{BUCKET}/models/x/output/model/",
                    "S3DataType": "S3Prefix",
                    "CompressionType": "None",
                }
            },
        },
        ExecutionRoleArn=ROLE,
    )
    with pytest.raises(ClientError, match="ModelDataSource"):
        backend.create_transform_job(**transform_request("tf-x", "uncompressed"))


def test_describe_responses_use_only_sagemakers_output_members(backend, s3):
    described, _ = train(backend, s3)
    model = get_session().get_service_model("sagemaker")
    members = model.operation_model("DescribeTrainingJob").output_shape.members
    assert set(described) <= set(members)
    backend.create_model(
        ModelName="lead-m",
        PrimaryContainer={"Image": "radimpress-local/lead"},
        ExecutionRoleArn=ROLE,
    )
    put_lines(s3, "runs/r1/transform/m/input.jsonl", transform_lines(generate_reports(2)))
    backend.create_transform_job(**transform_request("tf-shape", "lead-m"))
    backend.wait()
    transform = backend.describe_transform_job(TransformJobName="tf-shape")
    assert set(transform) <= set(model.operation_model("DescribeTransformJob").output_shape.members)
    described_model = backend.describe_model(ModelName="lead-m")
    assert set(described_model) <= set(model.operation_model("DescribeModel").output_shape.members)


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("$", {"a": 1}, {"a": 1}),
        ("$.inputs", {"inputs": {"text_inputs": "t"}}, {"text_inputs": "t"}),
        ("$.a.b", {"a": {"b": 2}}, 2),
        (
            "$['study_id','SageMakerOutput']",
            {"study_id": "s", "x": 1, "SageMakerOutput": 2},
            {"study_id": "s", "SageMakerOutput": 2},
        ),
    ],
)
def test_json_path_subset(expression, value, expected):
    assert compile_json_path(expression)(value) == expected


def test_json_path_rejects_what_it_does_not_support():
    with pytest.raises(ValueError, match="unsupported"):
        compile_json_path("$..deep")


def test_stop_ends_a_running_job_as_stopped(s3, gated):
    jobs, gate = gated
    upload_training_set(s3, generate_reports(10))
    jobs.create_training_job(**training_request("to-stop"))
    jobs.stop_training_job(TrainingJobName="to-stop")
    assert jobs.describe_training_job(TrainingJobName="to-stop")["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    gate.set()
    jobs.wait(30)
    described = jobs.describe_training_job(TrainingJobName="to-stop")
    assert described["TrainingJobStatus"] == "Stopped"
    assert "FailureReason" not in described
    with pytest.raises(ClientError, match="in status Stopped"):
        jobs.stop_training_job(TrainingJobName="to-stop")


def test_transform_streams_every_file_under_the_prefix_in_small_batches(s3):
    jobs = LocalJobBackend(s3_factory=lambda: s3, predict_batch=3)
    try:
        jobs.create_model(
            ModelName="lead-m",
            PrimaryContainer={"Image": "radimpress-local/lead"},
            ExecutionRoleArn=ROLE,
        )
        first, second = generate_reports(10, seed=1), generate_reports(4, seed=2, prefix="TWO")
        put_lines(s3, "runs/r1/transform/many/a.jsonl", transform_lines(first))
        put_lines(s3, "runs/r1/transform/many/b.jsonl", [*transform_lines(second), ""])
        request = transform_request("tf-many", "lead-m", input_key="runs/r1/transform/many/")
        jobs.create_transform_job(**request)
        jobs.wait()
        status = jobs.describe_transform_job(TransformJobName="tf-many")
        assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
        for name, reports in (("a.jsonl", first), ("b.jsonl", second)):
            key = f"runs/r1/transform/m/output/{name}.out"
            lines = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
            assert [json.loads(x)["study_id"] for x in lines] == [r["study_id"] for r in reports]
        gzip_request = transform_request("tf-gz", "lead-m")
        gzip_request["TransformInput"]["CompressionType"] = "Gzip"
        with pytest.raises(ClientError, match="CompressionType"):
            jobs.create_transform_job(**gzip_request)
    finally:
        jobs.shutdown()


@pytest.mark.parametrize("workers", [1, 2])
def test_model_server_workers_write_the_threads_output_line_for_line(
    backend, s3, monkeypatch, workers
):
    """A trained local model's transform leaves MaxConcurrentTransforms unset, so the container's
    execution-parameters decide (a worker per CPU): the worker processes' output is the job's
    own thread's, byte for byte, in input order (job_backend.transform_workers)."""
    from radimpress_workstation.job_backend import transform_workers

    monkeypatch.setattr(transform_workers, "WORKER_MIN_LINES", 0)
    monkeypatch.setattr(transform_workers, "usable_cpus", lambda: workers)
    pools: list[int] = []
    real_pool = transform_workers.WorkerPool

    class CountedPool(real_pool):  # type: ignore[misc, valid-type]
        def __init__(self, loader, count, warm=None):
            pools.append(count)
            super().__init__(loader, count, warm)

    monkeypatch.setattr(transform_workers, "WorkerPool", CountedPool)
    small_batches = LocalJobBackend(s3_factory=lambda: s3, predict_batch=7)
    try:
        described, reports = trained_with_input(small_batches, s3)
        request = transform_request("tf-w", "retrieval-m")
        small_batches.create_transform_job(**request)
        small_batches.wait()
        status = small_batches.describe_transform_job(TransformJobName="tf-w")
    finally:
        small_batches.shutdown()
    assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
    assert "MaxConcurrentTransforms" not in status
    assert pools == ([2] if workers == 2 else [])
    key = "runs/r1/transform/m/output/input.jsonl.out"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert [row["study_id"] for row in rows] == [r["study_id"] for r in reports]
    expected = _in_thread_output(s3, described, reports)
    assert body == expected


def test_a_transform_takes_the_workers_started_ahead_for_its_image(s3, monkeypatch):
    """The local runtime starts a coming transform's model-server workers while a CPU is idle
    (LocalJobBackend.warm_transform_workers): the first job of that image that serves with
    workers takes them, with the same output; one served in its thread leaves them."""
    import multiprocessing
    import time

    from radimpress_training.models import helper_process
    from radimpress_workstation.job_backend import transform_workers

    monkeypatch.setattr(transform_workers, "usable_cpus", lambda: 2)
    monkeypatch.setattr(helper_process, "usable_cpus", lambda: 2)
    started: list[int] = []
    real_start = transform_workers.worker_processes

    def counted(workers, *args):
        started.append(workers)
        return real_start(workers, *args)

    monkeypatch.setattr(transform_workers, "worker_processes", counted)
    jobs = LocalJobBackend(s3_factory=lambda: s3, predict_batch=7)
    try:
        described, reports = trained_with_input(jobs, s3)
        before = set(multiprocessing.active_children())
        assert jobs.warm_transform_workers("radimpress-local/retrieval")
        assert not jobs.warm_transform_workers("radimpress-local/lead")  # served in its thread
        warm = set(multiprocessing.active_children()) - before
        assert started == [2] and len(warm) == 2
        for name, min_lines in (("tf-thread", 10**9), ("tf-warm", 0)):
            monkeypatch.setattr(transform_workers, "WORKER_MIN_LINES", min_lines)
            request = transform_request(name, "retrieval-m")
            request["TransformOutput"]["S3OutputPath"] = f"s3://{BUCKET}/runs/r1/{name}/output"
            jobs.create_transform_job(**request)
            jobs.wait()
            status = jobs.describe_transform_job(TransformJobName=name)
            assert status["TransformJobStatus"] == "Completed", status.get("FailureReason")
            body = s3.get_object(Bucket=BUCKET, Key=f"runs/r1/{name}/output/input.jsonl.out")
            assert body["Body"].read() == _in_thread_output(s3, described, reports)
        assert started == [2]  # the worker job took the warm workers: none started for it
        deadline = time.monotonic() + 10
        while any(w.is_alive() for w in warm) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(w.is_alive() for w in warm)  # shut down with the job that used them
        assert jobs.warm_transform_workers("radimpress-local/retrieval")
    finally:
        jobs.shutdown()  # and workers nobody took end with the backend
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children()


def _in_thread_output(s3, described, reports) -> bytes:
    """The same transform with one request at a time (MaxConcurrentTransforms=1)."""
    jobs = LocalJobBackend(s3_factory=lambda: s3, predict_batch=7)
    try:
        create_retrieval_model(jobs, "retrieval-1", described)
        request = transform_request("tf-1", "retrieval-1", "runs/r1/transform/m/input.jsonl")
        request["TransformOutput"]["S3OutputPath"] = f"s3://{BUCKET}/runs/r1/one/output"
        jobs.create_transform_job(**request, MaxConcurrentTransforms=1)
        jobs.wait()
    finally:
        jobs.shutdown()
    key = "runs/r1/one/output/input.jsonl.out"
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
