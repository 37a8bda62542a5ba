"""End to end: the model-server workers of the inference transform start while training ends.

A trained local model's transform runs on worker processes when its input is large
(transform_workers.WORKER_MIN_LINES lines); each worker's start-up (Python, numpy, scipy,
scikit-learn) took about 2 s of CPU while both CPUs were busy with the transforms. The local run
starts them once its model is registered, and the inference transform takes them.
"""

from __future__ import annotations

import io
import multiprocessing

from radimpress_training.models import DEFAULT_MODEL, helper_process
from radimpress_workstation.console import Console
from radimpress_workstation.job_backend import backend, transform_workers
from radimpress_workstation.runtime import LocalRun
from radimpress_workstation.synthetic import write_demo_files


def test_the_inference_transform_takes_the_workers_started_when_training_ended(
    tmp_path, monkeypatch
) -> None:
    data = write_demo_files(tmp_path / "data", train=120, infer=40, seed=5)
    # The findings' transform (40 lines) on workers, the held-out gate's smaller one in its
    # thread; two CPUs whatever this machine has.
    monkeypatch.setattr(transform_workers, "WORKER_MIN_LINES", 30)
    monkeypatch.setattr(transform_workers, "usable_cpus", lambda: 2)
    monkeypatch.setattr(helper_process, "usable_cpus", lambda: 2)
    warmed: list[tuple[str, bool]] = []
    real_warm = backend.LocalJobBackend.warm_transform_workers

    def warm(self, image):
        warmed.append((image, real_warm(self, image)))
        return warmed[-1][1]

    pools: list[bool] = []
    real_pool = transform_workers.WorkerPool

    class Pool(real_pool):  # type: ignore[misc, valid-type]
        def __init__(self, loader, workers, warm=None):
            pools.append(warm is not None)
            super().__init__(loader, workers, warm)

    monkeypatch.setattr(backend.LocalJobBackend, "warm_transform_workers", warm)
    monkeypatch.setattr(transform_workers, "WorkerPool", Pool)
    run = LocalRun(data.train, data.infer, [DEFAULT_MODEL], tmp_path / "out",
                   Console(io.StringIO()), results_process=False)  # fmt: skip
    result = run.run()
    assert warmed == [(f"radimpress-local/{DEFAULT_MODEL}", True)]
    assert pools == [True]  # one transform on workers: the findings', on the warm ones
    assert result.groups and all(g.scored for g in result.groups)
    assert not multiprocessing.active_children()


def test_no_workers_start_ahead_for_a_findings_file_served_in_the_jobs_thread(
    tmp_path, monkeypatch
) -> None:
    data = write_demo_files(tmp_path / "data", train=60, infer=20, seed=6)
    warmed: list[str] = []
    monkeypatch.setattr(
        backend.LocalJobBackend, "warm_transform_workers", lambda self, image: warmed.append(image)
    )
    LocalRun(data.train, data.infer, [DEFAULT_MODEL], tmp_path / "out",
             Console(io.StringIO())).run()  # fmt: skip
    assert warmed == []  # 20 lines: far below WORKER_MIN_LINES
