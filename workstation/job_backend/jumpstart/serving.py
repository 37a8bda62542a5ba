"""The JumpStart model servers: which one a transform job or a local endpoint gets, and how each
reads a body.

- the Hugging Face inference toolkit (``huggingface-pytorch-inference``, 1.x): as its
  ``handler_service`` does, code is imported only from ``<model dir>/code``
  (``SAGEMAKER_PROGRAM``), ``SAGEMAKER_SUBMIT_DIRECTORY`` is never downloaded; JumpStart's
  ``inference.py`` takes ``{"text_inputs", "max_length", ...}`` and answers
  ``{"generated_texts": [...]}``; without it the default handler takes ``{"inputs", "parameters"}``
  and answers ``[{"generated_text"}]``; a body it cannot use is a 400 that fails the line;
- TGI (``huggingface-pytorch-tgi-inference``, 2.x): ``{"inputs", "parameters"}`` only, 422
  otherwise.

A Batch Transform line and a local endpoint's request (``radimpress serve``) are read by the same
code: the size check (``check_size``), the content types (``check_content_type``,
``check_accept``) and each server's ``read`` (the body's fields), so both refuse the same bodies
with the same status (``BadRequest.status``).

Status codes, as the real containers answer them:
- the Hugging Face inference toolkit's ``HuggingFaceHandlerService.handle`` wraps every exception
  of a request, ``decoder_encoder.decode``'s ``UnsupportedFormatError`` for an unknown Content-Type
  or Accept included, in ``PredictionException(str(e), 400)``
  (github.com/aws/sagemaker-huggingface-inference-toolkit, v1.3.1 to v2.6.0,
  src/sagemaker_huggingface_inference_toolkit/handler_service.py and decoder_encoder.py): an
  unknown content type is a 400 there, not a 415 (nothing in the toolkit, nor in
  sagemaker-inference-toolkit or multi-model-server, answers 415). Its decoder map is keyed by
  the exact header, so ``application/json; charset=utf-8`` is unknown too;
- a body over the limit is a 413: Multi Model Server, which the toolkit runs, aggregates requests
  with Netty's ``HttpObjectAggregator(max_request_size)`` (awslabs/multi-model-server,
  frontend/server/src/main/java/com/amazonaws/ml/mms/ServerInitializer.java), which answers 413.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from radimpress_workstation.job_backend.jumpstart.artifacts import CODE_DIR
from radimpress_workstation.job_backend.jumpstart.errors import ClientError
from radimpress_workstation.job_backend.jumpstart.metadata import instance_family
from radimpress_workstation.job_backend.jumpstart.requests import hosting_versions
from radimpress_workstation.job_backend.jumpstart.standin import StandIn

MODEL_CODE_DIR = "/opt/ml/model/code"
JSON_TYPES = ("application/json",)
ACCEPT_TYPES = ("application/json", "application/json;verbose")
ANY_ACCEPT = "*/*"  # handler_service.handle: no Accept, or */*, answers JSON
MEBIBYTE = 1024 * 1024
# A real-time endpoint's request body: at most 6 MB (SageMaker Runtime API reference,
# InvokeEndpoint, Body: "Length Constraints: Maximum length of 6291456"; botocore's
# data/sagemaker-runtime/2017-05-13/service-2.json, BodyBlob "max": 6291456). Batch Transform's
# limit is the job's MaxPayloadInMB, 6 by default: the same number.
ENDPOINT_MAX_PAYLOAD = 6 * MEBIBYTE
# What the toolkit answers an unknown Content-Type or Accept with (see the module's docstring).
UNSUPPORTED_MEDIA_STATUS = 400
PAYLOAD_TOO_LARGE = 413
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


class BadRequest(ClientError):
    """A request the model server answers with an HTTP error ``status``: in a transform job it
    fails the line (the message is SageMaker's FailureReason), at a local endpoint it is the
    response's status. ``reason`` names what is wrong, never the body's text."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"Bad HTTP status received from algorithm: {status} ({reason})")


class Generator(Protocol):
    """What writes the impressions behind a text2text server: the JumpStart stand-in, or a
    local model (``radimpress_workstation.local_endpoint``)."""

    def generate(self, prompts: list[str], max_tokens: list[int]) -> list[str]: ...


def serve(
    image: str,
    repository: str,
    region: str,
    requests: Mapping[str, Mapping[str, Any]],
    model_dir: Path | None,
) -> Any:
    """The model server ``image`` starts for the bound CreateModel and CreateTransformJob."""
    model = requests.get("CreateModel", {})
    transform = requests.get("CreateTransformJob", {})
    _check_transform(image, region, transform, model)
    limit = int(transform.get("MaxPayloadInMB", 6)) * MEBIBYTE
    return model_server(repository, model, model_dir, limit)


def model_server(
    repository: str, model: Mapping[str, Any], model_dir: Path | None, limit: int
) -> Any:
    """The server the image of ``repository`` runs for the CreateModel request ``model`` with
    its extracted archive ``model_dir``; bodies up to ``limit`` bytes. A transform job's server
    (``serve``) and a local endpoint's (``radimpress serve``) are this one."""
    environment = dict(model.get("PrimaryContainer", {}).get("Environment") or {})
    if "tgi" in repository:
        return TgiServer(_model_dir_or_fail(model_dir, repository), limit)
    return _load_toolkit_handler(model_dir, environment, limit)


def check_content_type(content_type: str | None) -> None:
    """The request's Content-Type, as the toolkit's decoder map takes it (the exact header)."""
    if content_type not in JSON_TYPES:
        raise BadRequest(
            UNSUPPORTED_MEDIA_STATUS,
            f"ContentType {_shown(content_type)} is not accepted ({', '.join(JSON_TYPES)})",
        )


def check_accept(accept: str | None) -> None:
    """The request's Accept: none or ``*/*`` is JSON (``handle``), else one the encoder knows."""
    if accept and accept != ANY_ACCEPT and accept not in ACCEPT_TYPES:
        raise BadRequest(
            UNSUPPORTED_MEDIA_STATUS,
            f"Accept {_shown(accept)} is not produced ({', '.join(ACCEPT_TYPES)})",
        )


def check_size(size: int, limit: int) -> None:
    """A body of ``size`` bytes against the server's limit (MaxPayloadInMB, or 6 MB)."""
    if size > limit:
        raise BadRequest(
            PAYLOAD_TOO_LARGE, f"the body is {size} bytes, over the limit of {limit} bytes"
        )


def parse_json(body: bytes) -> Any:
    """The body as the toolkit's ``decode_json`` reads it (``json.loads``)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSON, UTF-8, or nesting: never quote the body
        raise BadRequest(400, "the body is not valid JSON") from None


def check_request(content_type: str | None, accept: str | None, size: int, limit: int) -> None:
    """What an endpoint can refuse before reading the body: its types, then its size."""
    check_content_type(content_type)
    check_accept(accept)
    check_size(size, limit)


def answer(server: Any, body: bytes) -> Any:
    """The response body of a loaded ``server`` to a checked request's ``body`` (parsed, read
    by the server's own ``read``, predicted), or ``BadRequest``."""
    return server.predict([server.read(parse_json(body))])[0]


def invoke(server: Any, body: bytes, content_type: str | None, accept: str | None) -> Any:
    """One request to a loaded ``server`` (a local endpoint's /invocations): the response body
    as JSON, or ``BadRequest`` with the status the container answers."""
    check_request(content_type, accept, len(body), server.limit)
    return answer(server, body)


_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def _key_names(keys: list[str]) -> str:
    """Unknown keys of a body, named only when they look like parameter names (identifiers of
    at most 32 characters): a key could hold report text, which a message never quotes."""
    named = [k for k in keys if _PARAMETER_NAME.match(k)]
    parts = named[:5] + ([f"{len(named) - 5} more"] if len(named) > 5 else [])
    unnamed = len(keys) - len(named)
    if unnamed:
        parts.append(f"{unnamed} key(s) that are not parameter names")
    return ", ".join(parts)


def _shown(value: str | None) -> str:
    """A header value a message may name: printable ASCII, at most 60 characters."""
    if value is None:
        return "(none)"
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in value[:60])
    return text + ("..." if len(value) > 60 else "")


