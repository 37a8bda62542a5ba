"""The generated text and token counts of one Bedrock response body, per body format.

A batch output line's ``modelOutput`` is the ``InvokeModel`` response body of the model (or the
Converse response for Converse jobs: "View the results of a batch inference job", Bedrock user
guide). Response fields, from the same model parameter pages as ``model_input``:

- Anthropic Messages: ``content`` (blocks ``{"type": "text", "text"}``), ``stop_reason``,
  ``usage.input_tokens`` / ``usage.output_tokens``;
- Meta Llama: ``generation``, ``prompt_token_count``, ``generation_token_count``, ``stop_reason``;
- Amazon Nova and Converse: ``output.message.content`` (blocks ``{"text"}``), ``stopReason``,
  ``usage.inputTokens`` / ``usage.outputTokens``;
- Amazon Titan Text: ``inputTextTokenCount``, ``results[0].outputText``, ``results[0].tokenCount``,
  ``results[0].completionReason``.

A body without the text is a :class:`ModelOutputError` naming the field, never the body (it holds
report text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from radimpress.bedrock.model_input import BodyFormat


class ModelOutputError(ValueError):
    """A response body lacks the generated text where its format puts it."""


@dataclass(frozen=True)
class ModelAnswer:
    """What one response says: the text, why generation stopped, and its token counts (None when
    the body does not report them)."""

    text: str
    stop_reason: str | None
    input_tokens: int | None
    output_tokens: int | None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text_blocks(blocks: Any, where: str, typed: bool) -> str:
    """The text of a content block list (Anthropic blocks carry ``type``; Nova's do not)."""
    if not isinstance(blocks, list):
        raise ModelOutputError(f"{where} is not a list")
    texts = [
        block["text"]
        for block in blocks
        if isinstance(block, Mapping)
        and isinstance(block.get("text"), str)
        and (not typed or block.get("type") == "text")
    ]
    if not texts:
        raise ModelOutputError(f"{where} holds no text block")
    return "".join(texts)


def _anthropic(body: Mapping[str, Any]) -> ModelAnswer:
    usage = _mapping(body.get("usage"))
    return ModelAnswer(
        text=_text_blocks(body.get("content"), "content", typed=True),
        stop_reason=body.get("stop_reason") if isinstance(body.get("stop_reason"), str) else None,
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
    )


def _llama(body: Mapping[str, Any]) -> ModelAnswer:
    text = body.get("generation")
    if not isinstance(text, str):
        raise ModelOutputError("generation is missing or not a string")
    return ModelAnswer(
        text=text,
        stop_reason=body.get("stop_reason") if isinstance(body.get("stop_reason"), str) else None,
        input_tokens=_count(body.get("prompt_token_count")),
        output_tokens=_count(body.get("generation_token_count")),
    )


def _messages(body: Mapping[str, Any]) -> ModelAnswer:
    output = body.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    if not isinstance(message, Mapping):
        raise ModelOutputError("output.message is missing")
    usage = _mapping(body.get("usage"))
    return ModelAnswer(
        text=_text_blocks(message.get("content"), "output.message.content", typed=False),
        stop_reason=body.get("stopReason") if isinstance(body.get("stopReason"), str) else None,
        input_tokens=_count(usage.get("inputTokens")),
        output_tokens=_count(usage.get("outputTokens")),
    )


def _titan(body: Mapping[str, Any]) -> ModelAnswer:
    results = body.get("results")
    first = results[0] if isinstance(results, list) and results else None
    if not isinstance(first, Mapping) or not isinstance(first.get("outputText"), str):
        raise ModelOutputError("results[0].outputText is missing or not a string")
    reason = first.get("completionReason")
    return ModelAnswer(
        text=first["outputText"],
        stop_reason=reason if isinstance(reason, str) else None,
        input_tokens=_count(body.get("inputTextTokenCount")),
        output_tokens=_count(first.get("tokenCount")),
    )


_READERS = {
    BodyFormat.ANTHROPIC_MESSAGES: _anthropic,
    BodyFormat.META_LLAMA3: _llama,
    BodyFormat.AMAZON_NOVA: _messages,
    BodyFormat.CONVERSE: _messages,
    BodyFormat.AMAZON_TITAN_TEXT: _titan,
}


def read_answer(fmt: BodyFormat, body: Any) -> ModelAnswer:
    """The answer in one response body of ``fmt``; the text is stripped of surrounding space."""
    if not isinstance(body, Mapping):
        raise ModelOutputError("the response body is not a JSON object")
    answer = _READERS[fmt](body)
    return ModelAnswer(
        answer.text.strip(), answer.stop_reason, answer.input_tokens, answer.output_tokens
    )
