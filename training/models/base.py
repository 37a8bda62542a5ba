"""The contract every local model follows, and the registry that names them.

A model learns from (findings, impression) pairs, writes itself to a directory (what SageMaker
calls the model dir, packed as model.tar.gz), and generates one impression per findings text.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

MANIFEST = "radimpress-model.json"
DEFAULT_MODEL = "select"

# name -> "module:Class"; modules are imported on first use so that listing names is cheap.
_REGISTRY: dict[str, str] = {
    "consensus": "radimpress_training.models.consensus:ConsensusModel",
    "lead": "radimpress_training.models.lead:LeadSentenceModel",
    "restate": "radimpress_training.models.restate:RestateModel",
    "retrieval": "radimpress_training.models.retrieval:RetrievalModel",
    "select": "radimpress_training.models.select:SelectModel",
}


class TrainingPair(NamedTuple):
    findings: str
    impression: str


class ImpressionModel(ABC):
    """Findings in, impression out. Subclasses set ``name`` and implement the four methods."""

    name: ClassVar[str]
    needs_training: ClassVar[bool] = True
    # What the model writes besides the manifest; a model that changes it bumps this and, in
    # from_state, still reads the archives of earlier versions (see archive_format).
    format_version: ClassVar[int] = 1

    @abstractmethod
    def fit(self, pairs: Sequence[TrainingPair]) -> ImpressionModel:
        """Learn from the training pairs; returns self."""

    @abstractmethod
    def predict(self, findings: Sequence[str], convention: str | None = None) -> list[str]:
        """One impression per findings text, in order.

        ``convention``: the placeholder convention (``deid.Convention`` value) of the input's
        original findings, which callers detect before normalising them to ``___``; answers are
        written in it. None: the model's own fallback (training impressions' convention)."""

    def save(self, directory: str | Path) -> None:
        """Write the manifest and the model's state to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {
            "model": self.name,
            "format_version": self.format_version,
            "state": self.state(),
        }
        (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state; models with large state override save/load instead."""
        return {}

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> ImpressionModel:
        return cls()


def register(name: str, target: str) -> None:
    """Add a model under ``name`` ("module:Class")."""
    _REGISTRY[name] = target


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def get_model_class(name: str) -> type[ImpressionModel]:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown local model {name!r}; local models: {', '.join(available_models())}"
        ) from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def _manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))


def archive_format(directory: str | Path) -> int:
    """The ``format_version`` the model in ``directory`` was saved with."""
    return int(_manifest(Path(directory)).get("format_version", 1))


def load_model(directory: str | Path) -> ImpressionModel:
    """Reload a model written by :meth:`ImpressionModel.save`.

    An archive written in a newer format than this code's model reads is refused: its files
    would be misread, not ignored."""
    directory = Path(directory)
    manifest = _manifest(directory)
    model_class = get_model_class(manifest["model"])
    written = int(manifest.get("format_version", 1))
    if written > model_class.format_version:
        raise ValueError(
            f"the {model_class.name!r} model in {directory} has format {written}; "
            f"this version reads formats up to {model_class.format_version}"
        )
    return model_class.from_state(manifest.get("state", {}), directory)
