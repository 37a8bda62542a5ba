"""The resolved model spec: what the Lambdas know about the model, as JSON, no SageMaker SDK.

The spec is chosen by ``RADIMPRESS_MODEL_SPEC`` (a name in ``radimpress/specs/`` without ``.json``,
or a path to a JSON file). ``make resolve-jumpstart`` writes the JumpStart one with the SDK at build
time; the local runtime ships ``local-*`` specs. When the stack parameters name a model id/version
(``RADIMPRESS_MODEL_ID`` / ``RADIMPRESS_MODEL_VERSION``) they must match the spec, so a stale spec
fails the run at once instead of training the wrong model.

A JumpStart spec carries the images and ``jumpstart-cache-prod-<region>`` URIs of every region
its metadata has (``regions``); :meth:`ModelSpec.for_region` picks the deployment region's, and a
region the metadata lacks fails with a :class:`SpecError` naming it (ECR images and the JumpStart
bucket are regional: a us-east-1 image cannot be pulled by a job in another region).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from radimpress.errors import SpecError

SPEC_ENV = "RADIMPRESS_MODEL_SPEC"
DEFAULT_SPEC = "jumpstart-flan-t5-xl"
SPECS_DIR = Path(__file__).resolve().parent / "specs"
LOCAL_IMAGE_PREFIX = "radimpress-local/"
SCHEMA_VERSION = 1

# The Hugging Face inference toolkit's JumpStart text2text contract (flan-t5-xl 1.x).
DEFAULT_PAYLOAD: dict[str, Any] = {
    "content_type": "application/json",
    "accept": "application/json",
    "container": "huggingface-inference-toolkit",
    "prompt_key": "text_inputs",
    "parameters_key": None,
    "max_length_key": "max_length",
    "response_path": "generated_texts[0]",
}

_REQUIRED = {
    "training": ("image_uri", "instance_type", "hyperparameters", "hyperparameter_names"),
    "inference": ("image_uri", "instance_type", "prompt_template"),
}


@dataclass(frozen=True)
class ModelSpec:
    """A loaded spec; ``raw`` is the JSON as written, the properties are what callers use."""

    name: str
    raw: dict[str, Any]

    @property
    def model_id(self) -> str:
        return str(self.raw["model_id"])

    @property
    def model_version(self) -> str:
        return str(self.raw["model_version"])

    @property
    def training(self) -> dict[str, Any]:
        return self.raw["training"]

    @property
    def inference(self) -> dict[str, Any]:
        return self.raw["inference"]

    @property
    def is_local(self) -> bool:
        return str(self.training["image_uri"]).startswith(LOCAL_IMAGE_PREFIX)

    @property
    def resolved_offline(self) -> bool:
        """Resolved from an offline metadata fixture, not from the live JumpStart metadata."""
        return bool(self.raw.get("resolved_offline", False))

    @property
    def region(self) -> str:
        return str(self.raw.get("region", ""))

    @property
    def regions(self) -> list[str]:
        """Regions this spec can run in (its own for a spec without per-region URIs)."""
        return sorted(self.raw.get("regions") or ([self.region] if self.region else []))

    @property
    def payload(self) -> dict[str, Any]:
        """The hosting container's request/response contract (1.x JumpStart text2text default)."""
        return {**DEFAULT_PAYLOAD, **self.inference.get("payload", {})}

    def for_region(self, region: str) -> ModelSpec:
        """This spec with ``region``'s images and URIs; SpecError if its metadata lacks it."""
        if self.is_local or not region or region == self.region:
            return self
        regional = (self.raw.get("regions") or {}).get(region)
        if regional is None:
            raise SpecError(
                f"model spec {self.name} ({self.model_id} {self.model_version}) has no images "
                f"for region {region}; it has: {', '.join(self.regions) or 'none'}. Deploy in "
                "one of those or resolve the spec for this region (make resolve-jumpstart)"
            )
        raw = copy.deepcopy(self.raw)
        raw["region"] = region
        for section, fields in regional.items():
            raw[section].update(copy.deepcopy(fields))
        return ModelSpec(name=self.name, raw=raw)

    @property
    def prompt_template(self) -> str:
        return str(self.inference["prompt_template"])

    @property
    def fine_tuned_image_uri(self) -> str:
        """Image that serves a fine-tuned model.tar.gz.

        JumpStart serves fine-tuned weights with the inference image; a local model is served by
        the model class that trained it, i.e. the training image.
        """
        explicit = self.inference.get("fine_tuned_image_uri")
        if explicit:
            return str(explicit)
        return str(self.training["image_uri"] if self.is_local else self.inference["image_uri"])


def _resolve_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or os.sep in name_or_path:
        return candidate
    return SPECS_DIR / f"{name_or_path}.json"


def _check(name: str, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise SpecError(f"model spec {name}: not a JSON object")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise SpecError(
            f"model spec {name}: schema_version {raw.get('schema_version')!r}, "
            f"expected {SCHEMA_VERSION}"
        )
    for key in ("model_id", "model_version"):
        if not raw.get(key):
            raise SpecError(f"model spec {name}: field '{key}' is missing")
    for section, keys in _REQUIRED.items():
        body = raw.get(section)
        if not isinstance(body, dict):
            raise SpecError(f"model spec {name}: section '{section}' is missing")
        for key in keys:
            if key not in body:
                raise SpecError(f"model spec {name}: field '{section}.{key}' is missing")
    if "{findings}" not in raw["inference"]["prompt_template"]:
        raise SpecError(f"model spec {name}: inference.prompt_template lacks '{{findings}}'")


def _load(path: str) -> dict[str, Any]:
    """The parsed file, cached while its modification time and size stay the same."""
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    return _parse(path, (stat.st_mtime_ns, stat.st_size) if stat else None)


@lru_cache(maxsize=16)
def _parse(path: str, version: tuple[int, int] | None) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        known = sorted(p.stem for p in SPECS_DIR.glob("*.json"))
        raise SpecError(f"model spec {path} not found (known specs: {', '.join(known)})") from None
    except json.JSONDecodeError as err:
        raise SpecError(
            f"model spec {path}: not valid JSON ({err.msg}, line {err.lineno})"
        ) from None


def deployment_region() -> str:
    """The region the code runs in (Lambda sets AWS_REGION); empty when unknown."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""


def load_spec(name_or_path: str | None = None, *, region: str | None = None) -> ModelSpec:
    """Load the spec named by the argument, else by ``RADIMPRESS_MODEL_SPEC``, else the default.

    The spec comes back for ``region`` (default: the deployment region), so every request built
    from it uses that region's images and URIs.
    """
    name = name_or_path or os.environ.get(SPEC_ENV) or DEFAULT_SPEC
    path = _resolve_path(name)
    raw = _load(str(path))
    _check(name, raw)
    spec = ModelSpec(name=name, raw=raw)
    for env, value in (
        ("RADIMPRESS_MODEL_ID", spec.model_id),
        ("RADIMPRESS_MODEL_VERSION", spec.model_version),
    ):
        wanted = os.environ.get(env)
        if wanted and wanted != "*" and not spec.is_local and wanted != value:
            raise SpecError(
                f"model spec {name} is for {value} but the stack asks for {wanted} ({env}); "
                "run `make resolve-jumpstart` or change the stack parameter"
            )
    return spec.for_region(deployment_region() if region is None else region)
