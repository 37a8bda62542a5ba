"""Request bodies as each Bedrock model family checks them: required fields, types, ranges.

``InvokeModel`` bodies are checked against the model parameter pages of the Bedrock user guide,
independently of ``radimpress.bedrock.model_input`` (the code under test):

- Anthropic Claude Messages (model-parameters-anthropic-claude-messages-request-response):
  ``anthropic_version`` = ``bedrock-2023-05-31``, ``max_tokens`` (integer >= 1) and ``messages``
  required; ``system`` a string or text blocks; ``temperature``/``top_p`` in [0, 1], ``top_k``
  >= 0, ``stop_sequences`` strings; messages ``{"role": "user"|"assistant", "content": string or
  blocks}``, the first from the user; a ``text`` block needs a ``text`` string.
- Meta Llama (model-parameters-meta): ``prompt`` required; ``temperature``/``top_p`` in [0, 1];
  ``max_gen_len`` 1..2048; ``images`` strings (Llama 3.2+).
- Amazon Nova (Nova user guide, "Complete request schema"): ``messages`` required (content blocks
  holding ``text``, ``image``, ``video``, ...), ``system`` text blocks, ``schemaVersion``
  ``messages-v1``, ``inferenceConfig`` with ``maxTokens`` >= 1 (at most 5,000 for Nova Micro,
  Lite and Pro),
  ``temperature`` in (0, 1], ``topP`` in [0, 1], ``topK`` >= 0, ``stopSequences``.
- Amazon Titan Text (model-parameters-titan-text): ``inputText`` required;
  ``textGenerationConfig`` with ``temperature``/``topP`` in [0, 1], ``maxTokenCount`` 0..4,096
  (Lite), 8,192 (Express), 3,072 (Premier), ``stopSequences``.
- Converse: botocore's ``bedrock-runtime`` ``Converse`` input shape (``service_model``), the job's
  model id standing in for ``modelId``.

A key no page lists is refused, as Bedrock refuses it. Messages follow Bedrock's wording for a
malformed body ("Malformed input request: #/max_tokens: expected type: Integer, found: String,
please reformat your input and try again.") and name fields, types and numbers, never text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from radimpress_workstation.job_backend.bedrock.service_model import check_request

ANTHROPIC = "anthropic-messages"
LLAMA = "meta-llama"
NOVA = "amazon-nova"
TITAN = "amazon-titan-text"
CONVERSE = "converse"

_GEOGRAPHIES = frozenset({"us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"})
_TITAN_MAX_TOKENS = {"lite": 4096, "express": 8192, "premier": 3072}
_NOVA_NOT_TEXT = ("nova-canvas", "nova-reel", "nova-sonic")  # images, video, speech
_NOVA_5K = ("nova-micro", "nova-lite", "nova-pro")  # maxTokens documented up to 5,000


class BodyError(ValueError):
    """A body the model refuses; the message is Bedrock's 400 ValidationException text."""


def foundation_model(model_id: str) -> str:
    """``anthropic.claude-x`` for a model id, a Region-prefixed profile id, or their ARNs."""
    resource = model_id.split("/", 1)[1] if model_id.startswith("arn:") else model_id
    parts = resource.split(".")
    if len(parts) > 2 and parts[0] in _GEOGRAPHIES:
        parts = parts[1:]
    return ".".join(parts)


def family(model_id: str) -> str | None:
    """The InvokeModel body family of a model, or None for a model the double does not serve."""
    provider, _, name = foundation_model(model_id).partition(".")
    if provider == "anthropic" and name.startswith("claude"):
        return ANTHROPIC
    if provider == "meta" and name.startswith("llama3"):
        return LLAMA
    if provider == "amazon" and name.startswith("nova") and not name.startswith(_NOVA_NOT_TEXT):
        return NOVA
    if provider == "amazon" and name.startswith("titan-text"):
        return TITAN
    return None


def _malformed(detail: str) -> BodyError:
    return BodyError(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, Mapping):
        return "JSONObject"
    return "Null"


def _expect(value: Any, path: str, *names: str) -> None:
    found = _type_name(value)
    accepted = set(names) | ({"Integer"} if "Number" in names else set())
    if found not in accepted:
        raise _malformed(f"{path}: expected type: {' or '.join(names)}, found: {found}")


