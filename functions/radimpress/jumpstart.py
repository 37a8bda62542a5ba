"""SageMaker requests built from the resolved spec with plain dicts (boto3 shapes, no SDK).

The requests reproduce what the SageMaker Python SDK v2 sends (``JumpStartEstimator.fit``,
``JumpStartModel`` and its transformer), which tests/unit/test_jumpstart_sdk_parity.py checks
against the SDK itself. On top of that, on purpose: GZIP output compression said explicitly
(Batch Transform needs a ``model.tar.gz``; models are always created with ``ModelDataUrl`` to a
``.tar.gz``, never ``ModelDataSource``), the training run capped at the execution's maximum wait
(so a job outliving its execution stops itself), and the data key on the jobs' volumes where the
instance has EBS volumes (instance-store volumes are hardware-encrypted and SageMaker refuses a
``VolumeKmsKeyId`` for them). Every request uses the images and URIs of the job's region.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from radimpress.errors import OutputMismatch, SpecError
from radimpress.spec import DEFAULT_PAYLOAD, ModelSpec

MAX_NAME = 63
# Upper bound of a training job's MaxRuntimeInSeconds: the template's MaxWaitSeconds MaxValue
# (tests/unit/test_history_budget.py keeps them equal), so no job outlives the longest wait.
MAX_RUNTIME_SECONDS = 172800
# Instance families whose storage is NVMe instance store (no EBS volume to put a KMS key on).
_INSTANCE_STORE_FAMILY = re.compile(
    r"^(?:[a-z]+\d+[a-z]*d[a-z]*|g5|g5g|g6|g6e|p5|p5e|p5en|trn1n?)$"
)
TRANSFORM_DATA_PROCESSING = {
    "InputFilter": "$.inputs",
    "JoinSource": "Input",
    "OutputFilter": "$['study_id','SageMakerOutput']",
}
# Request-body field of local models' transform lines only: the placeholder convention of the
# report's ORIGINAL findings (the prompt holds them normalised to "___"). JumpStart bodies never
# carry it: their containers take exactly {"text_inputs", "max_length", "num_beams"}.
PLACEHOLDER_CONVENTION_FIELD = "placeholder_convention"
TRAINING_CHANNEL = "training"
TRANSFORM_INPUT_NAME = "input.jsonl"


def resource_name(prefix: str, kind: str, *parts: str) -> str:
    """A deterministic SageMaker name (<= 63 chars): retries of a step reuse the same name."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
    name = f"{prefix}-{kind}-{digest}"
    if len(name) > MAX_NAME or not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name):
        raise SpecError(f"resource name {name!r} is not a valid SageMaker name")
    return name


def has_instance_storage(instance_type: str) -> bool:
    """True for ml.* types whose volumes are instance store (m5d, g4dn, p3dn, g5, p4d, ...)."""
    parts = instance_type.split(".")
    return len(parts) == 3 and bool(_INSTANCE_STORE_FAMILY.match(parts[1]))


def _volume_key(instance_type: str, kms_key_arn: str) -> dict[str, str]:
    if not kms_key_arn or has_instance_storage(instance_type):
        return {}
    return {"VolumeKmsKeyId": kms_key_arn}


def _check_instance_type(spec: ModelSpec, section: str, instance_type: str) -> None:
    supported = spec.raw[section].get("supported_instance_types") or []
    if supported and instance_type not in supported:
        raise SpecError(
            f"{spec.model_id} {spec.model_version} does not support {section} on "
            f"{instance_type} (its metadata lists: {', '.join(supported)})"
        )


def _tags(spec: ModelSpec, extra: Mapping[str, str]) -> list[dict[str, str]]:
    tags = [dict(t) for t in spec.training.get("tags", [])]
    tags += [{"Key": k, "Value": v} for k, v in extra.items()]
    return tags


def training_hyperparameters(spec: ModelSpec, epochs: int | None) -> dict[str, str]:
    """The algorithm hyperparameters (plain strings), ``epochs`` set and every name checked."""
    hyperparameters = {k: str(v) for k, v in spec.training["hyperparameters"].items()}
    if epochs is not None:
        hyperparameters["epochs"] = str(epochs)
    known = set(spec.training["hyperparameter_names"])
    unknown = sorted(set(hyperparameters) - known)
    if unknown:
        raise SpecError(
            f"model spec {spec.name}: hyperparameter(s) {', '.join(unknown)} not accepted by "
            f"{spec.model_id} (known: {', '.join(sorted(known))})"
        )
    return hyperparameters


def encode_hyperparameters(
    hyperparameters: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    job_name: str,
    region: str,
) -> dict[str, str]:
    """JSON-encode every value as the SDK does; script mode adds the job name and region."""
    encoded = {k: json.dumps(v) for k, v in hyperparameters.items()}
    if container:
        encoded.update({k: json.dumps(v) for k, v in container.items()})
        encoded["sagemaker_job_name"] = json.dumps(job_name)
        encoded["sagemaker_region"] = json.dumps(region)
    return encoded