def _check_transform(
    image: str, region: str, transform: Mapping[str, Any], model: Mapping[str, Any]
) -> None:
    """Content types and instance family, as the container and its metadata take them."""
    check_content_type(transform.get("TransformInput", {}).get("ContentType", "application/json"))
    check_accept(transform.get("TransformOutput", {}).get("Accept", "application/json"))
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


def _payload_size(payload: Any) -> int:
    """A transform record's size: the body after InputFilter, as JSON."""
    return len(json.dumps(payload).encode())


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
    """JumpStart's 1.x text2text ``inference.py``: ``text_inputs`` + generation settings.

    ``generator`` writes the texts: the JumpStart stand-in in the double, or a local model behind
    a local endpoint (the same contract: ``radimpress serve``)."""

    def __init__(self, generator: Generator, limit: int) -> None:
        self.generator = generator
        self.limit = limit

    def decode(self, payload: Any) -> tuple[list[str], int, int]:
        """A transform record: its size, then its fields (``read``)."""
        check_size(_payload_size(payload), self.limit)
        return self.read(payload)

    def read(self, payload: Any) -> tuple[list[str], int, int]:
        """(texts, max_length, num_return_sequences) of a body, or ``BadRequest`` 400."""
        if not isinstance(payload, dict):
            raise BadRequest(400, "the body must be a JSON object with 'text_inputs'")
        if "text_inputs" not in payload:
            hint = (
                "; {'inputs', 'parameters'} is the TGI (2.x) body"
                if "inputs" in payload or "parameters" in payload
                else ""
            )
            raise BadRequest(400, f"'text_inputs' is required{hint}")
        texts = payload["text_inputs"]
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise BadRequest(400, "'text_inputs' must be a string or a list of strings")
        settings = {k: v for k, v in payload.items() if k != "text_inputs"}
        _check_settings(settings)
        beams = int(settings.get("num_beams", 1))
        sequences = int(settings.get("num_return_sequences", 1))
        if sequences > beams and not settings.get("do_sample"):
            raise BadRequest(400, "num_return_sequences must be <= num_beams without sampling")
        return texts, int(settings.get("max_length", 20)), sequences

    def predict(self, inputs: list[Any]) -> list[Any]:
        answers = []
        for texts, max_length, sequences in inputs:
            generated = self.generator.generate(texts, [max_length] * len(texts))
            answers.append({"generated_texts": [g for g in generated for _ in range(sequences)]})
        return answers