def _number(value: Any, path: str, low: float, high: float, *, above_low: bool = False) -> None:
    _expect(value, path, "Number")
    if not math.isfinite(value) or value > high:
        raise _malformed(f"{path}: {value} is not less or equal to {high}")
    if value < low or (above_low and value == low):
        relation = "greater than" if above_low else "greater or equal to"
        raise _malformed(f"{path}: {value} is not {relation} {low}")


def _integer(value: Any, path: str, low: int, high: int | None = None) -> None:
    _expect(value, path, "Integer")
    if value < low:
        raise _malformed(f"{path}: {value} is not greater or equal to {low}")
    if high is not None and value > high:
        raise _malformed(f"{path}: {value} is not less or equal to {high}")


def _keys(body: Any, path: str, required: tuple[str, ...], allowed: frozenset[str]) -> None:
    _expect(body, path, "JSONObject")
    for key in body:
        if key not in allowed:
            raise _malformed(f"{path}: extraneous key [{key}] is not permitted")
    for key in required:
        if key not in body:
            raise _malformed(f"{path}: required key [{key}] not found")


def _strings(value: Any, path: str) -> None:
    _expect(value, path, "JSONArray")
    for index, item in enumerate(value):
        _expect(item, f"{path}/{index}", "String")


def _turns(messages: Any, path: str, check_content: Callable[[Any, str], None]) -> None:
    """A non-empty list of user/assistant turns, the first from the user."""
    _expect(messages, path, "JSONArray")
    if not messages:
        raise _malformed(f"{path}: expected minimum item count: 1, found: 0")
    for index, message in enumerate(messages):
        where = f"{path}/{index}"
        _keys(message, where, ("role", "content"), frozenset({"role", "content"}))
        if message["role"] not in ("user", "assistant"):
            raise _malformed(f"{where}/role: is not a valid enum value (user, assistant)")
        check_content(message["content"], f"{where}/content")
    if messages[0]["role"] != "user":
        raise _malformed(f"{path}/0/role: the first message must use the user role")


# -- Anthropic Claude Messages --

_ANTHROPIC_KEYS = frozenset(
    {
        "anthropic_version",
        "anthropic_beta",
        "max_tokens",
        "system",
        "messages",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
    }
)
_ANTHROPIC_BLOCKS = frozenset({"text", "image", "document", "tool_use", "tool_result"})


def _anthropic_content(content: Any, path: str) -> None:
    if isinstance(content, str):
        return
    _expect(content, path, "String", "JSONArray")
    for index, block in enumerate(content):
        where = f"{path}/{index}"
        _expect(block, where, "JSONObject")
        kind = block.get("type")
        if kind not in _ANTHROPIC_BLOCKS:
            raise _malformed(f"{where}/type: is not a valid enum value")
        if kind == "text":
            _keys(block, where, ("type", "text"), frozenset({"type", "text", "cache_control"}))
            _expect(block["text"], f"{where}/text", "String")


def check_anthropic(body: Any) -> None:
    _keys(body, "#", ("anthropic_version", "max_tokens", "messages"), _ANTHROPIC_KEYS)
    if body["anthropic_version"] != "bedrock-2023-05-31":
        raise _malformed("#/anthropic_version: bedrock-2023-05-31 is the only valid value")
    _integer(body["max_tokens"], "#/max_tokens", 1)
    if "system" in body and not isinstance(body["system"], str):
        _anthropic_content(body["system"], "#/system")
    _turns(body["messages"], "#/messages", _anthropic_content)
    for name in ("temperature", "top_p"):
        if name in body:
            _number(body[name], f"#/{name}", 0, 1)
    if "top_k" in body:
        _integer(body["top_k"], "#/top_k", 0)
    if "stop_sequences" in body:
        _strings(body["stop_sequences"], "#/stop_sequences")


# -- Meta Llama --


def check_llama(body: Any) -> None:
    _keys(
        body,
        "#",
        ("prompt",),
        frozenset({"prompt", "temperature", "top_p", "max_gen_len", "images"}),
    )
    _expect(body["prompt"], "#/prompt", "String")
    for name in ("temperature", "top_p"):
        if name in body:
            _number(body[name], f"#/{name}", 0, 1)
    if "max_gen_len" in body:
        _integer(body["max_gen_len"], "#/max_gen_len", 1, 2048)
    if "images" in body:
        _strings(body["images"], "#/images")


# -- Amazon Nova --

_NOVA_BLOCKS = frozenset(
    {
        "text",
        "image",
        "video",
        "document",
        "toolUse",
        "toolResult",
        "reasoningContent",
        "cachePoint",
    }
)


