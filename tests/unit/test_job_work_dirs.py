"""Local jobs' working directories: in the run folder, and gone however the job ends.

Issue 18 item 5. A job's directory holds patient text (the training channel's copy of the
training reports, a transform job's input and output lines); the e2e test
``tests/e2e/test_interrupt.py`` interrupts a real run, these check the pieces.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from handler_support import BUCKET, ROLE

from radimpress_workstation.job_backend import backend as backend_module
from radimpress_workstation.job_backend import work_dirs
from radimpress_workstation.job_backend.backend import LocalJobBackend
from radimpress_workstation.job_backend.local_container import LocalModelContainer
from radimpress_workstation.job_backend.work_dirs import JOB_SCRATCH, job_directory, remove_all
from radimpress_workstation.synthetic import generate_reports


def test_a_job_directory_lives_under_the_root_and_goes_with_the_root(tmp_path: Path) -> None:
    root = tmp_path / "run" / JOB_SCRATCH
    with job_directory("train-1", root) as path:
        assert path.parent == root and path.name.startswith("radimpress-train-1-")
        (path / "input").mkdir()
        (path / "input" / "train.jsonl").write_text("{}\n")
    assert not root.exists()
    assert (tmp_path / "run").is_dir()  # the run folder itself stays


def test_a_failed_job_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / JOB_SCRATCH
    with pytest.raises(RuntimeError), job_directory("train-1", root) as path:
        (path / "train.jsonl").write_text("{}\n")
        raise RuntimeError("the container failed")
    assert not root.exists()


def test_the_root_stays_while_another_job_works_there(tmp_path: Path) -> None:
    root = tmp_path / JOB_SCRATCH
    with job_directory("tf-a", root) as first:
        with job_directory("tf-b", root) as second:
            assert first != second
        assert not second.exists() and first.is_dir()
    assert not root.exists()


def test_without_a_root_the_directory_is_in_the_temp_folder_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    with job_directory("tf-1", None) as path:
        assert path.parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_remove_all_removes_the_directories_of_jobs_still_running(tmp_path: Path) -> None:
    """What the `radimpress` command does last: a job's thread ends with the process."""
    root = tmp_path / JOB_SCRATCH
    entered, release = threading.Event(), threading.Event()
    seen: list[Path] = []

    def job() -> None:
        with job_directory("train-1", root) as path:
            (path / "train.jsonl").write_text("{}\n")
            seen.append(path)
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=job)
    thread.start()
    try:
        assert entered.wait(10)
        remove_all()
        assert not seen[0].exists() and not root.exists()
    finally:
        release.set()
        thread.join(10)
    assert not root.exists()  # the job's own clean-up afterwards is harmless
    assert not work_dirs._live


class SpyContainer(LocalModelContainer):
    """The local model, noting where its training channel was while it trained."""

    def __init__(self, image: str, model_name: str) -> None:
        super().__init__(image, model_name)
        self.channels: list[Path] = []

    def train(self, env: Mapping[str, str]) -> None:
        channel = Path(env["SM_CHANNEL_TRAINING"])
        assert (channel / "train.jsonl").is_file()
        self.channels.append(channel)
        super().train(env)


def test_the_backend_keeps_a_jobs_channel_in_its_work_root(
    s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = "radimpress-local/retrieval"
    spy = SpyContainer(image, "retrieval")
    monkeypatch.setattr(
        backend_module, "CONTAINER_FINDERS", (lambda i: spy if i == image else None,)
    )
    reports = generate_reports(30, seed=4)
    pairs = ({"prompt": r["findings"], "completion": r["impression"]} for r in reports)
    body = "".join(json.dumps(pair) + "\n" for pair in pairs)
    s3.put_object(Bucket=BUCKET, Key="runs/r1/train/data/train.jsonl", Body=body.encode())
    root = tmp_path / "run" / JOB_SCRATCH
    jobs = LocalJobBackend(s3_factory=lambda: s3, work_root=root)
    try:
        jobs.create_training_job(
            TrainingJobName="train-1",
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/runs/r1/train/data",
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        jobs.wait(60)
        described = jobs.describe_training_job(TrainingJobName="train-1")
    finally:
        jobs.shutdown()
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    (channel,) = spy.channels
    assert channel.is_relative_to(root)
    assert not root.exists()


def test_reset_names_the_run_folder_for_the_next_backend(tmp_path: Path) -> None:
    backend_module.reset_local_job_backend(tmp_path)
    try:
        assert backend_module.local_job_backend()._work_root == tmp_path / JOB_SCRATCH
    finally:
        backend_module.reset_local_job_backend()
    try:
        assert backend_module.local_job_backend()._work_root is None
    finally:
        backend_module.reset_local_job_backend()
