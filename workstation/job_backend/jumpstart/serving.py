"""The JumpStart model servers: which one a transform job gets, and how each reads a body.

- the Hugging Face inference toolkit (``huggingface-pytorch-inference``, 1.x): as its
  ``handler_service`` does, code is imported only from ``<model dir>/code``
  (``SAGEMAKER_PROGRAM``), ``SAGEMAKER_SUBMIT_DIRECTORY`` is never downloaded; JumpStart's
  ``inference.py`` takes ``{"text_inputs", "max_length", ...}`` and answers
  ``{"generated_texts": [...]}``; without it the default handler takes ``{"inputs", "parameters"}``
  and answers ``[{"generated_text"}]``; a body it cannot use is a 400 that fails the line;
- TGI (``huggingface-pytorch-tgi-inference``, 2.x): ``{"inputs", "parameters"}`` only, 422
  otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.jumpstart.artifacts import CODE_DIR
from radimpress_workstation.job_backend.jumpstart.errors import ClientError
from radimpress_workstation.job_backend.jumpstart.metadata import instance_family
from radimpress_workstation.job_backend.jumpstart.requests import hosting_versions
from radimpress_workstation.job_backend.jumpstart.standin import StandIn

MODEL_CODE_DIR = "/opt/ml/model/code"
JSON_TYPES = ("application/json",)
ACCEPT_TYPES = ("application/json", "application/json;verbose")
# JumpStart's 1.x text2text inference.py: the generation settings it passes to generate().
TEXT2TEXT_PARAMETERS: dict[str, tuple[type | tuple[type, ...], float | None, float | None]] = {
    "max_length": (int, 1, None),
    "max_time": ((int, float), 0, None),
    "num_return_sequences": (int, 1, None),
    "num_beams": (int, 1, None),
    "top_p": ((int, float), 0, 1),
    "top_k": (int, 0, None),
    "temperature": ((int, float), 0, None),
    "do_sample": (bool, None, None),
    "early_stopping": (bool, None, None),
    "no_repeat_ngram_size": (int, 0, None),
    "seed": (int, None, None),
}


def serve(
    image: str,
    repository: str,
    region: str,
    requests: Mapping[str, Mapping[str, Any]],
    model_dir: Path | None,
) -> Any:
    """The model server ``image`` starts for the bound CreateModel and CreateTransformJob."""
    model = requests.get("CreateModel", {})
    environment = dict(model.get("PrimaryContainer", {}).get("Environment") or {})
    transform = requests.get("CreateTransformJob", {})
    _check_transform(image, region, transform, model)
    limit = int(transform.get("MaxPayloadInMB", 6)) * 1024 * 1024
    if "tgi" in repository:
        return TgiServer(_model_dir_or_fail(model_dir, image), limit)
    return _load_toolkit_handler(model_dir, environment, limit)


def _check_transform(
    image: str, region: str, transform: Mapping[str, Any], model: Mapping[str, Any]
) -> None:
    """Content types and instance family, as the container and its metadata take them."""
    content_type = transform.get("TransformInput", {}).get("ContentType", "application/json")
    accept = transform.get("TransformOutput", {}).get("Accept", "application/json")
    if content_type not in JSON_TYPES:
        raise ClientError(f"ContentType {content_type} is not accepted (application/json)")
    if accept not in ACCEPT_TYPES:
        raise ClientError(f"Accept {accept} is not produced ({', '.join(ACCEPT_TYPES)})")
    instance_type = transform.get("TransformResources", {}).get("InstanceType", "")
    url = str(model.get("PrimaryContainer", {}).get("ModelDataUrl", ""))
    for version in hosting_versions(image, region, url):
        images = version.hosting_images.get(region, {})
        if images.get(instance_family(instance_type)) == image:
            return
    if instance_type:
        raise ClientError(
            f"{image} is not the image JumpStart serves this model with on "
            f"{instance_type} (instance-type variants of the metadata)"
        )


def _model_dir_or_fail(model_dir: Path | None, image: str) -> Path:
    if model_dir is None:
        raise ClientError(
            f"{image}: the model has no ModelDataUrl to load (container failed /ping)"
        )
    return model_dir


def _bad_request(status: int, message: str) -> ClientError:
    return ClientError(f"Bad HTTP status received from algorithm: {status} ({message})")


def _check_size(payload: Any, limit: int) -> None:
    if len(json.dumps(payload).encode()) > limit:
        raise _bad_request(413, "the record exceeds MaxPayloadInMB")


def _load_toolkit_handler(
    model_dir: Path | None, environment: Mapping[str, str], limit: int
) -> Any:
    """What the Hugging Face inference toolkit's handler_service loads at model-server start."""
    submit = str(environment.get("SAGEMAKER_SUBMIT_DIRECTORY", MODEL_CODE_DIR))
    if submit.rstrip("/") != MODEL_CODE_DIR:
        raise ClientError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={submit}: the Hugging Face inference toolkit never "
            f"downloads code; it imports SAGEMAKER_PROGRAM from {MODEL_CODE_DIR} only (the "
            "inference code belongs inside model.tar.gz under code/)"
        )
    directory = _model_dir_or_fail(model_dir, "huggingface-pytorch-inference")
    program = str(environment.get("SAGEMAKER_PROGRAM", "inference.py"))
    script = directory / CODE_DIR / program
    if script.is_file():
        if "jumpstart-text2text-1.x" not in script.read_text(encoding="utf-8", errors="replace"):
            raise ClientError(f"code/{program} is not a script this double can run")
        return Text2TextHandler(StandIn(directory), limit)
    if "HF_TASK" not in environment and not (directory / "config.json").is_file():
        raise ClientError(
            "You need to define one of the supported tasks as env 'HF_TASK' (no "
            f"code/{program} and no config.json in the model; container failed /ping)"
        )
    return DefaultPipelineHandler(StandIn(directory), program, limit)


