"""The container behind ``radimpress-local/<model>`` images: the local models as SageMaker runs one.

Training reads the ``training`` channel as JumpStart's text2text fine-tuning does (every
``*.jsonl`` line turned into a (prompt, completion) pair by ``template.json``), fits the model and
saves it into ``SM_MODEL_DIR``. Serving answers JumpStart's text2text request
(``{"text_inputs": ...}``, or a bare string) with ``{"generated_texts": [...]}``; a body's
``placeholder_convention`` (StartTransform adds it for local specs: the convention of the
report's original findings, which the prompt holds normalised) is the convention answered in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from radimpress.deid import Convention
from radimpress.jumpstart import PLACEHOLDER_CONVENTION_FIELD
from radimpress.spec import LOCAL_IMAGE_PREFIX
from radimpress.storage import json_objects
from radimpress_workstation.job_backend.api_checks import validation_error
from radimpress_workstation.job_backend.containers import Container
from radimpress_workstation.job_backend.job_record import ContainerError

_DEFAULT_TEMPLATE = {"prompt": "{prompt}", "completion": "{completion}"}


def find_local_container(image: str) -> LocalModelContainer | None:
    """The container of a ``radimpress-local/<model>`` image naming a local model, else None."""
    from radimpress_training.models import available_models

    if image.startswith(LOCAL_IMAGE_PREFIX):
        model_name = image[len(LOCAL_IMAGE_PREFIX) :]
        if model_name in available_models():
            return LocalModelContainer(image, model_name)
    return None


class LocalModelContainer(Container):
    """One local model (``radimpress_training.models``) as a training and inference image."""

    def __init__(self, image: str, model_name: str) -> None:
        self.image = image
        self.model_name = model_name

    def check_model(self, primary_container: Mapping[str, Any], operation: str) -> None:
        from radimpress_training.models import get_model_class

        has_data = bool(
            primary_container.get("ModelDataUrl") or primary_container.get("ModelDataSource")
        )
        if get_model_class(self.model_name).needs_training and not has_data:
            raise validation_error(
                operation,
                f"local model {self.model_name!r} is trained: PrimaryContainer.ModelDataUrl must "
                "point at its model.tar.gz",
            )

    def train(self, env: Mapping[str, str]) -> None:
        run_local_training(self.model_name, env)

    def serve(self, model_dir: Path | None) -> LocalServingModel:
        return load_serving_model(self.model_name, model_dir)

    def execution_parameters(self) -> Mapping[str, Any]:
        """A trained model's server runs a worker per CPU, as SageMaker's model servers do by
        default; an untrained one (lead: the first sentence) is cheaper than a worker's start."""
        from radimpress_training.models import get_model_class
        from radimpress_training.models.helper_process import usable_cpus

        trained = get_model_class(self.model_name).needs_training
        return {"MaxConcurrentTransforms": usable_cpus() if trained else 1}

    def worker_loader(self, model_dir: Path | None) -> Callable[[], LocalServingModel]:
        return partial(load_serving_model, self.model_name, model_dir)

    def worker_warm_up(self) -> Callable[[], Any]:
        """Import the model's class and its libraries (numpy, scipy, scikit-learn: most of a
        worker's start-up, about 2 s of CPU for select)."""
        from radimpress_training.models import get_model_class

        return partial(get_model_class, self.model_name)


def load_serving_model(model_name: str, model_dir: Path | None) -> LocalServingModel:
    """The model ``model_name``'s image serves: loaded from ``model_dir`` (its model.tar.gz,
    extracted), or untrained when there is none."""
    from radimpress_training.models import get_model_class, load_model

    if model_dir is None:
        return LocalServingModel(get_model_class(model_name)())
    model = load_model(model_dir)
    if model.name != model_name:
        raise ContainerError(
            f"the model artifact holds a {model.name!r} model but the image runs {model_name!r}"
        )
    return LocalServingModel(model)


class LocalServingModel:
    """A local model answering JumpStart's text2text requests."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def decode(self, payload: Any) -> tuple[str, str | None]:
        """(findings, placeholder convention or None) of a JumpStart text2text request
        (``{"text_inputs": ...}``, optionally with ``placeholder_convention``) or a bare string."""
        if isinstance(payload, str):
            return payload, None
        if isinstance(payload, dict) and isinstance(payload.get("text_inputs"), str):
            convention = payload.get(PLACEHOLDER_CONVENTION_FIELD)
            known_values = {c.value for c in Convention}
            if convention is not None and not (
                isinstance(convention, str) and convention in known_values
            ):
                known = ", ".join(repr(c) for c in sorted(known_values))
                raise ContainerError(f"'{PLACEHOLDER_CONVENTION_FIELD}' must be one of {known}")
            return payload["text_inputs"], convention
        raise ContainerError("model input must be a string or an object with 'text_inputs'")

    def predict(self, inputs: list[Any]) -> list[Any]:
        """One model call per convention in the batch (most batches hold one), answers in order."""
        answers: list[str] = [""] * len(inputs)
        groups: dict[str | None, list[int]] = {}
        for position, (_, convention) in enumerate(inputs):
            groups.setdefault(convention, []).append(position)
        for convention, positions in groups.items():
            texts = [inputs[p][0] for p in positions]
            for p, text in zip(positions, self.model.predict(texts, convention), strict=True):
                answers[p] = text
        return [{"generated_texts": [text]} for text in answers]


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        yield from json_objects(handle, path.name, ContainerError)


def _render(template: str, record: Mapping[str, Any], where: str) -> str:
    try:
        return template.format_map(record)
    except KeyError as err:
        missing = err.args[0]
        message = f"{where}: field {missing!r} named by template.json is missing"
        raise ContainerError(message) from None
    except (IndexError, ValueError) as err:
        problem = type(err).__name__
        raise ContainerError(f"{where}: template.json cannot be applied ({problem})") from None


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
            raise ContainerError(f"model {model_name!r} needs a 'training' channel")
        template = dict(_DEFAULT_TEMPLATE)
        template_file = channel / "template.json"
        if template_file.exists():
            try:
                template.update(json.loads(template_file.read_text(encoding="utf-8")))
            except json.JSONDecodeError:
                raise ContainerError("template.json is not valid JSON") from None
        files = sorted(channel.rglob("*.jsonl"))
        if not files:
            raise ContainerError("the training channel holds no *.jsonl file")
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
            raise ContainerError("the training channel holds no records")
    model = model_class().fit(pairs)
    model.save(env["SM_MODEL_DIR"])