def build_training_request(
    spec: ModelSpec,
    *,
    job_name: str,
    role_arn: str,
    train_uri: str,
    output_uri: str,
    region: str,
    instance_type: str = "",
    epochs: int | None = None,
    kms_key_arn: str = "",
    tags: Mapping[str, str] | None = None,
    max_runtime_seconds: int | None = None,
) -> dict[str, Any]:
    """``create_training_job`` kwargs for a JumpStart (or local) fine-tune of ``spec``.

    ``max_runtime_seconds`` (the execution's max_wait_seconds) caps the spec's maximum run time.
    """
    spec = spec.for_region(region)
    t = spec.training
    instance_type = instance_type or t["instance_type"]
    _check_instance_type(spec, "training", instance_type)
    runtime = min(int(t.get("max_run_seconds", 86400)), max_runtime_seconds or MAX_RUNTIME_SECONDS)
    algorithm: dict[str, Any] = {"TrainingInputMode": "File", "TrainingImage": t["image_uri"]}
    if t.get("metric_definitions"):
        algorithm["MetricDefinitions"] = [dict(m) for m in t["metric_definitions"]]
    channels: list[dict[str, Any]] = [
        {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": train_uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ChannelName": TRAINING_CHANNEL,
        }
    ]
    channels += [json.loads(json.dumps(c)) for c in t.get("extra_input_channels", [])]
    output: dict[str, Any] = {"S3OutputPath": output_uri, "CompressionType": "GZIP"}
    if kms_key_arn:
        output["KmsKeyId"] = kms_key_arn
    request: dict[str, Any] = {
        "AlgorithmSpecification": algorithm,
        "OutputDataConfig": output,
        "TrainingJobName": job_name,
        "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
        "ResourceConfig": {
            "VolumeSizeInGB": int(t.get("volume_size_gb", 30)),
            "InstanceCount": 1,
            "InstanceType": instance_type,
            **_volume_key(instance_type, kms_key_arn),
        },
        "RoleArn": role_arn,
        "InputDataConfig": channels,
        "HyperParameters": encode_hyperparameters(
            training_hyperparameters(spec, epochs),
            t.get("container_hyperparameters", {}),
            job_name=job_name,
            region=region,
        ),
        "Tags": _tags(spec, tags or {}),
        "EnableNetworkIsolation": bool(t.get("enable_network_isolation", False)),
        "EnableInterContainerTrafficEncryption": bool(
            t.get("encrypt_inter_container_traffic", False)
        ),
    }
    if t.get("environment"):
        request["Environment"] = {k: str(v) for k, v in t["environment"].items()}
    return request


def training_template(spec: ModelSpec) -> dict[str, str]:
    """The JumpStart ``template.json`` of the training channel."""
    return {"prompt": spec.prompt_template, "completion": "{impression}"}