class Text2TextHandler:
    """JumpStart's 1.x text2text ``inference.py``: ``text_inputs`` + generation settings."""

    def __init__(self, standin: StandIn, limit: int) -> None:
        self.standin = standin
        self.limit = limit

    def decode(self, payload: Any) -> tuple[list[str], int, int]:
        _check_size(payload, self.limit)
        if not isinstance(payload, dict):
            raise _bad_request(400, "the body must be a JSON object with 'text_inputs'")
        if "text_inputs" not in payload:
            hint = (
                "; {'inputs', 'parameters'} is the TGI (2.x) body"
                if "inputs" in payload or "parameters" in payload
                else ""
            )
            raise _bad_request(400, f"'text_inputs' is required{hint}")
        texts = payload["text_inputs"]
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise _bad_request(400, "'text_inputs' must be a string or a list of strings")
        settings = {k: v for k, v in payload.items() if k != "text_inputs"}
        unknown = sorted(set(settings) - set(TEXT2TEXT_PARAMETERS))
        if unknown:
            raise _bad_request(400, f"unsupported parameter(s) {', '.join(unknown)}")
        for name, value in settings.items():
            kinds, low, high = TEXT2TEXT_PARAMETERS[name]
            numeric = isinstance(value, kinds) and not (
                isinstance(value, bool) and kinds is not bool
            )
            if (
                not numeric
                or (low is not None and value < low)
                or (high is not None and value > high)
            ):
                raise _bad_request(400, f"parameter {name} has an invalid value")
        beams = int(settings.get("num_beams", 1))
        sequences = int(settings.get("num_return_sequences", 1))
        if sequences > beams and not settings.get("do_sample"):
            raise _bad_request(400, "num_return_sequences must be <= num_beams without sampling")
        return texts, int(settings.get("max_length", 20)), sequences

    def predict(self, inputs: list[Any]) -> list[Any]:
        answers = []
        for texts, max_length, sequences in inputs:
            generated = self.standin.generate(texts, [max_length] * len(texts))
            answers.append({"generated_texts": [g for g in generated for _ in range(sequences)]})
        return answers


class DefaultPipelineHandler:
    """The toolkit's default handler (no inference script): ``{"inputs", "parameters"}``."""

    def __init__(self, standin: StandIn, program: str, limit: int) -> None:
        self.standin = standin
        self.program = program
        self.limit = limit

    def decode(self, payload: Any) -> tuple[str, int]:
        _check_size(payload, self.limit)
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(inputs, str):
            raise _bad_request(
                400,
                f"no code/{self.program} in the model archive, so the toolkit's default "
                "text2text-generation handler ran, and it takes {'inputs': ..., 'parameters': "
                "...}",
            )
        parameters = payload.get("parameters") or {}
        return inputs, int(parameters.get("max_new_tokens", parameters.get("max_length", 20)))

    def predict(self, inputs: list[Any]) -> list[Any]:
        texts = self.standin.generate([t for t, _ in inputs], [n for _, n in inputs])
        return [[{"generated_text": text}] for text in texts]


class TgiServer:
    """Text Generation Inference (JumpStart 2.x): ``{"inputs": str, "parameters": {...}}``."""

    def __init__(self, model_dir: Path, limit: int) -> None:
        if not (model_dir / "config.json").is_file():
            raise ClientError("TGI found no Hugging Face model (config.json) in /opt/ml/model")
        self.standin = StandIn(model_dir)
        self.limit = limit

    def decode(self, payload: Any) -> tuple[str, int]:
        _check_size(payload, self.limit)
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), str):
            raise _bad_request(
                422,
                "Failed to deserialize the JSON body into the target type: missing field "
                "`inputs` (TGI takes {'inputs', 'parameters'})",
            )
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _bad_request(422, "`parameters` must be an object")
        return payload["inputs"], int(parameters.get("max_new_tokens", 20))

    def predict(self, inputs: list[Any]) -> list[Any]:
        texts = self.standin.generate([t for t, _ in inputs], [n for _, n in inputs])
        return [[{"generated_text": text}] for text in texts]
