"""The model behind ``radimpress serve``: a run folder's kept fine-tune, loaded as its container
loads it, answering the SageMaker real-time container contract's bodies.

A JumpStart spec's model is served by the JumpStart container double's own model server
(``job_backend.jumpstart.serving.model_server``), the one its Batch Transform jobs use, so a
body is read by the same code either way. A local model (``radimpress-local/<model>``) has no
real container to copy; it is served behind the same 1.x text2text contract
(``serving.Text2TextHandler``: ``{"text_inputs": str | [str], "max_length", ...}`` ->
``{"generated_texts": [...]}``), with the placeholder handling the pipeline gives it
(StartTransform: findings normalised, answered in their own placeholder convention), so it answers
a findings text as the run's transform did.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radimpress_workstation.trained_models import KeptModel, ModelFromError

SCRATCH = "serve-scratch"  # in the run folder: the extracted archive while the server runs


class LocalModelGenerator:
    """A local model as a text2text server's generator: each text normalised and answered in
    its placeholder convention (as StartTransform and the local container do), cut to
    ``max_length`` whitespace tokens (the stand-in's reading of FLAN-T5's max_length)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def generate(self, prompts: list[str], max_tokens: list[int]) -> list[str]:
        from radimpress import deid

        answers = [""] * len(prompts)
        groups: dict[str | None, list[int]] = {}
        for position, prompt in enumerate(prompts):
            convention = deid.detect(prompt)
            groups.setdefault(convention.value if convention else None, []).append(position)
        for convention, positions in groups.items():
            texts = [deid.normalize(prompts[p]) for p in positions]
            for p, text in zip(positions, self.model.predict(texts, convention), strict=True):
                answers[p] = text
        return [" ".join(a.split()[:limit]) for a, limit in zip(answers, max_tokens, strict=True)]


@dataclass
class ServedModel:
    """A loaded model server and what it serves (for the start line and the logs)."""

    kept: KeptModel
    server: Any  # serving.Text2TextHandler (or the double's other servers): read/predict/limit
    image: str

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Any:
        """One /invocations request: the response body, or ``serving.BadRequest``."""
        from radimpress_workstation.job_backend.jumpstart.serving import invoke

        return invoke(self.server, body, content_type, accept)

    def describe(self) -> str:
        return f"{self.kept.describe()} [{self.image}]"


def choose_served(kept: Sequence[KeptModel], model: str | None, run_dir: Path) -> KeptModel:
    """The one kept model to serve: the only one, or the one ``--model`` names (its label)."""
    if model is not None:
        for candidate in kept:
            if model in (candidate.label, candidate.local_model):
                return candidate
        labels = ", ".join(k.label for k in kept)
        raise ModelFromError(f"it holds no trained {model!r} model (its models: {labels})", run_dir)
    if len(kept) > 1:
        labels = ", ".join(k.label for k in kept)
        raise ModelFromError(f"it holds several trained models ({labels}): name one with --model",
                             run_dir)  # fmt: skip
    return kept[0]


@contextmanager
def served_model(kept: KeptModel, limit: int) -> Iterator[ServedModel]:
    """``kept`` loaded as its image's model server (bodies up to ``limit`` bytes); the archive
    is extracted under the run folder (it holds what the model learned from patient reports)
    and removed when the block ends."""
    from radimpress_workstation.job_backend.job_record import ContainerError

    kept.check_archive()
    image = str(kept.model_request["PrimaryContainer"].get("Image", ""))
    with kept.extracted(kept.run_folder / SCRATCH) as model_dir:
        try:
            server = _load(image, kept, model_dir, limit)
        except ContainerError as err:  # the container would fail /ping: say why, exit 2
            raise ModelFromError(f"the model cannot be served: {err}", kept.archive) from None
        yield ServedModel(kept, server, image)


def _load(image: str, kept: KeptModel, model_dir: Path, limit: int) -> Any:
    from radimpress_workstation.job_backend.jumpstart import find_jumpstart_container
    from radimpress_workstation.job_backend.jumpstart.serving import (
        Text2TextHandler,
        model_server,
    )
    from radimpress_workstation.job_backend.local_container import find_local_container

    jumpstart = find_jumpstart_container(image)
    if jumpstart is not None:
        return model_server(jumpstart.repository, kept.model_request, model_dir, limit)
    local = find_local_container(image)
    if local is None:
        raise ModelFromError(f"no local container serves the image {image!r}", kept.folder)
    return Text2TextHandler(LocalModelGenerator(local.serve(model_dir).model), limit)
