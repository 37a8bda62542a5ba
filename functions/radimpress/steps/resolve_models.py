"""The ResolveModels state: which models an inference run compares.

The pre-trained model comes from the spec (created once, under a name derived from the spec);
the fine-tuned model is the newest Approved version of the stack's model package group trained
with the same spec (``radimpress.registry``): a version still pending, or rejected, is never used.
The registry is read once, here: the run is pinned to that version (its package, SageMaker model,
training job and training run travel in the ModelRef), so an approval while the run goes on
changes nothing in it.
"""

from __future__ import annotations

from typing import Any

from radimpress import jumpstart, registry
from radimpress.events import ModelRef, ModelsToCompare
from radimpress.layout import PRETRAINED
from radimpress.model_refs import approved_model_ref, local_name
from radimpress.sagemaker_jobs import create_once
from radimpress.spec import ModelSpec


def resolve_models(
    sagemaker: Any,
    spec: ModelSpec,
    *,
    prefix: str,
    role_arn: str,
    records_key: str,
    has_references: bool,
) -> ModelsToCompare:
    """The models to compare: the spec's pre-trained model, then the Approved fine-tuned one."""
    request = jumpstart.build_pretrained_model_request(spec, prefix=prefix, role_arn=role_arn)
    create_once(sagemaker.create_model, request, f"model {request['ModelName']}: create")
    models = [
        ModelRef(
            model_key=PRETRAINED,
            label=PRETRAINED,
            model_name=request["ModelName"],
            role=PRETRAINED,
            name=local_name(spec.inference["image_uri"]) or spec.model_id,
            version=spec.model_version,
        )
    ]
    approved = registry.latest_approved(
        sagemaker,
        registry.group_name(prefix),
        matching={"spec": spec.name, "model_id": spec.model_id},
    )
    if approved is not None:
        models.append(approved_model_ref(approved, spec))
    return ModelsToCompare(models=models, records_key=records_key, has_references=has_references)