def _nova_content(content: Any, path: str) -> None:
    _expect(content, path, "JSONArray")
    for index, block in enumerate(content):
        where = f"{path}/{index}"
        _expect(block, where, "JSONObject")
        if len(block) != 1 or next(iter(block)) not in _NOVA_BLOCKS:
            raise _malformed(f"{where}: a content block holds exactly one of text, image, video")
        if "text" in block:
            _expect(block["text"], f"{where}/text", "String")


def _nova_config(config: Any, model: str) -> None:
    allowed = frozenset({"maxTokens", "temperature", "topP", "topK", "stopSequences"})
    _keys(config, "#/inferenceConfig", (), allowed)
    if "maxTokens" in config:
        high = 5000 if model.partition(".")[2].startswith(_NOVA_5K) else None
        _integer(config["maxTokens"], "#/inferenceConfig/maxTokens", 1, high)
    if "temperature" in config:
        _number(config["temperature"], "#/inferenceConfig/temperature", 0, 1, above_low=True)
    if "topP" in config:
        _number(config["topP"], "#/inferenceConfig/topP", 0, 1)
    if "topK" in config:
        _integer(config["topK"], "#/inferenceConfig/topK", 0)
    if "stopSequences" in config:
        _strings(config["stopSequences"], "#/inferenceConfig/stopSequences")


def check_nova(body: Any, model: str = "") -> None:
    allowed = frozenset({"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"})
    _keys(body, "#", ("messages",), allowed)
    if "schemaVersion" in body and body["schemaVersion"] != "messages-v1":
        raise _malformed("#/schemaVersion: messages-v1 is the only valid value")
    if "system" in body:
        _expect(body["system"], "#/system", "JSONArray")
        for index, block in enumerate(body["system"]):
            _keys(block, f"#/system/{index}", ("text",), frozenset({"text"}))
            _expect(block["text"], f"#/system/{index}/text", "String")
    _turns(body["messages"], "#/messages", _nova_content)
    if "inferenceConfig" in body:
        _nova_config(body["inferenceConfig"], model)


# -- Amazon Titan Text --


def check_titan(body: Any, model: str = "") -> None:
    _keys(body, "#", ("inputText",), frozenset({"inputText", "textGenerationConfig"}))
    _expect(body["inputText"], "#/inputText", "String")
    config = body.get("textGenerationConfig")
    if config is None:
        return
    allowed = frozenset({"temperature", "topP", "maxTokenCount", "stopSequences"})
    _keys(config, "#/textGenerationConfig", (), allowed)
    for name in ("temperature", "topP"):
        if name in config:
            _number(config[name], f"#/textGenerationConfig/{name}", 0, 1)
    if "maxTokenCount" in config:
        size = next((s for s in _TITAN_MAX_TOKENS if f"titan-text-{s}" in model), "express")
        high = _TITAN_MAX_TOKENS[size]
        _integer(config["maxTokenCount"], "#/textGenerationConfig/maxTokenCount", 0, high)
    if "stopSequences" in config:
        _strings(config["stopSequences"], "#/textGenerationConfig/stopSequences")


# -- Converse --


def check_converse(body: Any, model_id: str) -> None:
    """The Converse request, checked by botocore's own model (values never echoed)."""
    if not isinstance(body, Mapping):
        raise _malformed(f"#: expected type: JSONObject, found: {_type_name(body)}")
    try:
        check_request(
            "bedrock-runtime", "Converse", {**body, "modelId": model_id}, echo_values=False
        )
    except ClientError as err:
        raise BodyError(err.response["Error"]["Message"]) from None
    messages = body.get("messages") or []
    if not messages:
        raise BodyError("A conversation must start with a user message. Try again.")
    if messages[0].get("role") != "user":
        raise BodyError("A conversation must start with a user message. Try again.")


def check_body(fmt: str, body: Any, model_id: str) -> None:
    """Raise :class:`BodyError` for a body the model ``model_id`` refuses in format ``fmt``."""
    model = foundation_model(model_id)
    if fmt == ANTHROPIC:
        check_anthropic(body)
    elif fmt == LLAMA:
        check_llama(body)
    elif fmt == NOVA:
        check_nova(body, model)
    elif fmt == TITAN:
        check_titan(body, model)
    elif fmt == CONVERSE:
        check_converse(body, model_id)
    else:
        raise BodyError(f"The provided model identifier is invalid or not served: {model}")
