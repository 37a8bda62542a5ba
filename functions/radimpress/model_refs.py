"""The ModelRef a registered model stands for: one place that names models the way results do."""

from __future__ import annotations

from radimpress import registry
from radimpress.events import ModelRef
from radimpress.layout import FINE_TUNED
from radimpress.spec import ModelSpec


def approved_model_ref(package: registry.Package, spec: ModelSpec) -> ModelRef:
    """The model an Approved package stands for, as an inference run names it."""
    meta = package.metadata
    return ModelRef(
        model_key=FINE_TUNED,
        label=FINE_TUNED,
        model_name=meta.get("sagemaker_model", ""),
        role=FINE_TUNED,
        name=local_name(spec.training["image_uri"]) or meta.get("model_id", ""),
        version=meta.get("model_version", ""),
        training_job=meta.get("training_job", ""),
        training_run_id=meta.get("training_run_id", ""),
        package_arn=package.arn,
        package_version=package.version,
    )


def local_name(image_uri: str) -> str:
    """``radimpress-local/<model>`` -> ``<model>``, the name results give a local model; else ''."""
    prefix = "radimpress-local/"
    return image_uri[len(prefix) :] if str(image_uri).startswith(prefix) else ""
