"""A transform job's model-server workers: the requests Batch Transform sends at once.

SageMaker sends up to ``MaxConcurrentTransforms`` requests at a time to each instance; left unset
(or 0), it asks the container's ``GET /execution-parameters``, and without that endpoint it sends
one (CreateTransformJob, MaxConcurrentTransforms). The model servers inside the containers answer
concurrent requests with worker processes, one per CPU by default, each holding its own copy of
the model. The local backend does the same: :func:`concurrency` is that number, capped at this
machine's CPUs, and :class:`WorkerPool` runs that many worker processes
(``helper_process.worker_processes``: spawned, deaf to Ctrl-C, ending with the job's process),
each loading the model once (the container's ``worker_loader``), as the embedded stack's own
threads share one GIL.

Batches go to the workers in input order and their answers come back in that order: the output
is the one the job's own thread writes, line for line. At most two batches per worker are in
flight, so memory holds a few batches, not the file. Below :data:`WORKER_MIN_LINES` input lines
the model is served in the job's thread: starting a worker (Python, the model's libraries, the
model) takes about a second of CPU, more than a small file's predictions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from radimpress_training.models.helper_process import usable_cpus, worker_processes
from radimpress_workstation.job_backend.containers import Container, ServingModel
from radimpress_workstation.job_backend.job_record import ContainerError, failure_place

# (line number, input record, the model's input) of each line of a batch.
Batch = list[tuple[int, Any, Any]]

WORKER_MIN_LINES = 20_000
_IN_FLIGHT_PER_WORKER = 2


class AlgorithmError(ContainerError):
    """The model failed inside a worker; says what and where, never the data (the job's failure
    reason reads as for a model failing in the job's own thread)."""


def concurrency(request: Mapping[str, Any], container: Container) -> int:
    """Requests at once: the job's MaxConcurrentTransforms, else the container's
    execution-parameters, else 1; never more than the CPUs this process may use."""
    asked = request.get("MaxConcurrentTransforms") or container.execution_parameters().get(
        "MaxConcurrentTransforms", 1
    )
    return max(1, min(int(asked), usable_cpus()))


def count_lines(paths: Iterable[Path]) -> int:
    """Line ends in the input files (a cheap byte scan, before anything is parsed)."""
    total = 0
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
    return total


class InThread:
    """The model answering in the job's own thread, a batch at a time."""

    def __init__(self, model: ServingModel) -> None:
        self._model = model

    def __enter__(self) -> InThread:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def answer(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, list[Any]]]:
        for batch in batches:
            yield batch, self._model.predict(_model_inputs(batch))


class WarmWorkers:
    """``workers`` model-server worker processes started before their transform job, each with
    ``warm_up`` run (the model's libraries imported): the local runtime starts them while a CPU
    is idle (the end of training), and the job's WorkerPool takes them; each loads the model
    with its first batch."""

    def __init__(self, workers: int, warm_up: Callable[[], Any]) -> None:
        self.workers = workers
        self.pool = worker_processes(workers, warm_up)
        # Under spawn a pool starts a process per task submitted while none is idle: start
        # them all now, not with the job's first batches.
        for _ in range(workers):
            self.pool.submit(int)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class WorkerPool:
    """``workers`` processes, each with the model ``loader`` gives; a context manager. With
    ``warm`` (as many workers, started ahead), its processes, which load the model with their
    first batch."""

    def __init__(
        self, loader: Callable[[], ServingModel], workers: int, warm: WarmWorkers | None = None
    ) -> None:
        self._workers = workers
        self._loader: Callable[[], ServingModel] | None
        if warm is not None and warm.workers == workers:
            self._pool, self._loader = warm.pool, loader
        else:
            if warm is not None:
                warm.shutdown()
            self._pool, self._loader = worker_processes(workers, _load, (loader,)), None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        # A stopped or failed job leaves no worker behind nor waits for queued batches.
        self._pool.shutdown(wait=True, cancel_futures=True)

    def answer(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, list[Any]]]:
        in_flight: deque[tuple[Batch, Future[list[Any]]]] = deque()
        for batch in batches:
            inputs = _model_inputs(batch)
            in_flight.append((batch, self._pool.submit(_predict, inputs, self._loader)))
            if len(in_flight) >= self._workers * _IN_FLIGHT_PER_WORKER:
                done, future = in_flight.popleft()
                yield done, future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, future.result()


def answering(
    container: Container,
    model: ServingModel,
    model_dir: Path | None,
    workers: int,
    inputs: Sequence[Path],
    warm: Callable[[], WarmWorkers | None] | None = None,
) -> InThread | WorkerPool:
    """The worker pool when it pays (``workers`` > 1, a loader, enough lines in ``inputs``, the
    input files: counted only then), else the thread. The pool takes the workers ``warm`` gives
    (started ahead for this image), if any; a job served in its thread leaves them."""
    loader = container.worker_loader(model_dir) if workers > 1 else None
    if loader is None or count_lines(inputs) < WORKER_MIN_LINES:
        return InThread(model)
    return WorkerPool(loader, workers, warm() if warm is not None else None)


def _model_inputs(batch: Batch) -> list[Any]:
    return [model_input for _, _, model_input in batch]


# ---- inside a worker process ------------------------------------------------------------------

_model: ServingModel | None = None


def _load(loader: Callable[[], ServingModel]) -> None:
    global _model
    _model = loader()


def _predict(inputs: list[Any], loader: Callable[[], ServingModel] | None = None) -> list[Any]:
    """The model's answers; a worker started ahead (WarmWorkers) loads it first with
    ``loader``."""
    global _model
    try:
        if _model is None and loader is not None:
            _model = loader()
        assert _model is not None
        return _model.predict(inputs)
    except Exception as err:  # named by type and place, as the job's thread would name it
        raise AlgorithmError(failure_place(err)) from None
