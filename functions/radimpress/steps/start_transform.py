"""The StartTransform state: write one model's input lines (study_id + prompt), start the job."""

from __future__ import annotations

import time
from typing import Any

from radimpress import deid, jumpstart
from radimpress.events import ModelRef, TransformStarted
from radimpress.layout import RunKeys
from radimpress.sagemaker_jobs import create_once
from radimpress.settings import Settings
from radimpress.spec import ModelSpec
from radimpress.storage import S3LineWriter, iter_jsonl


def write_transform_input(
    s3: Any, bucket: str, records_key: str, target_key: str, spec: ModelSpec, settings: Settings
) -> int:
    """Stream records.jsonl into the transform input; returns the number of lines.

    Local models also get the placeholder convention of each report's original findings (the
    prompt holds them normalised), so they answer in it; JumpStart bodies stay as they are.
    """
    with S3LineWriter(s3, bucket, target_key) as out:
        for _, record in iter_jsonl(s3, bucket, records_key):
            findings = record["findings"]
            prompt = jumpstart.render_prompt(spec, deid.normalize(findings))
            convention = deid.detect(findings) if spec.is_local else None
            out.write_json(
                jumpstart.transform_line(
                    record["study_id"],
                    prompt,
                    max_length=settings.max_length,
                    num_beams=settings.num_beams,
                    spec=spec,
                    placeholder_convention=convention.value if convention else None,
                )
            )
        return out.lines


def start_transform(
    sagemaker: Any,
    s3: Any,
    bucket: str,
    spec: ModelSpec,
    settings: Settings,
    *,
    run_id: str,
    records_key: str,
    model: ModelRef,
) -> TransformStarted:
    """Write the input and start the job; returns what JobStatus and Score need (no text).

    The job name derives from run and model key, so a retried step rewrites the same input and
    finds its own job (``create_once``) instead of starting a second one.
    """
    keys = RunKeys(run_id)
    model_key = model.model_key
    input_key = keys.transform_input(model_key)
    lines = write_transform_input(s3, bucket, records_key, input_key, spec, settings)
    job_name = jumpstart.resource_name(settings.resource_prefix, "tf", run_id, model_key)
    output_prefix = keys.transform_output_prefix(model_key)
    request = jumpstart.build_transform_request(
        job_name=job_name,
        model_name=model.model_name,
        input_uri=f"s3://{bucket}/{input_key}",
        output_uri=f"s3://{bucket}/{output_prefix}",
        instance_type=settings.transform_instance_type or spec.inference["instance_type"],
        kms_key_arn=settings.kms_key_arn,
        tags={"radimpress:run-id": run_id, "radimpress:model": model_key},
        spec=spec,
    )
    create_once(sagemaker.create_transform_job, request, f"transform job {job_name}: create")
    return TransformStarted(
        kind="transform",
        job_name=job_name,
        started_epoch=int(time.time()),
        output_key=f"{output_prefix}/{jumpstart.TRANSFORM_INPUT_NAME}.out",
        lines=lines,
    )
