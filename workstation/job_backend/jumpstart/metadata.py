"""The real JumpStart metadata the double checks against: versions, images, scripts, artifacts.

Read from the SDK's ``specs_v*.json`` files, by default ``tests/fixtures/jumpstart``
(``AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE`` points elsewhere), never from the spec under test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DLC_ACCOUNT = "763104351884"  # the AWS Deep Learning Containers registry JumpStart images live in
METADATA_ENV = "AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE"
DEFAULT_METADATA = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "jumpstart"


def instance_family(instance_type: str) -> str:
    """``ml.p3dn.24xlarge`` -> ``p3dn`` (the key of JumpStart's instance-type variants)."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "ml" else instance_type


def _variant_images(variants: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """region -> instance family -> image, resolved from ``regional_aliases`` as the SDK does."""
    if not variants:
        return {}
    images: dict[str, dict[str, str]] = {}
    for region, aliases in (variants.get("regional_aliases") or {}).items():
        for family, variant in (variants.get("variants") or {}).items():
            uri = (variant.get("regional_properties") or {}).get("image_uri", "")
            if uri.startswith("$") and uri[1:] in aliases:
                images.setdefault(region, {})[family] = aliases[uri[1:]]
    return images


@dataclass(frozen=True)
class JumpStartVersion:
    """One ``specs_v<version>.json``: what the double needs to know of a JumpStart version."""

    model_id: str
    version: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def training_images(self) -> dict[str, dict[str, str]]:
        return _variant_images(self.raw.get("training_instance_type_variants"))

    @property
    def hosting_images(self) -> dict[str, dict[str, str]]:
        return _variant_images(self.raw.get("hosting_instance_type_variants"))

    @property
    def training_scripts(self) -> set[str]:
        keys = ("training_prepacked_script_key", "training_script_key")
        return {self.raw[k] for k in keys if self.raw.get(k)}

    @property
    def hosting_artifacts(self) -> set[str]:
        keys = ("hosting_prepacked_artifact_key", "hosting_artifact_key")
        return {self.raw[k] for k in keys if self.raw.get(k)}

    @property
    def hyperparameters(self) -> dict[str, dict[str, Any]]:
        return {h["name"]: h for h in self.raw.get("hyperparameters", [])}

    def label(self) -> str:
        return f"{self.model_id} {self.version}"


@lru_cache(maxsize=4)
def _load_catalog(root: str) -> tuple[JumpStartVersion, ...]:
    versions = []
    for path in sorted(Path(root).glob("**/specs_v*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions.append(JumpStartVersion(raw["model_id"], raw["version"], raw))
    return tuple(versions)


def catalog() -> tuple[JumpStartVersion, ...]:
    """Every JumpStart version in the metadata directory (the SDK's local-override layout)."""
    return _load_catalog(os.environ.get(METADATA_ENV) or str(DEFAULT_METADATA))


def section_images(versions: Iterable[JumpStartVersion], section: str, region: str) -> set[str]:
    """Every ``training`` or ``hosting`` image the versions publish in the region."""
    return {
        uri for v in versions for uri in getattr(v, f"{section}_images").get(region, {}).values()
    }