def _check_settings(settings: Mapping[str, Any]) -> None:
    """The generation settings beside ``text_inputs``: known names, types and ranges."""
    unknown = sorted(set(settings) - set(TEXT2TEXT_PARAMETERS))
    if unknown:
        raise BadRequest(400, f"unsupported parameter(s) {_key_names(unknown)}")
    for name, value in settings.items():
        kinds, low, high = TEXT2TEXT_PARAMETERS[name]
        numeric = isinstance(value, kinds) and not (isinstance(value, bool) and kinds is not bool)
        if not numeric or (low is not None and value < low) or (high is not None and value > high):
            raise BadRequest(400, f"parameter {name} has an invalid value")


class DefaultPipelineHandler:
    """The toolkit's default handler (no inference script): ``{"inputs", "parameters"}``."""

    def __init__(self, standin: StandIn, program: str, limit: int) -> None:
        self.standin = standin
        self.program = program
        self.limit = limit

    def decode(self, payload: Any) -> tuple[str, int]:
        check_size(_payload_size(payload), self.limit)
        return self.read(payload)

    def read(self, payload: Any) -> tuple[str, int]:
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(inputs, str):
            raise BadRequest(
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
        check_size(_payload_size(payload), self.limit)
        return self.read(payload)

    def read(self, payload: Any) -> tuple[str, int]:
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), str):
            raise BadRequest(
                422,
                "Failed to deserialize the JSON body into the target type: missing field "
                "`inputs` (TGI takes {'inputs', 'parameters'})",
            )
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise BadRequest(422, "`parameters` must be an object")
        return payload["inputs"], int(parameters.get("max_new_tokens", 20))

    def predict(self, inputs: list[Any]) -> list[Any]:
        texts = self.standin.generate([t for t, _ in inputs], [n for _, n in inputs])
        return [[{"generated_text": text}] for text in texts]
