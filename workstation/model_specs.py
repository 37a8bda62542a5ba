"""The resolved model specs of the local models: written, not edited, and chosen per run.

A local model's spec has the shape of the JumpStart one (docs/contracts.md, "Resolved model
spec") with the training image ``radimpress-local/<model>`` and the untrained ``lead`` baseline as
the "pre-trained" model. ``write_specs`` generates the shipped ``specs/local-<model>.json``;
``spec_reference`` is what a run passes as ``ModelSpec`` (a shipped name, or a file written for a
model registered after the specs were generated).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radimpress.spec import LOCAL_IMAGE_PREFIX, SPECS_DIR

BASELINE_MODEL = "lead"  # the "pre-trained" model of every local spec: no training, first sentence


# `radimpress run --model bedrock-stand-in`: the Bedrock model compared locally, always through
# the Bedrock double (workstation/job_backend/bedrock), whose stand-in writes the impressions.
BEDROCK_STANDIN = "bedrock-stand-in"
BEDROCK_STANDIN_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"


def local_spec(model: str) -> dict[str, Any]:
    """The resolved-spec JSON for a local model (docs/contracts.md, "Resolved model spec")."""
    return {
        "schema_version": 1,
        "model_id": f"radimpress-local-{model}",
        "model_version": "1.0.0",
        "region": "us-east-1",
        "source": "radimpress_workstation.model_specs.local_spec (local models need no download)",
        "training": {
            "image_uri": f"{LOCAL_IMAGE_PREFIX}{model}",
            "source_uri": "",
            "model_uri": "",
            "entry_point": "",
            "instance_type": "local",
            "hyperparameters": {"epochs": "1"},
            "hyperparameter_names": ["epochs"],
            "environment": {},
            "metric_definitions": [],
        },
        "inference": {
            "image_uri": f"{LOCAL_IMAGE_PREFIX}{BASELINE_MODEL}",
            "model_uri": "",
            "instance_type": "local",
            "environment": {},
            "prompt_template": "{findings}",
        },
    }


def spec_name(model: str) -> str:
    return f"local-{model}"


def spec_reference(model: str, scratch: Path) -> str:
    """What ``ModelSpec`` / RADIMPRESS_MODEL_SPEC gets: the shipped spec's name, or a written file.

    A model registered after the shipped specs were generated gets its spec written under
    ``scratch`` and passed as a path (spec.load_spec accepts both).
    """
    if (SPECS_DIR / f"{spec_name(model)}.json").exists():
        return spec_name(model)
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"{spec_name(model)}.json"
    path.write_text(json.dumps(local_spec(model), indent=2) + "\n", encoding="utf-8")
    return str(path.resolve())


def write_specs(directory: Path = SPECS_DIR) -> list[Path]:
    """Write specs/local-<model>.json for every local model (they are generated, not edited)."""
    from radimpress_training.models import available_models

    written = []
    for model in available_models():
        path = directory / f"{spec_name(model)}.json"
        path.write_text(json.dumps(local_spec(model), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
