"""Resolve the JumpStart model spec with the SageMaker Python SDK v2, at build/deploy time.

The SDK (about 280 MB) cannot ship in a Lambda, so this script asks it once for everything the
functions need (image, script and model URIs, default hyperparameters with ``epochs`` set and
validated, metric definitions, inference environment) and writes the spec JSON the Lambdas read.
The script-mode details of the training request (the ``model``/``code`` channels, the
``sagemaker_*`` hyperparameters, network isolation, volume size, maximum run time) are taken from
the request ``JumpStartEstimator.fit`` really builds, captured before it is sent.

Every region the version's metadata has images for is resolved too (``regions``): the Lambdas
pick the deployment region's URIs and refuse a region the metadata lacks. Metadata the pipeline
cannot use (no ``model.tar.gz`` for Batch Transform, no ``epochs``, no JSON content type, a
version or region that is not there) fails with :class:`MetadataError` naming the version.

    python -m radimpress_training.jumpstart_resolver --region us-east-1
    # offline, against a metadata folder (models_manifest.json + specs):
    python -m radimpress_training.jumpstart_resolver --metadata-dir tests/fixtures/jumpstart ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_ID = "huggingface-text2text-flan-t5-xl"
# 1.2.2: the last version whose pre-trained artifact is a prepacked model.tar.gz (Batch Transform
# rejects the S3-prefix artifacts of 2.x); template.yaml's JumpStartModelVersion pins the same.
MODEL_VERSION = "1.2.2"
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
JSON = "application/json"
# Request/response contract per hosting container (the spec's ``inference.payload``).
PAYLOADS: dict[str, dict[str, str | None]] = {
    # Hugging Face inference toolkit + JumpStart text2text inference.py (1.x)
    "huggingface": {
        "container": "huggingface-inference-toolkit",
        "prompt_key": "text_inputs",
        "parameters_key": None,
        "max_length_key": "max_length",
        "response_path": "generated_texts[0]",
    },
    # Text Generation Inference (2.x)
    "huggingface-llm": {
        "container": "tgi",
        "prompt_key": "inputs",
        "parameters_key": "parameters",
        "max_length_key": "max_new_tokens",
        "response_path": "[0].generated_text",
    },
}
# No SDK telemetry calls from a build step.
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


class MetadataError(ValueError):
    """JumpStart metadata this pipeline cannot use; the message names the model and version."""


def use_local_metadata(directory: str | Path) -> None:
    """Make the SDK read JumpStart metadata from ``directory`` (call before importing it)."""
    path = str(Path(directory).resolve())
    os.environ[MANIFEST_ENV] = path
    os.environ[SPECS_ENV] = path


def _capture_request(
    session: Any, operation: str, answer: dict[str, Any], call: Callable[[], Any]
) -> dict[str, Any]:
    """Run ``call`` and return the request it sends to SageMaker's ``operation``, never sending it.

    botocore's events: the parameters are copied before they are built into HTTP, and the call
    is answered with ``answer`` instead of reaching AWS.
    """
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    captured: dict[str, Any] = {}
    events = session.sagemaker_client.meta.events

    def capture(params: dict[str, Any], **_: Any) -> None:
        captured.update(json.loads(json.dumps(params)))

    def short_circuit(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://sagemaker", 200, HTTPHeaders(), None), answer

    events.register_first(f"before-parameter-build.sagemaker.{operation}", capture)
    events.register_first(f"before-call.sagemaker.{operation}", short_circuit)
    try:
        call()
    finally:
        events.unregister(f"before-parameter-build.sagemaker.{operation}", capture)
        events.unregister(f"before-call.sagemaker.{operation}", short_circuit)
    if not captured:
        raise RuntimeError(f"the SageMaker SDK did not call {operation}")
    return captured


def capture_training_request(estimator: Any, train_uri: str, job_name: str) -> dict[str, Any]:
    """Run ``estimator.fit`` and return the CreateTrainingJob request without sending it."""
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{job_name}"
    return _capture_request(
        estimator.sagemaker_session,
        "CreateTrainingJob",
        {"TrainingJobArn": arn},
        lambda: estimator.fit({"training": train_uri}, wait=False, logs=False, job_name=job_name),
    )


def capture_model_request(model: Any, instance_type: str) -> dict[str, Any]:
    """Run ``JumpStartModel.create`` and return the CreateModel request without sending it."""
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model/radimpress-resolver-probe"
    return _capture_request(
        model.sagemaker_session,
        "CreateModel",
        {"ModelArn": arn},
        lambda: model.create(instance_type=instance_type),
    )


def _payload(specs: Any, label: str) -> dict[str, Any]:
    """How Batch Transform lines talk to this version's hosting container (JSON in, JSON out)."""
    framework = getattr(specs.hosting_ecr_specs, "framework", None)
    if framework not in PAYLOADS:
        raise MetadataError(f"{label}: hosting container framework {framework!r} is not supported")
    predictor = specs.predictor_specs
    for what, supported in (
        ("content", predictor.supported_content_types if predictor else None),
        ("accept", predictor.supported_accept_types if predictor else None),
    ):
        if supported is not None and JSON not in supported:
            raise MetadataError(f"{label}: hosting container takes no {JSON} {what} type")
    payload = dict(PAYLOADS[framework])
    for example in (specs.default_payloads or {}).values():
        prompt_key = getattr(example, "prompt_key", None)
        if prompt_key and prompt_key != payload["prompt_key"]:
            raise MetadataError(
                f"{label}: default payload prompt key {prompt_key!r}, expected "
                f"{payload['prompt_key']!r} for a {framework} container"
            )
    return {"content_type": JSON, "accept": JSON, **payload}


