"""The ResolveModels state: which models an inference run compares.

The pre-trained model comes from the spec (created once, under a name derived from the spec);
the latest fine-tuned model is whatever the latest-model pointer names, if it was trained with the
same spec. The pointer is read once, here: the run is pinned to that model (its SageMaker model,
training job and training run travel in the ModelRef), so a training that registers while the run
goes on changes nothing in it.
"""

from __future__ import annotations

from typing import Any

from radimpress import jumpstart
from radimpress.events import ModelRef, ModelsToCompare
from radimpress.layout import FINE_TUNED, LATEST_POINTER, PRETRAINED
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec
from radimpress.storage import read_json


def _latest_fine_tuned(s3: Any, bucket: str, spec: ModelSpec) -> dict[str, Any] | None:
    current = read_json(s3, bucket, LATEST_POINTER)
    if current is None:
        return None
    pointer = current[0]
    same_model = pointer.get("model_id") == spec.model_id and pointer.get("spec") == spec.name
    return pointer if same_model else None


def resolve_models(
    sagemaker: Any, s3: Any, bucket: str, spec: ModelSpec, *, prefix: str, role_arn: str
) -> ModelsToCompare:
    """The models to compare: the spec's pre-trained model, then the latest fine-tuned one."""
    request = jumpstart.build_pretrained_model_request(spec, prefix=prefix, role_arn=role_arn)
    create_once(sagemaker.create_model, request, f"model {request['ModelName']}: create")
    models = [
        ModelRef(
            model_key=PRETRAINED,
            label=PRETRAINED,
            model_name=request["ModelName"],
            role=PRETRAINED,
            name=_local_name(spec.inference["image_uri"]) or spec.model_id,
            version=spec.model_version,
        )
    ]
    latest = _latest_fine_tuned(s3, bucket, spec)
    if latest:
        models.append(
            ModelRef(
                model_key=FINE_TUNED,
                label=FINE_TUNED,
                model_name=latest["model_name"],
                role=FINE_TUNED,
                name=_local_name(spec.training["image_uri"]) or str(latest.get("model_id", "")),
                version=str(latest.get("model_version", "")),
                training_job=str(latest.get("training_job", "")),
                training_run_id=str(latest.get("run_id", "")),
            )
        )
    return ModelsToCompare(models=models)


def _local_name(image_uri: str) -> str:
    """``radimpress-local/<model>`` -> ``<model>``, the name results give a local model; else ''."""
    prefix = "radimpress-local/"
    return image_uri[len(prefix) :] if str(image_uri).startswith(prefix) else ""
