"""Resolve the JumpStart model spec with the SageMaker Python SDK v2, at build/deploy time.

The SDK (about 280 MB) cannot ship in a Lambda, so this script asks it once for everything the
functions need (image, script and model URIs, default hyperparameters with ``epochs`` set and
validated, metric definitions, inference environment) and writes the spec JSON the Lambdas read.
The script-mode details of the training request (the ``model``/``code`` channels, the
``sagemaker_*`` hyperparameters, network isolation, volume size, maximum run time) are taken from
the request ``JumpStartEstimator.fit`` really builds, captured before it is sent.

    python -m radimpress_training.jumpstart_resolver --region us-east-1
    # offline, against a metadata folder (models_manifest.json + specs):
    python -m radimpress_training.jumpstart_resolver --metadata-dir tests/fixtures/jumpstart ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_ID = "huggingface-text2text-flan-t5-xl"
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parents[1] / "functions/radimpress/specs/jumpstart-flan-t5-xl.json"
)
PROMPT_TEMPLATE = (
    "Summarize the following radiology report findings into an impression.\n\n"
    "Findings: {findings}\n\nImpression:"
)
MANIFEST_ENV = "AWS_JUMPSTART_MANIFEST_LOCAL_ROOT_DIR_OVERRIDE"
SPECS_ENV = "AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE"
# Per-job values in the captured request: the Lambda fills these in for each run.
_PER_JOB_HYPERPARAMETERS = ("sagemaker_job_name", "sagemaker_region")
_PLACEHOLDER_BUCKET = "radimpress-resolver-placeholder"
# No SDK telemetry calls from a build step.
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def use_local_metadata(directory: str | Path) -> None:
    """Make the SDK read JumpStart metadata from ``directory`` (call before importing it)."""
    path = str(Path(directory).resolve())
    os.environ[MANIFEST_ENV] = path
    os.environ[SPECS_ENV] = path


def capture_training_request(estimator: Any, train_uri: str, job_name: str) -> dict[str, Any]:
    """Run ``estimator.fit`` and return the CreateTrainingJob request without sending it."""
    from botocore.awsrequest import AWSResponse

    captured: dict[str, Any] = {}
    events = estimator.sagemaker_session.sagemaker_client.meta.events

    def capture(params: dict[str, Any], **_: Any) -> None:
        captured.update(json.loads(json.dumps(params)))

    def short_circuit(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        arn = f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{job_name}"
        return AWSResponse("https://sagemaker", 200, {}, None), {"TrainingJobArn": arn}

    events.register_first("before-parameter-build.sagemaker.CreateTrainingJob", capture)
    events.register_first("before-call.sagemaker.CreateTrainingJob", short_circuit)
    try:
        estimator.fit({"training": train_uri}, wait=False, logs=False, job_name=job_name)
    finally:
        events.unregister("before-parameter-build.sagemaker.CreateTrainingJob", capture)
        events.unregister("before-call.sagemaker.CreateTrainingJob", short_circuit)
    if not captured:
        raise RuntimeError("JumpStartEstimator.fit did not call CreateTrainingJob")
    return captured


def resolve(
    *,
    model_id: str = MODEL_ID,
    model_version: str = "*",
    region: str,
    epochs: int = 3,
    training_instance_type: str | None = None,
    inference_instance_type: str | None = None,
    role_arn: str = "arn:aws:iam::000000000000:role/radimpress-resolver-placeholder",
    boto_session: Any = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Ask the SDK for the spec of ``model_id``; returns the JSON-ready dict."""
    import boto3
    import sagemaker
    from sagemaker import (
        environment_variables,
        hyperparameters,
        image_uris,
        instance_types,
        metric_definitions,
        model_uris,
        script_uris,
    )
    from sagemaker.jumpstart.accessors import JumpStartModelsAccessor
    from sagemaker.jumpstart.enums import JumpStartScriptScope
    from sagemaker.jumpstart.estimator import JumpStartEstimator

    boto_session = boto_session or boto3.Session(region_name=region)
    session = sagemaker.Session(boto_session=boto_session, sagemaker_config=SDK_CONFIG)
    specs = JumpStartModelsAccessor.get_model_specs(
        region=region, model_id=model_id, version=model_version, sagemaker_session=session
    )
    version = specs.version
    common = {"model_id": model_id, "model_version": version, "sagemaker_session": session}
    train_type = training_instance_type or instance_types.retrieve_default(
        region=region, scope=JumpStartScriptScope.TRAINING, **common
    )
    infer_type = inference_instance_type or instance_types.retrieve_default(
        region=region, scope=JumpStartScriptScope.INFERENCE, **common
    )

    defaults = hyperparameters.retrieve_default(region=region, instance_type=train_type, **common)
    if "epochs" not in defaults:
        raise ValueError(f"{model_id} {version} has no 'epochs' hyperparameter: {sorted(defaults)}")
    defaults["epochs"] = str(epochs)
    hyperparameters.validate(region=region, hyperparameters=defaults, **common)
    names = sorted(hp.name for hp in specs.hyperparameters if hp.scope == "algorithm")

    estimator = JumpStartEstimator(
        role=role_arn,
        instance_type=train_type,
        hyperparameters=defaults,
        output_path=f"s3://{_PLACEHOLDER_BUCKET}/output",
        region=region,
        **common,
    )
    request = capture_training_request(
        estimator, f"s3://{_PLACEHOLDER_BUCKET}/training/", "radimpress-resolver-probe"
    )
    container_hps = {
        k: json.loads(v)
        for k, v in request["HyperParameters"].items()
        if k.startswith("sagemaker_") and k not in _PER_JOB_HYPERPARAMETERS
    }
    extra_channels = [c for c in request["InputDataConfig"] if c["ChannelName"] != "training"]

    inference_model_uri = model_uris.retrieve(
        region=region, model_scope=JumpStartScriptScope.INFERENCE, **common
    )
    if not inference_model_uri.endswith(".tar.gz"):
        raise ValueError(
            f"{model_id} {version}: the pre-trained artifact {inference_model_uri} is not a "
            "model.tar.gz; Batch Transform needs one (pick a version with a prepacked tarball)"
        )
    return {
        "schema_version": 1,
        "model_id": model_id,
        "model_version": version,
        "region": region,
        "source": source
        or (
            f"sagemaker {sagemaker.__version__} JumpStartEstimator/hyperparameters/*_uris, "
            f"resolved {datetime.now(UTC).strftime('%Y-%m-%d')}"
        ),
        "training": {
            "image_uri": request["AlgorithmSpecification"]["TrainingImage"],
            "source_uri": script_uris.retrieve(
                region=region, script_scope=JumpStartScriptScope.TRAINING, **common
            ),
            "model_uri": model_uris.retrieve(
                region=region, model_scope=JumpStartScriptScope.TRAINING, **common
            ),
            "entry_point": container_hps.get("sagemaker_program", ""),
            "instance_type": train_type,
            "hyperparameters": defaults,
            "hyperparameter_names": names,
            "container_hyperparameters": container_hps,
            "extra_input_channels": extra_channels,
            "environment": request.get("Environment", {}),
            "metric_definitions": metric_definitions.retrieve_default(
                region=region, instance_type=train_type, **common
            )
            or [],
            "enable_network_isolation": bool(request.get("EnableNetworkIsolation", False)),
            "encrypt_inter_container_traffic": bool(
                request.get("EnableInterContainerTrafficEncryption", False)
            ),
            "max_run_seconds": request["StoppingCondition"]["MaxRuntimeInSeconds"],
            "volume_size_gb": request["ResourceConfig"]["VolumeSizeInGB"],
            "tags": request.get("Tags", []),
        },
        "inference": {
            "image_uri": image_uris.retrieve(
                region=region,
                framework=None,
                image_scope="inference",
                instance_type=infer_type,
                **common,
            ),
            "model_uri": inference_model_uri,
            "source_uri": script_uris.retrieve(
                region=region, script_scope=JumpStartScriptScope.INFERENCE, **common
            ),
            "instance_type": infer_type,
            "environment": environment_variables.retrieve_default(region=region, **common),
            "enable_network_isolation": bool(specs.inference_enable_network_isolation),
            "prompt_template": PROMPT_TEMPLATE,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--model-id", default=MODEL_ID)
    parser.add_argument("--model-version", default="*", help="'*' = the latest version")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--training-instance-type")
    parser.add_argument("--inference-instance-type")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--metadata-dir", help="read JumpStart metadata from this folder instead of S3"
    )
    parser.add_argument("--source", help="override the spec's 'source' note")
    args = parser.parse_args(argv)
    if args.metadata_dir:
        use_local_metadata(args.metadata_dir)
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    spec = resolve(
        model_id=args.model_id,
        model_version=args.model_version,
        region=args.region,
        epochs=args.epochs,
        training_instance_type=args.training_instance_type,
        inference_instance_type=args.inference_instance_type,
        source=args.source,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({spec['model_id']} {spec['model_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