def _ecr(specs: Any) -> dict[str, str]:
    return {
        k: getattr(specs, k)
        for k in (
            "framework",
            "framework_version",
            "huggingface_transformers_version",
            "py_version",
        )
        if getattr(specs, k, None)
    }


def _regions(specs: Any) -> list[str]:
    """Regions with both a training and a hosting image in the metadata."""
    hosting = specs.hosting_instance_type_variants
    training = specs.training_instance_type_variants
    found = [
        set((v.regional_aliases or {}) if v else {}) for v in (hosting, training) if v is not None
    ]
    return sorted(set.intersection(*found)) if found else []


def _resolve_region(
    *,
    model_id: str,
    version: str,
    region: str,
    epochs: int,
    training_instance_type: str | None,
    inference_instance_type: str | None,
    role_arn: str,
    boto_session: Any,
) -> dict[str, Any]:
    """Everything the SDK resolves for one region (the spec without schema/source/regions)."""
    import boto3
    import sagemaker
    from sagemaker import (
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
    from sagemaker.jumpstart.model import JumpStartModel

    label = f"{model_id} {version}"
    boto_session = boto_session or boto3.Session(region_name=region)
    session = sagemaker.Session(boto_session=boto_session, sagemaker_config=SDK_CONFIG)
    specs = JumpStartModelsAccessor.get_model_specs(
        region=region, model_id=model_id, version=version, sagemaker_session=session
    )
    common = {"model_id": model_id, "model_version": version, "sagemaker_session": session}
    train_type = training_instance_type or instance_types.retrieve_default(
        region=region, scope=JumpStartScriptScope.TRAINING, **common
    )
    infer_type = inference_instance_type or instance_types.retrieve_default(
        region=region, scope=JumpStartScriptScope.INFERENCE, **common
    )

    defaults = hyperparameters.retrieve_default(region=region, instance_type=train_type, **common)
    if "epochs" not in defaults:
        raise MetadataError(f"{label} has no 'epochs' hyperparameter: {sorted(defaults)}")
    defaults["epochs"] = str(epochs)
    hyperparameters.validate(region=region, hyperparameters=defaults, **common)
    names = sorted(hp.name for hp in specs.hyperparameters if hp.scope == "algorithm")
    # Types and ranges as the metadata declares them: what the container would reject.
    hp_specs = {
        hp.name: {
            k: getattr(hp, k)
            for k in ("type", "min", "max", "options", "exclusive_min", "exclusive_max")
            if getattr(hp, k, None) is not None
        }
        for hp in specs.hyperparameters
        if hp.scope == "algorithm"
    }

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

    # The pre-trained model exactly as JumpStartModel creates it (image, artifact, environment).
    pretrained = capture_model_request(
        JumpStartModel(role=role_arn, region=region, **common), infer_type
    )
    container = pretrained["PrimaryContainer"]
    inference_model_uri = container.get("ModelDataUrl", "")
    if not inference_model_uri.endswith(".tar.gz") or "ModelDataSource" in container:
        uri = inference_model_uri or json.dumps(container.get("ModelDataSource"))
        raise MetadataError(
            f"{label}: the pre-trained artifact {uri} is not a model.tar.gz; "
            "Batch Transform cannot serve uncompressed (ModelDataSource) models, so pick a "
            "version with a prepacked tarball (flan-t5-xl 1.x)"
        )
    image = image_uris.retrieve(
        region=region, framework=None, image_scope="inference", instance_type=infer_type, **common
    )
    if container["Image"] != image:
        raise MetadataError(f"{label}: JumpStartModel uses {container['Image']}, not {image}")
    return {
        "model_id": model_id,
        "model_version": version,
        "region": region,
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
            "supported_instance_types": list(specs.supported_training_instance_types or []),
            "ecr_specs": _ecr(specs.training_ecr_specs),
            "hyperparameters": defaults,
            "hyperparameter_names": names,
            "hyperparameter_specs": dict(sorted(hp_specs.items())),
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
            "image_uri": container["Image"],
            "model_uri": inference_model_uri,
            "source_uri": script_uris.retrieve(
                region=region, script_scope=JumpStartScriptScope.INFERENCE, **common
            ),
            "instance_type": infer_type,
            "supported_instance_types": list(specs.supported_inference_instance_types or []),
            "ecr_specs": _ecr(specs.hosting_ecr_specs),
            "environment": container.get("Environment", {}),
            "enable_network_isolation": bool(pretrained.get("EnableNetworkIsolation", False)),
            "payload": _payload(specs, label),
            "prompt_template": PROMPT_TEMPLATE,
        },
    }


