"""job_backend.transform_workers: how many requests a local transform sends at once, and the
worker processes that answer them (CreateTransformJob's MaxConcurrentTransforms: "If
MaxConcurrentTransforms is set to 0 or left unset, SageMaker checks the optional
execution-parameters ... If the execution-parameters endpoint is not enabled, the default value
is 1", SageMaker API reference)."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from radimpress import jumpstart
from radimpress.spec import load_spec
from radimpress_training.models import helper_process
from radimpress_workstation.job_backend import transform_workers
from radimpress_workstation.job_backend.local_container import LocalModelContainer
from radimpress_workstation.job_backend.transform_workers import (
    AlgorithmError,
    WorkerPool,
    concurrency,
)


class _Echo:
    """A model whose answers come back out of order: later inputs are answered faster."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    def predict(self, inputs: list[str]) -> list[str]:
        if self.fail_on in inputs:
            return [1 / 0]  # type: ignore[list-item]
        time.sleep(0.05 * max(0, 5 - int(inputs[0])))
        return [f"answer {value}" for value in inputs]


def _load_echo(fail_on: str | None = None) -> _Echo:
    return _Echo(fail_on)


def _batches(count: int) -> list[list[tuple[int, None, str]]]:
    return [[(number, None, str(number))] for number in range(count)]


def test_answers_come_back_in_input_order() -> None:
    with WorkerPool(_load_echo, 2) as pool:
        answered = list(pool.answer(_batches(8)))
    assert [batch[0][0] for batch, _ in answered] == list(range(8))
    assert [answers for _, answers in answered] == [[f"answer {n}"] for n in range(8)]


def test_a_model_failing_in_a_worker_is_named_by_type_and_place_without_data() -> None:
    with pytest.raises(AlgorithmError) as err, WorkerPool(partial(_load_echo, "3"), 2) as pool:
        list(pool.answer(_batches(8)))
    lines, first = inspect.getsourcelines(_Echo.predict)
    failing = first + next(i for i, line in enumerate(lines) if "1 / 0" in line)
    assert str(err.value) == f"ZeroDivisionError at test_transform_workers.py:{failing}"


def test_ctrl_c_in_the_terminal_leaves_the_decision_to_the_jobs_process() -> None:
    """SIGINT reaches the whole process group; a worker that died of it broke the pool under
    the job with a traceback of its own, before the CLI could mark the run interrupted."""
    before = set(multiprocessing.active_children())
    with WorkerPool(_load_echo, 2) as pool:
        list(pool.answer(_batches(8)))
        workers = set(multiprocessing.active_children()) - before
        assert len(workers) == 2
        time.sleep(0.5)  # both past their start
        for worker in workers:
            os.kill(worker.pid, signal.SIGINT)
        time.sleep(0.3)
        assert [answers for _, answers in pool.answer(_batches(3))] == [
            ["answer 0"],
            ["answer 1"],
            ["answer 2"],
        ]


class _Container(LocalModelContainer):
    def __init__(self, parameters: dict[str, int]) -> None:
        super().__init__("radimpress-local/retrieval", "retrieval")
        self.parameters = parameters

    def execution_parameters(self) -> dict[str, int]:
        return self.parameters


@pytest.mark.parametrize(
    ("request_value", "parameters", "cpus", "expected"),
    [
        (None, {}, 8, 1),  # no execution-parameters: one request at a time
        (0, {"MaxConcurrentTransforms": 4}, 8, 4),  # 0 is unset: the container decides
        (None, {"MaxConcurrentTransforms": 4}, 2, 2),  # never more than the CPUs
        (3, {"MaxConcurrentTransforms": 8}, 8, 3),  # the job's own value wins
    ],
)
def test_concurrency(monkeypatch, request_value, parameters, cpus, expected) -> None:
    monkeypatch.setattr(transform_workers, "usable_cpus", lambda: cpus)
    request = {} if request_value is None else {"MaxConcurrentTransforms": request_value}
    assert concurrency(request, _Container(parameters)) == expected


def test_trained_local_models_serve_a_worker_per_cpu_and_lead_one(monkeypatch) -> None:
    monkeypatch.setattr(helper_process, "usable_cpus", lambda: 6)
    trained = LocalModelContainer("radimpress-local/select", "select")
    lead = LocalModelContainer("radimpress-local/lead", "lead")
    assert trained.execution_parameters() == {"MaxConcurrentTransforms": 6}
    assert lead.execution_parameters() == {"MaxConcurrentTransforms": 1}


def test_only_a_local_models_transform_leaves_concurrency_to_the_container() -> None:
    def request(spec_name: str, instance_type: str) -> dict:
        return jumpstart.build_transform_request(
            job_name="j",
            model_name="m",
            input_uri="s3://b/in",
            output_uri="s3://b/out",
            instance_type=instance_type,
            spec=load_spec(spec_name),
        )

    assert "MaxConcurrentTransforms" not in request("local-select", "local")
    # One FLAN-T5 copy per GPU instance: one request at a time.
    assert request("jumpstart-flan-t5-xl", "ml.g5.2xlarge")["MaxConcurrentTransforms"] == 1


_KILLED_PARENT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_transform_workers import _batches, _load_echo
from radimpress_workstation.job_backend.transform_workers import WorkerPool
if __name__ == "__main__":
    import multiprocessing
    pool = WorkerPool(_load_echo, 2)
    list(pool.answer(_batches(8)))
    print(*[child.pid for child in multiprocessing.active_children()], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no shutdown, no finally: as the OOM killer ends it
"""


def test_workers_end_when_the_jobs_process_is_killed(tmp_path) -> None:
    """A run killed mid-transform left its workers waiting for work forever (measured: still
    there 35 s after a SIGKILLed `radimpress run`, each holding its copy of the model)."""
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_PARENT.format(tests=str(Path(__file__).parent)), encoding="utf-8")
    printed = tmp_path / "pids.txt"
    with printed.open("w") as out:  # a file, not a pipe: a worker left behind would hold it open
        done = subprocess.run([sys.executable, str(script)], stdout=out, timeout=60)
    assert done.returncode == -signal.SIGKILL
    workers = [int(pid) for pid in printed.read_text().split()]
    assert len(workers) >= 2
    try:
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
