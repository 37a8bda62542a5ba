"""What a container image does inside a local job: the interface every local container implements.

SageMaker runs a job by starting the container its image URI names; the local backend does the
same with a Python object. The backend (``backend.CONTAINER_FINDERS``) asks each finder in turn
for the container behind an image URI; the first that knows the image runs the job. The backend
keeps SageMaker's own part (requests, channels in and model.tar.gz out, DataProcessing, batches,
status) so a container only answers what the image would:

- ``bind``: the container as one request runs it (CreateTrainingJob, CreateModel, or
  CreateTransformJob with its model's request); an image that needs more than its URI to decide
  (the JumpStart double: region, isolation, the metadata's pairings) checks the request here and
  keeps it; the default is the image alone;
- ``check_model``: what CreateModel refuses for this image (e.g. a trained model without data);
- ``train``: the training entry point, given SageMaker's ``SM_*`` environment; it writes the
  model into ``SM_MODEL_DIR``;
- ``serve``: the model a transform job invokes, loaded from the extracted model.tar.gz (None
  when the model has no ``ModelDataUrl``); it turns request bodies into response bodies;
- ``execution_parameters`` and ``worker_loader``: how many requests the model server takes at
  once and how a worker process loads the model (default: none, one request at a time).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol


class ServingModel(Protocol):
    """A loaded model behind a transform job: request bodies in, response bodies out."""

    def decode(self, payload: Any) -> Any:
        """One request body (the JSON value after InputFilter) -> the model's input.

        Raises ``ContainerError`` saying what is wrong with the body (never quoting it).
        """

    def predict(self, inputs: list[Any]) -> list[Any]:
        """Decoded inputs -> one response body (a JSON value) per input, in order."""


class Container(ABC):
    """The image a job runs; found by its URI."""

    image: str

    def bind(
        self,
        operation: str,
        request: Mapping[str, Any],
        s3_factory: Callable[[], Any],
        model: Mapping[str, Any] | None = None,
    ) -> Container:
        """This container for ``request`` (refusing with ``ClientError`` what SageMaker refuses).

        ``model`` is the CreateModel request behind a CreateTransformJob; ``s3_factory`` gives
        the S3 client the job reads. The default ignores both: the image alone decides.
        """
        return self

    @abstractmethod
    def check_model(self, primary_container: Mapping[str, Any], operation: str) -> None:
        """Refuse (``ClientError``) a CreateModel request this image cannot serve."""

    @abstractmethod
    def train(self, env: Mapping[str, str]) -> None:
        """Run the training entry point with SageMaker's ``SM_*`` variables (not os.environ)."""

    @abstractmethod
    def serve(self, model_dir: Path | None) -> ServingModel:
        """The model a transform job invokes; ``model_dir`` holds the extracted model.tar.gz."""

    def execution_parameters(self) -> Mapping[str, Any]:
        """What the image's ``GET /execution-parameters`` answers; {} when it has none, and a
        transform that leaves MaxConcurrentTransforms unset then sends one request at a time."""
        return {}

    def worker_loader(self, model_dir: Path | None) -> Callable[[], ServingModel] | None:
        """A picklable callable that loads the serving model in a model-server worker process
        (``transform_workers``), or None: the image serves in the job's own thread."""
        return None

    def worker_warm_up(self) -> Callable[[], Any] | None:
        """A picklable callable that loads what a worker needs before any model (the model
        server's libraries), for workers started ahead of their job; None: nothing to load."""
        return None


# A finder returns the container behind an image URI, or None when the image is not its own.
ContainerFinder = Callable[[str], Container | None]