# What differs between regions: the images and the jumpstart-cache-prod-<region> URIs.
REGIONAL_FIELDS = {
    "training": ("image_uri", "source_uri", "model_uri", "extra_input_channels"),
    "inference": ("image_uri", "model_uri", "source_uri"),
}


def _regional(resolved: dict[str, Any]) -> dict[str, Any]:
    return {
        section: {k: resolved[section][k] for k in keys}
        for section, keys in REGIONAL_FIELDS.items()
    }


def _without_regional(resolved: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(resolved))
    out.pop("region")
    for section, keys in REGIONAL_FIELDS.items():
        for key in keys:
            out[section].pop(key)
    return out


def resolve(
    *,
    model_id: str = MODEL_ID,
    model_version: str = MODEL_VERSION,
    region: str,
    epochs: int = 3,
    training_instance_type: str | None = None,
    inference_instance_type: str | None = None,
    role_arn: str = "arn:aws:iam::000000000000:role/radimpress-resolver-placeholder",
    boto_session: Any = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Ask the SDK for the spec of ``model_id`` ``model_version`` in every region it has images."""
    import boto3
    import sagemaker
    from sagemaker.jumpstart.accessors import JumpStartModelsAccessor

    if model_version in ("", "*"):
        raise MetadataError(f"{model_id}: give an exact version (the template pins one), not '*'")
    label = f"{model_id} {model_version}"
    session = sagemaker.Session(
        boto_session=boto_session or boto3.Session(region_name=region), sagemaker_config=SDK_CONFIG
    )
    try:
        specs = JumpStartModelsAccessor.get_model_specs(
            region=region, model_id=model_id, version=model_version, sagemaker_session=session
        )
    except KeyError as err:
        raise MetadataError(f"{label} is not in the JumpStart metadata: {err}") from None
    if specs.version != model_version:
        raise MetadataError(f"{label}: the metadata answered with version {specs.version}")
    regions = _regions(specs)
    if region not in regions:
        raise MetadataError(
            f"{label} has no JumpStart images for region {region} "
            f"(its metadata has: {', '.join(regions) or 'none'})"
        )
    options: dict[str, Any] = {
        "model_id": model_id,
        "version": model_version,
        "epochs": epochs,
        "training_instance_type": training_instance_type,
        "inference_instance_type": inference_instance_type,
        "role_arn": role_arn,
    }
    resolved: dict[str, dict[str, Any]] = {}
    for name in regions:
        try:
            resolved[name] = _resolve_region(
                region=name, boto_session=boto_session if name == region else None, **options
            )
        except MetadataError:
            raise
        except (KeyError, ValueError) as err:
            raise MetadataError(f"{label} in {name}: {err}") from None
    primary = resolved[region]
    for name, other in resolved.items():
        if _without_regional(other) != _without_regional(primary):
            raise MetadataError(f"{label}: {name} differs from {region} beyond images and URIs")
    return {
        "schema_version": 1,
        "model_id": model_id,
        "model_version": model_version,
        "region": region,
        "source": source
        or (
            f"sagemaker {sagemaker.__version__} JumpStartEstimator/hyperparameters/*_uris, "
            f"resolved {datetime.now(UTC).strftime('%Y-%m-%d')}"
        ),
        # StartTraining refuses an offline spec on AWS (only the embedded stack allows it).
        "resolved_offline": bool(os.environ.get(MANIFEST_ENV)),
        "training": primary["training"],
        "inference": primary["inference"],
        "regions": {name: _regional(r) for name, r in resolved.items()},
    }


def ensure_live_spec(path: Path, region: str, resolve_now: Callable[[], int]) -> int:
    """What ``make deploy`` runs first: a spec resolved offline must not reach AWS.

    A live spec passes. An offline one is resolved now when AWS credentials resolve; without
    credentials this refuses, naming the command to run.
    """
    spec = json.loads(path.read_text(encoding="utf-8"))
    if not spec.get("resolved_offline"):
        return 0
    import boto3

    if boto3.Session(region_name=region).get_credentials() is None:
        print(
            f"error: {path} was resolved from an offline metadata fixture (its training half is a "
            "sibling model's metadata) and no AWS credentials were found to resolve it live. "
            f"Run `make resolve-jumpstart REGION={region}` with credentials, commit the spec, "
            "then deploy.",
            file=sys.stderr,
        )
        return 2
    print(f"{path} was resolved offline: resolving it live for {region} before deploying")
    return resolve_now()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--model-id", default=MODEL_ID)
    parser.add_argument("--model-version", default=MODEL_VERSION)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--training-instance-type")
    parser.add_argument("--inference-instance-type")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--metadata-dir", help="read JumpStart metadata from this folder instead of S3"
    )
    parser.add_argument("--source", help="override the spec's 'source' note")
    parser.add_argument(
        "--ensure-live",
        action="store_true",
        help="do nothing if --output was resolved live; else resolve it now (needs credentials)",
    )
    args = parser.parse_args(argv)
    if args.ensure_live:
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--ensure-live"]
        return ensure_live_spec(args.output, args.region, lambda: main(rest))
    if args.metadata_dir:
        use_local_metadata(args.metadata_dir)
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    try:
        spec = resolve(
            model_id=args.model_id,
            model_version=args.model_version,
            region=args.region,
            epochs=args.epochs,
            training_instance_type=args.training_instance_type,
            inference_instance_type=args.inference_instance_type,
            source=args.source,
        )
    except MetadataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({spec['model_id']} {spec['model_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
