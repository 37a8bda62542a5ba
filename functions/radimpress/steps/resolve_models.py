"""The ResolveModels state: which models an inference run compares.

The pre-trained model comes from the spec (created once, under a name derived from the spec);
the fine-tuned model is the newest Approved version of the stack's model package group trained
with the same spec (``radimpress.registry``): a version still pending, or rejected, is never used.
The registry is read once, here: the run is pinned to that version (its package, SageMaker model,
training job and training run travel in the ModelRef), so an approval while the run goes on
changes nothing in it.

A Bedrock model (``bedrock_model_id``, off when empty) comes third: no SageMaker model, its id as
its name, and the training records of the fine-tuned model it is compared with as the source of
its few-shot examples (none without a fine-tuned model: zero-shot).
"""

from __future__ import annotations

from typing import Any

from radimpress import jumpstart, registry
from radimpress.events import ModelRef, ModelsToCompare
from radimpress.layout import PRETRAINED, RunKeys
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
    bedrock_model_id: str = "",
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
        matching=registry.trained_with(spec),
    )
    fine_tuned = approved_model_ref(approved, spec) if approved is not None else None
    if fine_tuned is not None:
        models.append(fine_tuned)
    if bedrock_model_id:
        models.append(bedrock_model_ref(bedrock_model_id, fine_tuned))
    return ModelsToCompare(models=models, records_key=records_key, has_references=has_references)


BEDROCK = "bedrock"


def bedrock_model_ref(model_id: str, fine_tuned: ModelRef | None) -> ModelRef:
    """The Bedrock model as a run names it; its examples are the fine-tune's training records."""
    trained_by = fine_tuned.training_run_id if fine_tuned is not None else ""
    return ModelRef(
        model_key=BEDROCK,
        label=BEDROCK,
        model_name=model_id,
        role=BEDROCK,
        name=model_id,
        examples_key=RunKeys(trained_by).records if trained_by else "",
    )
