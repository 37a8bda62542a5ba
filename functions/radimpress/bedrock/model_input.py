"""The request body a Bedrock model takes for one prompt: its family's ``InvokeModel`` body, or the
``Converse`` request.

A batch inference job's ``modelInput`` is exactly that body ("Format and upload your batch
inference data", Bedrock user guide: the ``InvokeModel`` body of the model when the job's
``modelInvocationType`` is ``InvokeModel``, the Converse request body when it is ``Converse``).
The field names below were checked against the Bedrock user guide's model parameter pages:

- Anthropic Claude Messages API ("Anthropic Claude Messages API: request and response",
  model-parameters-anthropic-claude-messages-request-response.html): ``anthropic_version``
  (must be ``bedrock-2023-05-31``), ``max_tokens`` and ``messages`` required; ``system`` (a
  string) and ``temperature`` optional; content blocks ``{"type": "text", "text": ...}``.
- Meta Llama (model-parameters-meta.html): ``prompt`` required, ``temperature``, ``top_p``,
  ``max_gen_len`` optional; Llama 3.x Instruct models want the prompt in Meta's chat template
  (``<|begin_of_text|><|start_header_id|>system<|end_header_id|>`` ..., llama.com "Llama 3
  model card and prompt formats"). Llama 2 and Llama 4 use other templates: use Converse.
- Amazon Nova (Nova user guide, "Complete request schema"): ``messages`` (content blocks
  ``{"text": ...}``), ``system`` (a list of ``{"text": ...}``), ``inferenceConfig``
  (``maxTokens``, ``temperature``, ``topP``, ``topK``, ``stopSequences``); ``schemaVersion:
  messages-v1`` names the schema. Its temperature must be above 0 (documented range (0, 1]).
- Amazon Titan Text (model-parameters-titan-text.html): ``inputText`` required,
  ``textGenerationConfig`` with ``maxTokenCount``, ``temperature``, ``topP``, ``stopSequences``.
  Titan has no system field: the instruction goes first in ``inputText``, then the page's
  conversational form ``User: <prompt>\nBot:``.
- Converse (Bedrock API reference, ``Converse``; botocore's ``bedrock-runtime`` model):
  ``messages``, ``system`` (list of ``{"text": ...}``), ``inferenceConfig`` (``maxTokens``,
  ``temperature``, ``topP``, ``stopSequences``); ``modelId`` is the job's, not the body's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ANTHROPIC_VERSION = "bedrock-2023-05-31"
NOVA_SCHEMA_VERSION = "messages-v1"

# The two values of CreateModelInvocationJob's ``modelInvocationType`` (botocore's bedrock model).
INVOKE_MODEL = "InvokeModel"
CONVERSE = "Converse"
INVOCATION_TYPES = (INVOKE_MODEL, CONVERSE)

# Geography prefixes of cross-Region inference profile ids ("us.anthropic.claude-...").
_PROFILE_GEOGRAPHIES = frozenset({"us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"})
# Amazon Nova models that do not generate text from a text prompt.
_NOVA_NOT_TEXT = ("nova-canvas", "nova-reel", "nova-sonic")


class BodyFormat(StrEnum):
    """The request/response body a model takes."""

    ANTHROPIC_MESSAGES = "anthropic-messages"
    META_LLAMA3 = "meta-llama3"
    AMAZON_NOVA = "amazon-nova"
    AMAZON_TITAN_TEXT = "amazon-titan-text"
    CONVERSE = "converse"


class ModelFormatError(ValueError):
    """The model id names no body format we can write (say the format or use Converse)."""


@dataclass(frozen=True)
class Prompt:
    """One request's text: the instruction (system) and the user turn."""

    system: str
    user: str


@dataclass(frozen=True)
class Generation:
    """How much to generate and how randomly (the template parameters)."""

    max_tokens: int
    temperature: float

    def __post_init__(self) -> None:
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int):
            raise ValueError("max_tokens must be an integer")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if not math.isfinite(self.temperature) or not 0 <= self.temperature <= 1:
            raise ValueError(f"temperature must be within [0, 1], got {self.temperature}")