def _model_request(
    *,
    model_name: str,
    image_uri: str,
    model_data_url: str,
    role_arn: str,
    environment: Mapping[str, Any],
    network_isolation: bool,
    tags: Mapping[str, str] | None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": image_uri}
    if model_data_url:
        if not model_data_url.startswith("s3://") or not model_data_url.endswith(".tar.gz"):
            raise SpecError(
                f"model {model_name}: ModelDataUrl must be an s3:// URI of a .tar.gz "
                f"(Batch Transform cannot use uncompressed weights), got {model_data_url!r}"
            )
        container["ModelDataUrl"] = model_data_url
    if environment:
        container["Environment"] = {k: str(v) for k, v in environment.items()}
    return {
        "ModelName": model_name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": network_isolation,
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def pretrained_model_name(spec: ModelSpec, prefix: str) -> str:
    """Unique per stack (``prefix`` is the stack's resource prefix) and per model version/region."""
    i = spec.inference
    return resource_name(
        prefix, "pt", spec.model_id, spec.model_version, i["image_uri"], i.get("model_uri", "")
    )


def build_pretrained_model_request(
    spec: ModelSpec,
    *,
    prefix: str,
    role_arn: str,
    tags: Mapping[str, str] | None = None,
    region: str = "",
) -> dict[str, Any]:
    """``create_model`` kwargs for the pre-trained model named in the spec (as JumpStartModel)."""
    spec = spec.for_region(region)
    i = spec.inference
    return _model_request(
        model_name=pretrained_model_name(spec, prefix),
        image_uri=i["image_uri"],
        model_data_url=i.get("model_uri", ""),
        role_arn=role_arn,
        environment=i.get("environment", {}),
        network_isolation=bool(i.get("enable_network_isolation", False)),
        tags=tags,
    )


def build_fine_tuned_model_request(
    spec: ModelSpec,
    *,
    model_name: str,
    model_data_url: str,
    role_arn: str,
    tags: Mapping[str, str] | None = None,
    region: str = "",
) -> dict[str, Any]:
    """``create_model`` kwargs serving a fine-tune's ``model.tar.gz``, as the SDK deploys it.

    ``JumpStartModel(model_data=<fine-tuned tar.gz>)`` for a version with prepacked inference
    sends the spec's image and environment and no script location: the container loads
    ``inference.py`` from ``<model dir>/code`` (``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``),
    which the prepacked training script writes into the archive. It never downloads code from
    S3, so network isolation stays on as for the pre-trained model.
    """
    spec = spec.for_region(region)
    i = spec.inference
    environment = dict(i.get("environment", {}))
    submit = str(environment.get("SAGEMAKER_SUBMIT_DIRECTORY", ""))
    if submit.startswith("s3://"):
        raise SpecError(
            f"model spec {spec.name}: SAGEMAKER_SUBMIT_DIRECTORY={submit} is never downloaded "
            "by the Hugging Face inference toolkit; the code must be inside model.tar.gz"
        )
    return _model_request(
        model_name=model_name,
        image_uri=spec.fine_tuned_image_uri,
        model_data_url=model_data_url,
        role_arn=role_arn,
        environment=environment,
        network_isolation=bool(i.get("enable_network_isolation", False)),
        tags=tags,
    )


def build_transform_request(
    *,
    job_name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    instance_type: str,
    kms_key_arn: str = "",
    tags: Mapping[str, str] | None = None,
    spec: ModelSpec | None = None,
) -> dict[str, Any]:
    """``create_transform_job`` kwargs: JSON lines in, study_id joined through to the output.

    With ``spec`` the instance type is checked against the model's supported ones and the
    content types come from its payload contract.
    """
    payload = spec.payload if spec is not None else DEFAULT_PAYLOAD
    if spec is not None and not spec.is_local:
        _check_instance_type(spec, "inference", instance_type)
    output: dict[str, Any] = {
        "S3OutputPath": output_uri,
        "Accept": payload["accept"],
        "AssembleWith": "Line",
    }
    if kms_key_arn:
        output["KmsKeyId"] = kms_key_arn
    # One request at a time to a JumpStart model (one model copy per GPU instance). A local
    # model's request leaves it unset: SageMaker then asks the container's execution-parameters
    # (CreateTransformJob, MaxConcurrentTransforms), and the local container answers with as many
    # model-server workers as the machine has CPUs (job_backend.local_container).
    concurrency = {} if spec is not None and spec.is_local else {"MaxConcurrentTransforms": 1}
    return {
        "TransformJobName": job_name,
        "ModelName": model_name,
        **concurrency,
        "MaxPayloadInMB": 6,
        "BatchStrategy": "SingleRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": payload["content_type"],
            "SplitType": "Line",
        },
        "TransformOutput": output,
        "TransformResources": {
            "InstanceType": instance_type,
            "InstanceCount": 1,
            **_volume_key(instance_type, kms_key_arn),
        },
        "DataProcessing": dict(TRANSFORM_DATA_PROCESSING),
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def render_prompt(spec: ModelSpec, findings: str) -> str:
    """The prompt for one report (``{findings}`` replaced; other braces left alone)."""
    return spec.prompt_template.replace("{findings}", findings)


def request_body(
    prompt: str, *, max_length: int, num_beams: int, spec: ModelSpec | None = None
) -> dict[str, Any]:
    """One invocation body in the hosting container's shape (spec's ``inference.payload``).

    1.x (Hugging Face inference toolkit): ``{"text_inputs", "max_length", "num_beams"}``;
    2.x (TGI): ``{"inputs", "parameters": {"max_new_tokens", "num_beams"}}``.
    """
    payload = spec.payload if spec is not None else DEFAULT_PAYLOAD
    parameters = {payload["max_length_key"]: max_length, "num_beams": num_beams}
    if payload.get("parameters_key"):
        return {payload["prompt_key"]: prompt, payload["parameters_key"]: parameters}
    return {payload["prompt_key"]: prompt, **parameters}


def transform_line(
    study_id: str,
    prompt: str,
    *,
    max_length: int,
    num_beams: int,
    spec: ModelSpec | None = None,
    placeholder_convention: str | None = None,
) -> dict[str, Any]:
    """One line of the transform input (see docs/contracts.md); the body follows ``spec``.

    ``placeholder_convention`` goes into the body as :data:`PLACEHOLDER_CONVENTION_FIELD` for
    local specs only; a JumpStart body is exactly its container's shape whatever is passed.
    """
    body = request_body(prompt, max_length=max_length, num_beams=num_beams, spec=spec)
    if placeholder_convention is not None and spec is not None and spec.is_local:
        body[PLACEHOLDER_CONVENTION_FIELD] = placeholder_convention
    return {"study_id": study_id, "inputs": body}


def generated_text(output_line: Mapping[str, Any], where: str) -> str:
    """The generated text of one transform output line (JumpStart: ``generated_texts[0]``)."""
    out = output_line.get("SageMakerOutput")
    if isinstance(out, Mapping):
        texts: Sequence[Any] | Any = out.get("generated_texts", out.get("generated_text"))
        if isinstance(texts, str):
            return texts
        if isinstance(texts, Sequence) and texts and isinstance(texts[0], str):
            return texts[0]
    if isinstance(out, list) and out and isinstance(out[0], Mapping):
        text = out[0].get("generated_text")
        if isinstance(text, str):
            return text
    raise OutputMismatch(f"{where}: SageMakerOutput has no generated text")