def base_model_id(model_id: str) -> str:
    """The foundation model id behind a model id, inference profile id or their ARNs
    (``arn:...:inference-profile/us.anthropic.claude-x`` -> ``anthropic.claude-x``)."""
    resource = model_id.split("/", 1)[1] if model_id.startswith("arn:") else model_id
    parts = resource.split(".")
    if len(parts) > 2 and parts[0] in _PROFILE_GEOGRAPHIES:
        parts = parts[1:]
    return ".".join(parts)


def body_format(
    model_id: str, invocation_type: str = INVOKE_MODEL, format_name: str | None = None
) -> BodyFormat:
    """The body format of a model: ``format_name`` when given (for ids that name no family,
    such as application inference profiles), else read from the model id."""
    if invocation_type not in INVOCATION_TYPES:
        raise ModelFormatError(
            f"invocation type {invocation_type!r} is not one of {', '.join(INVOCATION_TYPES)}"
        )
    if invocation_type == CONVERSE:
        return BodyFormat.CONVERSE
    if format_name:
        try:
            return BodyFormat(format_name)
        except ValueError:
            known = ", ".join(f.value for f in BodyFormat)
            raise ModelFormatError(f"body format {format_name!r} is not one of: {known}") from None
    return _format_of(base_model_id(model_id))


def _format_of(model: str) -> BodyFormat:
    provider, _, name = model.partition(".")
    if provider == "anthropic" and name.startswith("claude"):
        return BodyFormat.ANTHROPIC_MESSAGES
    if provider == "meta" and name.startswith("llama3"):
        return BodyFormat.META_LLAMA3
    if provider == "amazon" and name.startswith("nova") and not name.startswith(_NOVA_NOT_TEXT):
        return BodyFormat.AMAZON_NOVA
    if provider == "amazon" and name.startswith(("titan-text", "titan-tg1")):
        return BodyFormat.AMAZON_TITAN_TEXT
    raise ModelFormatError(
        f"model {model!r}: no InvokeModel body format is known for it here (Anthropic Claude, "
        "Meta Llama 3.x, Amazon Nova and Titan Text are); use the Converse invocation type, or "
        "name the body format"
    )


def llama3_prompt(prompt: Prompt) -> str:
    """Meta's Llama 3 Instruct chat template: system turn, user turn, then the assistant header
    the model completes."""
    return (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"{prompt.system}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        f"{prompt.user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def model_input(fmt: BodyFormat, prompt: Prompt, generation: Generation) -> dict[str, Any]:
    """The request body (batch ``modelInput``) for one prompt in ``fmt``."""
    if fmt is BodyFormat.ANTHROPIC_MESSAGES:
        return {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": generation.max_tokens,
            "system": prompt.system,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt.user}]}],
            "temperature": generation.temperature,
        }
    if fmt is BodyFormat.META_LLAMA3:
        return {
            "prompt": llama3_prompt(prompt),
            "max_gen_len": generation.max_tokens,
            "temperature": generation.temperature,
        }
    if fmt is BodyFormat.AMAZON_TITAN_TEXT:
        return {
            "inputText": f"{prompt.system}\n\nUser: {prompt.user}\nBot:",
            "textGenerationConfig": {
                "maxTokenCount": generation.max_tokens,
                "temperature": generation.temperature,
            },
        }
    if fmt is BodyFormat.AMAZON_NOVA and generation.temperature <= 0:
        raise ModelFormatError(
            "Amazon Nova's temperature must be above 0 (documented range (0, 1]); "
            "use a small value such as 0.00001 for near-greedy output"
        )
    body: dict[str, Any] = {
        "system": [{"text": prompt.system}],
        "messages": [{"role": "user", "content": [{"text": prompt.user}]}],
        "inferenceConfig": {
            "maxTokens": generation.max_tokens,
            "temperature": generation.temperature,
        },
    }
    if fmt is BodyFormat.AMAZON_NOVA:
        return {"schemaVersion": NOVA_SCHEMA_VERSION, **body}
    return body
